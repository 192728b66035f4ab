"""gateway.handoff.availability: the one answer to "can this team take it live
now?", and the wait a customer is told."""

from datetime import datetime, timezone

import pytest

from gateway.handoff.availability import CLOSED, NOBODY_ONLINE, availability, estimate_wait_minutes
from gateway.handoff.hours import BusinessHours

MONDAY_10 = datetime(2026, 11, 30, 10, 0, tzinfo=timezone.utc)
SUNDAY_10 = datetime(2026, 11, 29, 10, 0, tzinfo=timezone.utc)
WEEKDAYS = BusinessHours.from_doc({"timezone": "UTC", "weekly": {day: [["09:00", "17:00"]]
                                                                 for day in ("mon", "tue", "wed", "thu", "fri")}})


@pytest.mark.parametrize("now, online, live, why_not", [
    (MONDAY_10, 2, True, None),
    (MONDAY_10, 0, False, NOBODY_ONLINE),
    (SUNDAY_10, 2, False, CLOSED),
    (SUNDAY_10, 0, False, CLOSED),                  # closed says more than nobody online
])
def test_live_needs_open_hours_and_someone_online(now, online, live, why_not):
    answer = availability(WEEKDAYS, online, now)
    assert (answer.live, answer.why_not) == (live, why_not)


@pytest.mark.parametrize("position, online, median, samples, minutes", [
    (1, 1, None, 0, 3),          # no history yet: 3 minutes a round
    (1, 1, 120, 2, 3),           # too few samples to trust the median
    (1, 1, 120, 3, 2),
    (3, 1, 120, 5, 6),           # three rounds ahead with one agent
    (3, 2, 120, 5, 4),           # two agents serve two at a time: two rounds
    (1, 1, 5, 10, 1),            # never "0 minutes"
])
def test_the_wait_is_the_median_for_each_round_ahead(position, online, median, samples, minutes):
    assert estimate_wait_minutes(position, online, median, samples) == minutes
    answer = availability(WEEKDAYS, online, MONDAY_10, median_reply_seconds=median, samples=samples)
    assert answer.wait_minutes(position) == minutes
