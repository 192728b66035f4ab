"""channels.windows: each channel kind, with the customer's last message at
each edge of the 24-hour and 7-day windows, and when each state ends."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from channels.windows import (
    CLOSED,
    HUMAN_AGENT_ONLY,
    OPEN,
    TEMPLATE_REQUIRED,
    window_state,
)

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=timezone.utc)
NEVER = None
AGES = {"never": NEVER, "1h": timedelta(hours=1), "23h59": timedelta(hours=23, minutes=59),
        "24h01": timedelta(hours=24, minutes=1), "6d": timedelta(days=6),
        "7d1min": timedelta(days=7, minutes=1)}



def last_message(age: str) -> datetime | None:
    return None if AGES[age] is NEVER else NOW - AGES[age]


def plus(age: str, delta: timedelta) -> datetime:
    return last_message(age) + delta


DAY, WEEK = timedelta(hours=24), timedelta(days=7)

# kind, age of the customer's last message -> state, when that state ends (None: never)
CASES = [
    ("web", "never", OPEN, None),
    ("web", "1h", OPEN, None),
    ("web", "23h59", OPEN, None),
    ("web", "24h01", OPEN, None),
    ("web", "6d", OPEN, None),
    ("web", "7d1min", OPEN, None),
    ("whatsapp", "never", TEMPLATE_REQUIRED, None),
    ("whatsapp", "1h", OPEN, ("1h", DAY)),
    ("whatsapp", "23h59", OPEN, ("23h59", DAY)),
    ("whatsapp", "24h01", TEMPLATE_REQUIRED, None),
    ("whatsapp", "6d", TEMPLATE_REQUIRED, None),
    ("whatsapp", "7d1min", TEMPLATE_REQUIRED, None),
    ("messenger", "never", CLOSED, None),
    ("messenger", "1h", OPEN, ("1h", DAY)),
    ("messenger", "23h59", OPEN, ("23h59", DAY)),
    ("messenger", "24h01", HUMAN_AGENT_ONLY, ("24h01", WEEK)),
    ("messenger", "6d", HUMAN_AGENT_ONLY, ("6d", WEEK)),
    ("messenger", "7d1min", CLOSED, None),
]


@pytest.mark.parametrize("kind, age, state, closes", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_window_state_and_when_it_closes(kind, age, state, closes):
    window = window_state(kind, last_message(age), NOW)
    assert (window.channel_kind, window.state) == (kind, state)
    assert window.closes_at == (plus(*closes) if closes else None)
    assert window.explanation


# state -> may the bot send, may a person send free text, the tag a person's reply carries
PERMISSIONS = {
    OPEN: (True, True, None),
    TEMPLATE_REQUIRED: (False, False, None),
    HUMAN_AGENT_ONLY: (False, True, "HUMAN_AGENT"),
    CLOSED: (False, False, None),
}


@pytest.mark.parametrize("kind, age, state, closes", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_what_each_state_allows(kind, age, state, closes):
    window = window_state(kind, last_message(age), NOW)
    assert (window.bot_may_send, window.agent_free_text, window.messenger_tag) == PERMISSIONS[state]


@pytest.mark.parametrize("kind, stricter", [("whatsapp", TEMPLATE_REQUIRED), ("messenger", HUMAN_AGENT_ONLY)])
def test_the_standard_window_ends_exactly_24_hours_after_the_last_message(kind, stricter):
    assert window_state(kind, NOW - DAY + timedelta(microseconds=1), NOW).state == OPEN
    assert window_state(kind, NOW - DAY, NOW).state == stricter


def test_the_human_agent_window_ends_exactly_7_days_after_the_last_message():
    assert window_state("messenger", NOW - WEEK + timedelta(microseconds=1), NOW).state == HUMAN_AGENT_ONLY
    assert window_state("messenger", NOW - WEEK, NOW).state == CLOSED


def test_as_json_is_what_the_agent_api_shows():
    window = window_state("messenger", NOW - timedelta(hours=30), NOW)
    assert window.as_json() == {
        "channel": "messenger", "state": HUMAN_AGENT_ONLY, "bot_may_send": False, "agent_free_text": True,
        "messenger_tag": "HUMAN_AGENT", "closes_at": (NOW - timedelta(hours=30) + WEEK).isoformat(),
        "explanation": window.explanation}
    assert window_state("web", None, NOW).as_json()["closes_at"] is None
