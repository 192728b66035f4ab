"""Blueprints: webhooks, widget, inbox, admin API, operations."""
