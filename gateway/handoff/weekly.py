"""The compact weekly syntax of business hours, as admins type it (the
settings page, `handoff team hours --weekly`): "mon-fri 09:00-17:30",
"sat 10:00-14:00", "mon,wed 09:00-12:00,13:00-17:00"; and back."""

from __future__ import annotations

import re

from marshmallow import ValidationError

from gateway.handoff.hours import DAY_NAMES, DAYS, validate_hours

_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")
_DAY_WORDS = {**{day: day for day in DAYS}, **{name.lower(): day for name, day in zip(DAY_NAMES, DAYS)}}
_EXAMPLE = "like 'mon-fri 09:00-17:30', 'sat 10:00-14:00' or 'mon,wed 09:00-12:00,13:00-17:00'"


def _day(word: str) -> int:
    if word not in _DAY_WORDS:
        raise ValueError(f"{word!r} is not a day: use {', '.join(DAYS)}")
    return DAYS.index(_DAY_WORDS[word])


def parse_days(text: str) -> list[str]:
    """"mon-fri" / "mon,wed" / "fri-mon" (round the weekend) / "sat" -> day keys, Monday first."""
    days: set[int] = set()
    for part in text.split(","):
        first, dash, last = part.partition("-")
        start = _day(first)
        length = (_day(last) - start) % 7 + 1 if dash else 1
        days.update((start + offset) % 7 for offset in range(length))
    return [DAYS[index] for index in sorted(days)]


def _clock(text: str) -> str:
    """"9:00" -> "09:00"; anything else is left for the hours schema to name."""
    match = _CLOCK.fullmatch(text)
    return f"{int(match[1]):02d}:{match[2]}" if match else text


def parse_ranges(text: str) -> list[list[str]]:
    """"09:00-12:00,13:00-17:00" -> [["09:00", "12:00"], ["13:00", "17:00"]]; "closed" -> []."""
    if text == "closed":
        return []
    ranges = []
    for part in text.split(","):
        start, dash, end = part.partition("-")
        if not dash or not start or not end:
            raise ValueError(f"{part!r} is not a range of times like 09:00-17:30")
        ranges.append([_clock(start), _clock(end)])
    return ranges


def parse_weekly(specs: list[str]) -> dict[str, list[list[str]]]:
    """--weekly values -> the "weekly" of a business hours document. Days named
    by several specs get all their ranges; days none names are closed. The
    times themselves are checked by the hours schema."""
    weekly: dict[str, list[list[str]]] = {}
    for spec in specs:
        # "mon - fri 9:00 - 17:30" reads as "mon-fri 9:00-17:30".
        words = re.sub(r"\s*([-,])\s*", r"\1", spec.strip().lower()).split()
        if len(words) != 2:
            raise ValueError(f"{spec!r}: give days and times, {_EXAMPLE}")
        try:
            days, ranges = parse_days(words[0]), parse_ranges(words[1])
            # One day first, so that a bad time is reported once, not once per day.
            validate_hours({"timezone": "UTC", "weekly": {days[0]: ranges}})
        except ValueError as error:
            raise ValueError(f"{spec!r}: {error}") from None
        except ValidationError as error:
            problems = [message for messages in error.messages["weekly"].values() for message in messages]
            raise ValueError(f"{spec!r}: {'; '.join(problems)}") from None
        for day in days:
            weekly.setdefault(day, []).extend(ranges)
    return weekly


def compact_weekly(weekly: dict[str, list[list[str]]]) -> list[tuple[str, str]]:
    """The inverse of parse_weekly: (days, ranges) pairs, days with the same
    ranges together ("mon-fri", "09:00-12:00,13:00-17:30"); closed days as "closed"."""
    groups: dict[str, list[int]] = {}
    for index, day in enumerate(DAYS):
        ranges = ",".join(f"{start}-{end}" for start, end in weekly.get(day, [])) or "closed"
        groups.setdefault(ranges, []).append(index)
    return [(_day_runs(indexes), ranges) for ranges, indexes in groups.items()]


def _day_runs(indexes: list[int]) -> str:
    """[0, 1, 2, 4] -> "mon-wed,fri"."""
    runs: list[list[int]] = []
    for index in indexes:
        if runs and runs[-1][-1] == index - 1:
            runs[-1].append(index)
        else:
            runs.append([index])
    return ",".join(DAYS[run[0]] if len(run) == 1 else f"{DAYS[run[0]]}-{DAYS[run[-1]]}" for run in runs)
