"""Business hours: when a team is open, in the team's own time zone.

A team's hours are a JSON document (teams.hours), checked by HoursSchema when
an admin saves it:

    {"timezone": "Europe/Paris",
     "weekly": {"mon": [["09:00", "12:00"], ["13:00", "17:30"]], ..., "sun": []},
     "holidays": ["2026-12-25"]}

- {} (a new team's default) is always open: a small business that never set
  hours is never told "we're closed".
- Without "weekly" every day is open all day but the holidays; with it, a day
  it leaves out is closed.
- A range includes its start, not its end. "24:00" ends a day; an end before
  the start is on the next day: ["22:00", "06:00"].
- A holiday closes the ranges that start on that local date: the night range
  that began the evening before still runs to its end.
- Times are the team's wall-clock times: one the clocks skip (02:30 on a
  spring-forward day) is the moment they jump (03:00), when the team really
  opens or closes; one they repeat (falling back) is its first occurrence (fold=0).

Pure: no clock, no database. Every datetime in is timezone-aware (ValueError
otherwise), every datetime out is in UTC.
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, available_timezones

from marshmallow import Schema, ValidationError, fields, post_load, validates_schema

from gateway.handoff import wording

log = logging.getLogger(__name__)

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")        # date.weekday() order
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")  # as admins write them
DAY_MINUTES = 24 * 60
WEEK_MINUTES = 7 * DAY_MINUTES
ALL_DAY = ((0, DAY_MINUTES),)
ALL_WEEK = (ALL_DAY,) * 7
# How far next_opening and next_closing look ahead: past a year of holidays.
SEARCH_DAYS = 400
_TIME = re.compile(r"(?:[01]\d|2[0-3]):[0-5]\d|24:00")
# Names the zone database has that are no place's time: the server's own zone, a placeholder.
_NOT_TEAM_ZONES = {"localtime", "Factory"}
_UTC_PLACES = {"UTC", "UCT", "Universal", "Zulu", "GMT", "GMT0", "Greenwich"}


# --- the document ----------------------------------------------------------------------

def _minutes(text) -> int | None:
    """"17:30" -> 1050; None for anything that is not HH:MM (or 24:00)."""
    if isinstance(text, str) and _TIME.fullmatch(text):
        return int(text[:2]) * 60 + int(text[3:])
    return None


def _span(start: str, end: str) -> tuple[int, int]:
    """A valid range in minutes from its day's midnight; an end before the start is on the next day."""
    begin, finish = _minutes(start), _minutes(end)
    return begin, finish if finish > begin else finish + DAY_MINUTES


def _range_problem(pair) -> str | None:
    if not (isinstance(pair, list) and len(pair) == 2):
        return f'{json.dumps(pair)} is not a range [start, end] like ["09:00", "17:30"]'
    for text in pair:
        if _minutes(text) is None:
            return f"{text!r} is not a time HH:MM"
    start, end = pair
    if start == "24:00":
        return "'24:00' only ends a range; a range starting at midnight starts at '00:00'"
    if start == end:
        return f'{start}-{end} is empty; the whole day is ["00:00", "24:00"]'
    return None


def _overlaps(weekly: dict) -> dict[str, list[str]]:
    """Ranges that share time, a night range with the next day's too (Sunday's with Monday's)."""
    spans = []      # (place, "09:00-17:30", start, end in minutes from Monday 00:00)
    for offset, day in enumerate(DAYS):
        for index, (start, end) in enumerate(weekly.get(day, [])):
            begin, finish = _span(start, end)
            spans.append((f"{day}[{index}]", f"{start}-{end}", offset * DAY_MINUTES + begin,
                           offset * DAY_MINUTES + finish))
    errors: dict[str, list[str]] = {}
    for (place, times, start, end), (later, later_times, later_start, later_end) in itertools.combinations(spans, 2):
        if any(max(start, later_start + shift) < min(end, later_end + shift)
               for shift in (-WEEK_MINUTES, 0, WEEK_MINUTES)):
            errors.setdefault(later, []).append(f"{later_times} overlaps {place} {times}")
    return errors


