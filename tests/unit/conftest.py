"""Tests of pure modules: no database, Redis or provider stand-ins, so
`pytest tests/unit` runs them in seconds on any machine."""

import pytest


@pytest.fixture(autouse=True)
def clean_state():
    """Replaces the suite's: there is no database or Redis to empty."""
    yield
