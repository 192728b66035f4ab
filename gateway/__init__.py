"""Handoff: the core and the web process."""