class WeeklyField(fields.Field):
    """{"mon": [["09:00", "17:30"]], ...}; each problem is reported at its place: "mon[0]"."""

    def _deserialize(self, value, attr, data, **kwargs) -> dict:
        if not isinstance(value, dict):
            raise ValidationError(f"a map of days ({', '.join(DAYS)}) to lists of [start, end] ranges")
        errors: dict[str, list[str]] = {}
        for day, ranges in value.items():
            if day not in DAYS:
                errors[day] = [f"not a day; the days are {', '.join(DAYS)}"]
            elif not isinstance(ranges, list):
                errors[day] = ['a list of ranges like [["09:00", "17:30"]], or [] for closed']
            else:
                errors.update({f"{day}[{index}]": [problem] for index, pair in enumerate(ranges)
                               if (problem := _range_problem(pair))})
        errors = errors or _overlaps(value)
        if errors:
            raise ValidationError(errors)
        return {day: sorted(value.get(day, [])) for day in DAYS}


def _check_timezone(name: str) -> None:
    if name not in _team_zones():
        raise ValidationError(f"{name!r} is not an IANA time zone name like 'Europe/Paris' or 'America/New_York'")


@functools.cache
def _team_zones() -> frozenset[str]:
    return frozenset(available_timezones() - _NOT_TEAM_ZONES)


class HoursSchema(Schema):
    timezone = fields.String(validate=_check_timezone)
    weekly = WeeklyField()
    holidays = fields.List(fields.Date(error_messages={"invalid": "not a date YYYY-MM-DD"}))

    # Checked on the document as sent, so that it is said with the other fields' problems.
    @validates_schema(pass_original=True, skip_on_field_errors=False)
    def zone_of_local_times(self, data, original, **kwargs):
        if ("weekly" in original or "holidays" in original) and "timezone" not in original:
            raise ValidationError("required with weekly hours or holidays, which are local times: e.g. 'Europe/Paris'",
                                  "timezone")

    @post_load
    def as_stored(self, data, **kwargs):
        if "holidays" in data:
            data["holidays"] = sorted({day.isoformat() for day in data["holidays"]})
        return data


def validate_hours(doc: dict) -> dict:
    """The normalized document (every day of a weekly schedule listed, its ranges
    in order; holidays sorted and distinct); ValidationError lists every problem."""
    if not isinstance(doc, dict):
        raise ValidationError({"_schema": ["business hours are a JSON object ({} for always open)"]})
    return HoursSchema().load(doc)


# --- the compiled hours -----------------------------------------------------------------

def _utc(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"a timezone-aware datetime is needed, not {at!r}")
    return at.astimezone(UTC)


