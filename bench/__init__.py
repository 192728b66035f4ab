"""Benchmarks, run by `handoff bench …` (not by pytest)."""