def _instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of a wall-clock time in `zone`: fold=0 for a repeated
    time, and a skipped one moves on, a minute at a time, to when the clocks jump."""
    while True:
        instant = wall.replace(tzinfo=zone).astimezone(UTC)
        if instant.astimezone(zone).replace(tzinfo=None) == wall:
            return instant
        wall += timedelta(minutes=1)


@dataclass(frozen=True)
class BusinessHours:
    timezone: ZoneInfo | None = None            # None only for {}: always open
    # Per weekday, Monday first: open ranges in minutes from that day's midnight
    # (an end past 1440 is on the next day).
    weekly: tuple[tuple[tuple[int, int], ...], ...] = ALL_WEEK
    holidays: frozenset[date] = frozenset()

    @classmethod
    def from_doc(cls, doc: dict) -> BusinessHours:
        """The hours of a document (ValidationError if invalid). Escalation asks
        for every conversation, so each distinct document is compiled once per process."""
        return _compiled(json.dumps(doc, sort_keys=True))

    @property
    def always_open(self) -> bool:
        return self.weekly == ALL_WEEK and not self.holidays

    def is_open(self, at: datetime) -> bool:
        at = _utc(at)
        return self.always_open or any(start <= at < end for start, end in self._ranges(at, days=2))

    def next_opening(self, at: datetime) -> datetime | None:
        """None when open at `at`, or when closed for the next SEARCH_DAYS days."""
        if self.is_open(at):
            return None
        return next((start for start, _ in self._ranges(_utc(at), SEARCH_DAYS) if start > at), None)

    def next_closing(self, at: datetime) -> datetime | None:
        """When the open time around `at` ends (ranges that touch are one); None
        when closed at `at`, always open, or open for the next SEARCH_DAYS days."""
        closing = _utc(at)
        if self.always_open or not self.is_open(closing):
            return None
        for start, end in self._ranges(closing, SEARCH_DAYS):
            if start > closing:
                return closing
            closing = max(closing, end)
        return None

    def add_business_time(self, start: datetime, duration: timedelta) -> datetime:
        """The moment `duration` of open time after `start` has passed (a ticket
        due 8 business hours after it was opened). Hours that never open have no
        business time: then it is plain addition, so a ticket still gets a due time."""
        cursor = _utc(start)
        if duration < timedelta(0):
            raise ValueError(f"business time to add cannot be negative: {duration}")
        if self.always_open or not any(self.weekly):
            return cursor + duration
        remaining = duration
        # Unbounded: a weekly range recurs every week and the holidays are finitely many.
        for opening, closing in self._ranges(cursor, days=None):
            if closing <= cursor:
                continue
            cursor = max(cursor, opening)
            if cursor + remaining <= closing:
                return cursor + remaining
            remaining -= closing - cursor
            cursor = closing
        raise AssertionError("unreachable: the ranges never end")

    def _ranges(self, at: datetime, days: int | None) -> Iterator[tuple[datetime, datetime]]:
        """The open ranges as UTC instants, in order, of `days` local dates (None:
        no end) from the day before `at`'s (whose night range may still run)."""
        first = at.astimezone(self.timezone).date() - timedelta(days=1)
        for offset in itertools.count() if days is None else range(days):
            day = first + timedelta(days=offset)
            if day in self.holidays:
                continue
            midnight = datetime.combine(day, time())
            for start, end in self.weekly[day.weekday()]:
                opening = _instant(midnight + timedelta(minutes=start), self.timezone)
                closing = _instant(midnight + timedelta(minutes=end), self.timezone)
                if opening < closing:           # empty when wholly inside a skipped hour
                    yield opening, closing


@functools.lru_cache(maxsize=256)
def _compiled(doc_json: str) -> BusinessHours:
    doc = validate_hours(json.loads(doc_json))
    if "timezone" not in doc:
        return BusinessHours()
    weekly = doc.get("weekly")
    return BusinessHours(
        timezone=ZoneInfo(doc["timezone"]),
        weekly=ALL_WEEK if weekly is None else tuple(tuple(_span(*pair) for pair in weekly[day]) for day in DAYS),
        holidays=frozenset(date.fromisoformat(day) for day in doc.get("holidays", ())),
    )


# --- what the customer is told ----------------------------------------------------------

def describe_opening(opening: datetime, now: datetime, hours: BusinessHours, language: str | None = None) -> str:
    """When the team is back, in its time zone and the customer's language
    (never the server's locale; gateway/handoff/wording.py phrases it):
    "tomorrow at 9:00 AM (Paris time)"."""
    zone = hours.timezone or ZoneInfo("UTC")
    local, today = _utc(opening).astimezone(zone), _utc(now).astimezone(zone).date()
    if opening < now:
        raise ValueError(f"the opening {opening} is before now ({now})")
    days = (local.date() - today).days
    place = zone.key.rsplit("/", 1)[-1]
    return wording.opening_words(
        days=days, weekday=local.weekday(), month=local.month, date=local.day,
        # The year only when it could be mistaken for the coming one.
        year=local.year if days > 183 else None, hour=local.hour, minute=local.minute,
        zone_place=None if place in _UTC_PLACES else place.replace("_", " "), language=language)


def team_hours(team: dict | None) -> BusinessHours:
    """The team's business hours; always open for no team, and for a stored
    document that no longer validates (logged): a bad schedule must never
    stop an escalation."""
    try:
        return BusinessHours.from_doc(team["hours"] if team else {})
    except ValidationError as error:
        log.error("team %s has invalid business hours (%s); treating it as always open", team["name"],
                  error.messages)
        return BusinessHours.from_doc({})
