"""Business hours, table by table: is_open, next_opening, next_closing,
add_business_time, describe_opening and the document's validation.

Expected instants around a DST change are written in UTC, worked out by hand
(Paris is UTC+1 in winter, UTC+2 in summer; New York UTC-5 and UTC-4), so
that the module's own time-zone arithmetic is not what checks it.
Calendar: 2026-06-08 is a Monday; 2026-12-25 and 2027-01-01 are Fridays;
clocks change on 2026-03-29 and 2026-10-25 in Paris, 2026-03-08 and
2026-11-01 in New York (all Sundays).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from marshmallow import ValidationError

from gateway.handoff.hours import BusinessHours, describe_opening, validate_hours


def local(text: str, zone: str = "Europe/Paris") -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def new_york(text: str) -> datetime:
    return local(text, "America/New_York")


WORKDAY = [["09:00", "12:00"], ["13:00", "17:30"]]
# Lunch breaks, weekends off, Christmas and New Year's Day (Fridays) off.
OFFICE = {"timezone": "Europe/Paris", "weekly": {day: WORKDAY for day in ("mon", "tue", "wed", "thu", "fri")},
          "holidays": ["2026-12-25", "2027-01-01"]}
# Night desks from Sunday and Wednesday evenings; Monday 2026-06-08 and Wednesday 2026-06-17 are holidays.
NIGHTS = {"timezone": "Europe/Paris", "weekly": {"sun": [["22:00", "06:00"]], "wed": [["22:00", "06:00"]]},
          "holidays": ["2026-06-08", "2026-06-17"]}
# "24:00" ends: Thursday evening alone; Friday evening to Sunday 02:00 without a break.
LATE = {"timezone": "Europe/Paris", "weekly": {"thu": [["20:00", "24:00"]], "fri": [["18:00", "24:00"]],
                                                "sat": [["00:00", "24:00"]], "sun": [["00:00", "02:00"]]}}
NEW_YORK = {"timezone": "America/New_York",
            "weekly": {"mon": [["09:00", "17:00"]], "fri": [["09:00", "17:00"]], "sat": [["22:00", "06:00"]]}}
# Paris DST days: a night over the spring-forward hour; a range starting in the skipped hour (02:00-03:00);
# one wholly inside it; ranges around the repeated hour (02:00-03:00 twice) in October.
SPRING_NIGHT = {"timezone": "Europe/Paris", "weekly": {"sat": [["23:00", "04:00"]]}}
SKIPPED_START = {"timezone": "Europe/Paris", "weekly": {"sun": [["02:30", "10:00"]]}}
INSIDE_SKIPPED = {"timezone": "Europe/Paris", "weekly": {"sun": [["02:10", "02:40"]]}}
FALL_BACK = {"timezone": "Europe/Paris", "weekly": {"sun": [["00:00", "02:00"], ["02:30", "06:00"]]}}
ALWAYS = {}
NEVER = {"timezone": "UTC", "weekly": {}}
# No weekly schedule: open around the clock but on the holidays.
ALL_BUT_CHRISTMAS = {"timezone": "Europe/Paris", "holidays": ["2026-12-25"]}
EVERY_DAY = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ROUND_THE_CLOCK = {"timezone": "Europe/Paris", "weekly": {day: [["00:00", "24:00"]] for day in EVERY_DAY}}
HALF_DAYS = {"timezone": "Europe/Paris", "weekly": {day: [["00:00", "12:00"], ["12:00", "24:00"]] for day in EVERY_DAY}}


def hours(doc: dict) -> BusinessHours:
    return BusinessHours.from_doc(doc)


IS_OPEN = [
    pytest.param(OFFICE, local("2026-06-08 08:59"), False, id="office: a minute before opening"),
    pytest.param(OFFICE, local("2026-06-08 09:00"), True, id="office: opening minute (start inclusive)"),
    pytest.param(OFFICE, local("2026-06-08 11:59:59"), True, id="office: last second before lunch"),
    pytest.param(OFFICE, local("2026-06-08 12:00"), False, id="office: lunch starts (end exclusive)"),
    pytest.param(OFFICE, local("2026-06-08 12:59"), False, id="office: during lunch"),
    pytest.param(OFFICE, local("2026-06-08 13:00"), True, id="office: back from lunch"),
    pytest.param(OFFICE, local("2026-06-08 17:30"), False, id="office: closing minute"),
    pytest.param(OFFICE, local("2026-06-13 10:00"), False, id="office: Saturday (day left out)"),
    pytest.param(OFFICE, local("2026-12-24 10:00"), True, id="office: the day before Christmas"),
    pytest.param(OFFICE, local("2026-12-25 10:00"), False, id="office: Christmas (holiday on a weekday)"),
    pytest.param(OFFICE, local("2026-06-07 21:30", "Pacific/Honolulu"), True,
                 id="office: asked in Honolulu on Sunday evening, Monday 09:30 in Paris"),
    pytest.param(OFFICE, utc("2026-07-06 07:00"), True, id="office: 09:00 in July is 07:00 UTC"),
    pytest.param(OFFICE, utc("2026-01-05 07:30"), False, id="office: 08:30 in January is 07:30 UTC"),
    pytest.param(OFFICE, utc("2026-01-05 08:00"), True, id="office: 09:00 in January is 08:00 UTC"),
    pytest.param(NIGHTS, local("2026-06-07 21:59"), False, id="nights: Sunday before 22:00"),
    pytest.param(NIGHTS, local("2026-06-07 22:00"), True, id="nights: Sunday 22:00"),
    pytest.param(NIGHTS, local("2026-06-08 03:00"), True,
                 id="nights: holiday Monday 03:00, inside the range begun on Sunday"),
    pytest.param(NIGHTS, local("2026-06-08 06:00"), False, id="nights: Monday 06:00 (end exclusive)"),
    pytest.param(NIGHTS, local("2026-06-10 23:00"), True, id="nights: Wednesday night"),
    pytest.param(NIGHTS, local("2026-06-11 05:59"), True, id="nights: Thursday 05:59, range begun Wednesday"),
    pytest.param(NIGHTS, local("2026-06-17 23:00"), False, id="nights: holiday Wednesday closes its night"),
    pytest.param(NIGHTS, local("2026-06-18 02:00"), False, id="nights: the morning after a holiday night"),
    pytest.param(LATE, local("2026-06-11 23:59"), True, id="late: Thursday 23:59 before 24:00"),
    pytest.param(LATE, local("2026-06-12 00:00"), False, id="late: 24:00 ends Thursday"),
    pytest.param(LATE, local("2026-06-13 00:00"), True, id="late: Friday's 24:00 meets Saturday's 00:00"),
    pytest.param(LATE, local("2026-06-14 02:00"), False, id="late: Sunday 02:00"),
    pytest.param(SPRING_NIGHT, utc("2026-03-29 01:59"), True, id="spring night: 03:59 CEST still open"),
    pytest.param(SPRING_NIGHT, utc("2026-03-29 02:00"), False, id="spring night: 04:00 CEST closed"),
    pytest.param(SKIPPED_START, utc("2026-03-29 00:59"), False, id="skipped start: 01:59 CET closed"),
    pytest.param(SKIPPED_START, utc("2026-03-29 01:00"), True, id="skipped start: opens when clocks jump (03:00)"),
    pytest.param(FALL_BACK, utc("2026-10-25 00:15"), False, id="fall back: first 02:15 is in the gap"),
    pytest.param(FALL_BACK, utc("2026-10-25 00:30"), True, id="fall back: opens at the first 02:30"),
    pytest.param(FALL_BACK, utc("2026-10-25 04:59"), True, id="fall back: 05:59 CET"),
    pytest.param(NEW_YORK, utc("2026-03-09 12:59"), False, id="new york: 08:59 EDT, the Monday after the change"),
    pytest.param(NEW_YORK, utc("2026-03-09 13:00"), True, id="new york: 09:00 EDT is 13:00 UTC"),
    pytest.param(NEW_YORK, utc("2026-03-06 13:30"), False, id="new york: 08:30 EST the Friday before"),
    pytest.param(NEW_YORK, utc("2026-03-06 14:00"), True, id="new york: 09:00 EST is 14:00 UTC"),
    pytest.param(ALWAYS, local("2026-12-25 03:00"), True, id="always: {} is open on Christmas night"),
    pytest.param(NEVER, utc("2026-06-08 12:00"), False, id="never: empty weekly"),
    pytest.param(ALL_BUT_CHRISTMAS, local("2026-12-24 23:59"), True, id="no weekly: open the day before"),
    pytest.param(ALL_BUT_CHRISTMAS, local("2026-12-25 12:00"), False, id="no weekly: the holiday is closed"),
    pytest.param(ALL_BUT_CHRISTMAS, local("2026-12-26 00:00"), True, id="no weekly: open again at midnight"),
]


@pytest.mark.parametrize("doc, at, expected", IS_OPEN)
def test_is_open(doc, at, expected):
    assert hours(doc).is_open(at) is expected


NEXT_OPENING = [
    pytest.param(OFFICE, local("2026-06-08 08:59"), local("2026-06-08 09:00"), id="office: the same morning"),
    pytest.param(OFFICE, local("2026-06-08 09:00"), None, id="office: open now"),
    pytest.param(OFFICE, local("2026-06-08 12:00"), local("2026-06-08 13:00"), id="office: after lunch"),
    pytest.param(OFFICE, local("2026-06-08 17:30"), local("2026-06-09 09:00"), id="office: next morning"),
    pytest.param(OFFICE, local("2026-06-12 17:30"), local("2026-06-15 09:00"), id="office: Friday to Monday"),
    pytest.param(OFFICE, local("2026-12-24 18:00"), local("2026-12-28 09:00"), id="office: over Christmas Friday"),
    pytest.param(OFFICE, local("2026-12-31 17:45"), local("2027-01-04 09:00"), id="office: over New Year"),
    pytest.param(OFFICE, local("2026-07-05 12:00"), utc("2026-07-06 07:00"), id="office: July Monday 07:00 UTC"),
    pytest.param(OFFICE, local("2026-01-04 12:00"), utc("2026-01-05 08:00"), id="office: January Monday 08:00 UTC"),
    pytest.param(OFFICE, local("2026-03-27 18:00"), utc("2026-03-30 07:00"), id="office: over the spring change"),
    pytest.param(OFFICE, local("2026-10-23 18:00"), utc("2026-10-26 08:00"), id="office: over the autumn change"),
    pytest.param(NEW_YORK, new_york("2026-03-06 18:00"), utc("2026-03-08 03:00"),
                 id="new york: Friday to Saturday 22:00 EST"),
    pytest.param(NEW_YORK, new_york("2026-03-08 07:00"), utc("2026-03-09 13:00"),
                 id="new york: Sunday to Monday 09:00 EDT"),
    pytest.param(NEW_YORK, new_york("2026-10-30 18:00"), utc("2026-11-01 02:00"),
                 id="new york: Friday to Saturday 22:00 EDT"),
    pytest.param(NEW_YORK, new_york("2026-11-01 07:00"), utc("2026-11-02 14:00"),
                 id="new york: Sunday to Monday 09:00 EST"),
    pytest.param(NIGHTS, local("2026-06-08 06:00"), local("2026-06-10 22:00"), id="nights: Monday to Wednesday"),
    pytest.param(NIGHTS, local("2026-06-17 12:00"), local("2026-06-21 22:00"),
                 id="nights: holiday Wednesday to Sunday"),
    pytest.param(SKIPPED_START, local("2026-03-21 12:00"), utc("2026-03-22 01:30"), id="skipped start: 02:30 CET"),
    pytest.param(SKIPPED_START, local("2026-03-28 12:00"), utc("2026-03-29 01:00"),
                 id="skipped start: 02:30 does not exist, opens at 03:00 CEST"),
    pytest.param(INSIDE_SKIPPED, local("2026-03-28 12:00"), utc("2026-04-05 00:10"),
                 id="inside skipped hour: that Sunday has none, the next one does"),
    pytest.param(FALL_BACK, utc("2026-10-25 00:10"), utc("2026-10-25 00:30"),
                 id="fall back: the first of two 02:30s"),
    pytest.param(ALL_BUT_CHRISTMAS, local("2026-12-25 10:00"), local("2026-12-26 00:00"), id="no weekly: holiday"),
    pytest.param(ALWAYS, utc("2026-06-08 12:00"), None, id="always: never closed"),
    pytest.param(NEVER, utc("2026-06-08 12:00"), None, id="never: nothing to open"),
]


@pytest.mark.parametrize("doc, at, expected", NEXT_OPENING)
def test_next_opening(doc, at, expected):
    assert hours(doc).next_opening(at) == expected


NEXT_CLOSING = [
    pytest.param(OFFICE, local("2026-06-08 10:00"), local("2026-06-08 12:00"), id="office: lunch"),
    pytest.param(OFFICE, local("2026-06-08 09:00"), local("2026-06-08 12:00"), id="office: at the opening"),
    pytest.param(OFFICE, local("2026-06-08 13:00"), local("2026-06-08 17:30"), id="office: afternoon"),
    pytest.param(OFFICE, local("2026-06-08 12:00"), None, id="office: closed now"),
    pytest.param(NIGHTS, local("2026-06-07 23:00"), local("2026-06-08 06:00"),
                 id="nights: Sunday night to Monday morning"),
    pytest.param(LATE, local("2026-06-11 21:00"), local("2026-06-12 00:00"), id="late: 24:00"),
    pytest.param(LATE, local("2026-06-12 19:00"), local("2026-06-14 02:00"),
                 id="late: touching ranges are one, over two midnights"),
    pytest.param(SPRING_NIGHT, local("2026-03-28 23:30"), utc("2026-03-29 02:00"),
                 id="spring night: 04:00 CEST, an hour short"),
    pytest.param(NEW_YORK, new_york("2026-03-07 23:00"), utc("2026-03-08 10:00"),
                 id="new york: night over the spring change ends 06:00 EDT"),
    pytest.param(NEW_YORK, new_york("2026-10-31 23:00"), utc("2026-11-01 11:00"),
                 id="new york: night over the autumn change ends 06:00 EST"),
    pytest.param(FALL_BACK, utc("2026-10-24 23:00"), utc("2026-10-25 00:00"),
                 id="fall back: 02:00 ends at its first occurrence"),
    pytest.param(FALL_BACK, utc("2026-10-25 01:00"), utc("2026-10-25 05:00"), id="fall back: 06:00 CET"),
    pytest.param(ALL_BUT_CHRISTMAS, local("2026-12-20 10:00"), local("2026-12-25 00:00"),
                 id="no weekly: open until the holiday"),
    pytest.param(ROUND_THE_CLOCK, local("2026-06-08 10:00"), None, id="round the clock: never closes"),
    pytest.param(HALF_DAYS, local("2026-06-08 10:00"), None,
                 id="round the clock in half days: no closing within the search"),
    pytest.param(ALWAYS, utc("2026-06-08 12:00"), None, id="always: never closes"),
    pytest.param(NEVER, utc("2026-06-08 12:00"), None, id="never: not open"),
]


@pytest.mark.parametrize("doc, at, expected", NEXT_CLOSING)
def test_next_closing(doc, at, expected):
    assert hours(doc).next_closing(at) == expected


ADD_BUSINESS_TIME = [
    pytest.param(OFFICE, local("2026-06-08 09:00"), 8, local("2026-06-09 09:30"),
                 id="office: 8 hours is a working day and a half-hour"),
    pytest.param(OFFICE, local("2026-06-08 11:30"), 1, local("2026-06-08 13:30"), id="office: over lunch"),
    pytest.param(OFFICE, local("2026-06-08 16:30"), 1, local("2026-06-08 17:30"), id="office: due at closing"),
    pytest.param(OFFICE, local("2026-06-08 20:00"), 1, local("2026-06-09 10:00"), id="office: opened at night"),
    pytest.param(OFFICE, local("2026-06-08 20:00"), 0, local("2026-06-09 09:00"), id="office: none: at opening"),
    pytest.param(OFFICE, local("2026-06-12 16:00"), 2, local("2026-06-15 09:30"), id="office: over the weekend"),
    pytest.param(OFFICE, local("2026-12-24 17:00"), 1, local("2026-12-28 09:30"), id="office: over Christmas"),
    pytest.param(OFFICE, local("2026-03-27 17:00"), 1, utc("2026-03-30 07:30"), id="office: over the spring change"),
    pytest.param(NIGHTS, local("2026-06-07 23:00"), 8, local("2026-06-10 23:00"),
                 id="nights: 7 hours Sunday night, 1 Wednesday night"),
    pytest.param(SPRING_NIGHT, local("2026-03-28 23:00"), 4, utc("2026-03-29 02:00"),
                 id="spring night: its 4 hours end at closing"),
    pytest.param(SPRING_NIGHT, local("2026-03-28 23:00"), 5, utc("2026-04-04 22:00"),
                 id="spring night: the fifth hour is the next Saturday"),
    pytest.param(FALL_BACK, local("2026-10-25 00:00"), 3, utc("2026-10-25 01:30"),
                 id="fall back: 2 hours, the gap, 1 hour"),
    pytest.param(NEW_YORK, new_york("2026-03-06 16:00"), 9, utc("2026-03-09 14:00"),
                 id="new york: 1 hour Friday, 7 over the changing night, 1 Monday"),
    pytest.param(ALWAYS, local("2026-03-28 20:00"), 8, utc("2026-03-29 03:00"),
                 id="always: plain addition, 8 real hours over the change"),
    pytest.param(NEVER, utc("2026-06-08 12:00"), 8, utc("2026-06-08 20:00"), id="never: plain addition"),
]


@pytest.mark.parametrize("doc, start, business_hours, expected", ADD_BUSINESS_TIME)
def test_add_business_time(doc, start, business_hours, expected):
    assert hours(doc).add_business_time(start, timedelta(hours=business_hours)) == expected


def test_add_business_time_refuses_a_negative_duration():
    with pytest.raises(ValueError, match="negative"):
        hours(OFFICE).add_business_time(local("2026-06-08 10:00"), timedelta(hours=-1))


DESCRIBE_OPENING = [
    pytest.param(OFFICE, local("2026-06-08 14:00"), local("2026-06-08 12:10"), "later today at 2:00 PM (Paris time)",
                 id="later today"),
    pytest.param(OFFICE, local("2026-06-09 09:00"), local("2026-06-08 18:00"), "tomorrow at 9:00 AM (Paris time)",
                 id="tomorrow"),
    pytest.param(OFFICE, local("2026-06-15 09:00"), local("2026-06-12 18:00"), "on Monday at 9:00 AM (Paris time)",
                 id="over the weekend"),
    pytest.param(OFFICE, local("2026-06-14 09:05"), local("2026-06-08 18:00"), "on Sunday at 9:05 AM (Paris time)",
                 id="six days: the weekday"),
    pytest.param(OFFICE, local("2026-06-15 09:00"), local("2026-06-08 18:00"),
                 "on Monday, June 15 at 9:00 AM (Paris time)", id="seven days: the date"),
    pytest.param(OFFICE, local("2026-01-02 09:00"), local("2025-12-24 18:00"),
                 "on Friday, January 2 at 9:00 AM (Paris time)", id="over the new year, no year"),
    pytest.param(OFFICE, local("2027-01-04 09:00"), local("2026-06-08 18:00"),
                 "on Monday, January 4, 2027 at 9:00 AM (Paris time)", id="months away: the year"),
    pytest.param(OFFICE, local("2026-06-09 00:30"), local("2026-06-08 18:00"), "tomorrow at 12:30 AM (Paris time)",
                 id="half past midnight"),
    pytest.param(OFFICE, local("2026-06-08 12:00"), local("2026-06-08 11:00"), "later today at 12:00 PM (Paris time)",
                 id="noon"),
    pytest.param(NEW_YORK, new_york("2026-06-09 09:00"), utc("2026-06-09 02:00"),
                 "tomorrow at 9:00 AM (New York time)", id="the team's date, not UTC's: Monday 22:00 in New York"),
    pytest.param({"timezone": "America/Argentina/Buenos_Aires", "weekly": {}},
                 utc("2026-06-08 12:00"), utc("2026-06-08 11:00"), "later today at 9:00 AM (Buenos Aires time)",
                 id="last part of the zone name"),
    pytest.param(NEVER, utc("2026-06-08 17:00"), utc("2026-06-08 11:00"), "later today at 5:00 PM (UTC)", id="UTC"),
    pytest.param({"timezone": "Etc/UTC", "weekly": {}}, utc("2026-06-08 17:00"), utc("2026-06-08 11:00"),
                 "later today at 5:00 PM (UTC)", id="Etc/UTC"),
]


@pytest.mark.parametrize("doc, opening, now, expected", DESCRIBE_OPENING)
def test_describe_opening(doc, opening, now, expected):
    assert describe_opening(opening, now, hours(doc)) == expected


def test_describe_opening_refuses_an_opening_in_the_past():
    with pytest.raises(ValueError, match="before now"):
        describe_opening(local("2026-06-08 09:00"), local("2026-06-08 10:00"), hours(OFFICE))


NOT_A_ZONE = "is not an IANA time zone name like 'Europe/Paris' or 'America/New_York'"
INVALID = [
    pytest.param({"timezone": "Europe/Paris", "weekly": {"mon": [["25:00", "17:00"]]}},
                 {"weekly": {"mon[0]": ["'25:00' is not a time HH:MM"]}}, id="hour 25"),
    pytest.param({"timezone": "Europe/Paris", "weekly": {"tue": [["09:00", "12:00"], ["9:00", "17:00"]]}},
                 {"weekly": {"tue[1]": ["'9:00' is not a time HH:MM"]}}, id="one digit hour"),
    pytest.param({"timezone": "Europe/Paris", "weekly": {"mon": [["17:00", "24:01"]]}},
                 {"weekly": {"mon[0]": ["'24:01' is not a time HH:MM"]}}, id="past 24:00"),
    pytest.param({"timezone": "Europe/Paris", "weekly": {"mon": [["24:00", "06:00"]]}},
                 {"weekly": {"mon[0]": ["'24:00' only ends a range; a range starting at midnight starts at '00:00'"]}},
                 id="24:00 start"),
    pytest.param({"timezone": "Europe/Paris", "weekly": {"mon": [["09:00", "09:00"]]}},
                 {"weekly": {"mon[0]": ['09:00-09:00 is empty; the whole day is ["00:00", "24:00"]']}},
                 id="empty range"),
    pytest.param({"timezone": "Europe/Paris", "weekly": {"wed": [["09:00"]], "thu": [[9, 17]]}},
                 {"weekly": {"wed[0]": ['["09:00"] is not a range [start, end] like ["09:00", "17:30"]'],
                             "thu[0]": ["9 is not a time HH:MM"]}}, id="not pairs of times"),
    pytest.param({"timezone": "Europe/Paris", "weekly": {"monday": [], "fri": "9-5"}},
                 {"weekly": {"monday": ["not a day; the days are mon, tue, wed, thu, fri, sat, sun"],
                             "fri": ['a list of ranges like [["09:00", "17:30"]], or [] for closed']}},
                 id="unknown day, not a list"),
    pytest.param({"timezone": "Europe/Paris", "weekly": [["09:00", "17:00"]]},
                 {"weekly": ["a map of days (mon, tue, wed, thu, fri, sat, sun) to lists of [start, end] ranges"]},
                 id="weekly not a map"),
    pytest.param({"timezone": "Europe/Paris", "weekly": {"mon": [["09:00", "12:00"], ["11:00", "13:00"]]}},
                 {"weekly": {"mon[1]": ["11:00-13:00 overlaps mon[0] 09:00-12:00"]}}, id="overlap in a day"),
    pytest.param({"timezone": "Europe/Paris", "weekly": {"mon": [["11:00", "13:00"], ["09:00", "12:00"]]}},
                 {"weekly": {"mon[1]": ["09:00-12:00 overlaps mon[0] 11:00-13:00"]}}, id="overlap out of order"),
    pytest.param({"timezone": "Europe/Paris", "weekly": {"mon": [["22:00", "06:00"]], "tue": [["05:00", "09:00"]]}},
                 {"weekly": {"tue[0]": ["05:00-09:00 overlaps mon[0] 22:00-06:00"]}}, id="night overlaps next day"),
    pytest.param({"timezone": "Europe/Paris", "weekly": {"mon": [["05:00", "09:00"]], "sun": [["22:00", "06:00"]]}},
                 {"weekly": {"sun[0]": ["22:00-06:00 overlaps mon[0] 05:00-09:00"]}},
                 id="Sunday night overlaps Monday"),
    pytest.param({"weekly": {"mon": [["09:00", "17:00"]]}},
                 {"timezone": ["required with weekly hours or holidays, which are local times: e.g. 'Europe/Paris'"]},
                 id="weekly without timezone"),
    pytest.param({"holidays": ["2026-12-25"]},
                 {"timezone": ["required with weekly hours or holidays, which are local times: e.g. 'Europe/Paris'"]},
                 id="holidays without timezone"),
    pytest.param({"timezone": "Europe/Pariss", "weekly": {}},
                 {"timezone": [f"'Europe/Pariss' {NOT_A_ZONE}"]}, id="misspelt zone"),
    pytest.param({"timezone": "localtime"}, {"timezone": [f"'localtime' {NOT_A_ZONE}"]}, id="the server's zone"),
    pytest.param({"timezone": "UTC", "holidays": ["2026-12-25", "25/12/2026", "2026-02-30"]},
                 {"holidays": {1: ["not a date YYYY-MM-DD"], 2: ["not a date YYYY-MM-DD"]}}, id="bad dates"),
    pytest.param({"timezone": "UTC", "hours": {}}, {"hours": ["Unknown field."]}, id="unknown field"),
    pytest.param(["09:00", "17:00"], {"_schema": ["business hours are a JSON object ({} for always open)"]},
                 id="not an object"),
]


@pytest.mark.parametrize("doc, messages", INVALID)
def test_invalid_documents(doc, messages):
    with pytest.raises(ValidationError) as error:
        validate_hours(doc)
    assert error.value.messages == messages


VALID = [
    pytest.param({}, {}, id="empty: always open"),
    pytest.param({"timezone": "Europe/Paris", "weekly": {"tue": [["13:00", "17:00"], ["09:00", "12:00"]],
                                                         "mon": [["12:00", "24:00"], ["00:00", "12:00"]]},
                  "holidays": ["2027-01-01", "2026-12-25", "2026-12-25"]},
                 {"timezone": "Europe/Paris",
                  "weekly": {"mon": [["00:00", "12:00"], ["12:00", "24:00"]],
                             "tue": [["09:00", "12:00"], ["13:00", "17:00"]],
                             "wed": [], "thu": [], "fri": [], "sat": [], "sun": []},
                  "holidays": ["2026-12-25", "2027-01-01"]}, id="days filled in, ranges and holidays in order"),
    pytest.param({"timezone": "UTC", "weekly": {"sun": [["22:00", "06:00"]], "mon": [["06:00", "09:00"]]}},
                 {"timezone": "UTC", "weekly": {"mon": [["06:00", "09:00"]], "tue": [], "wed": [], "thu": [],
                                                "fri": [], "sat": [], "sun": [["22:00", "06:00"]]}},
                 id="Sunday night touching Monday"),
]


@pytest.mark.parametrize("doc, normalized", VALID)
def test_valid_documents_are_normalized(doc, normalized):
    assert validate_hours(doc) == normalized


@pytest.mark.parametrize("doc, expected", [
    pytest.param(ALWAYS, True, id="{}"),
    pytest.param({"timezone": "Europe/Paris"}, True, id="a zone alone"),
    pytest.param(ROUND_THE_CLOCK, True, id="every day 00:00-24:00"),
    pytest.param(ALL_BUT_CHRISTMAS, False, id="holidays"),
    pytest.param(NEVER, False, id="empty weekly"),
    pytest.param(OFFICE, False, id="office"),
])
def test_always_open(doc, expected):
    assert hours(doc).always_open is expected


def test_from_doc_compiles_each_document_once():
    reordered = {"holidays": list(OFFICE["holidays"]), "weekly": dict(OFFICE["weekly"]), "timezone": "Europe/Paris"}
    assert BusinessHours.from_doc(reordered) is BusinessHours.from_doc(OFFICE)
    assert BusinessHours.from_doc(NIGHTS) is not BusinessHours.from_doc(OFFICE)


def test_from_doc_refuses_an_invalid_document():
    with pytest.raises(ValidationError):
        BusinessHours.from_doc({"timezone": "Mars/Olympus_Mons", "weekly": {}})


NAIVE = datetime(2026, 6, 8, 10, 0)


@pytest.mark.parametrize("call", [
    pytest.param(lambda hours: hours.is_open(NAIVE), id="is_open"),
    pytest.param(lambda hours: hours.next_opening(NAIVE), id="next_opening"),
    pytest.param(lambda hours: hours.next_closing(NAIVE), id="next_closing"),
    pytest.param(lambda hours: hours.add_business_time(NAIVE, timedelta(hours=1)), id="add_business_time"),
    pytest.param(lambda hours: describe_opening(NAIVE, local("2026-06-08 09:00"), hours), id="describe_opening"),
])
@pytest.mark.parametrize("doc", [pytest.param(OFFICE, id="office"), pytest.param(ALWAYS, id="always")])
def test_naive_datetimes_are_refused(call, doc):
    with pytest.raises(ValueError, match="timezone-aware"):
        call(hours(doc))


def mondays_off(weeks: int) -> dict:
    """Open on Mondays only, with the next `weeks` Mondays (from 2026-06-08) holidays."""
    first = datetime(2026, 6, 8)
    return {"timezone": "Europe/Paris", "weekly": {"mon": [["09:00", "17:00"]]},
            "holidays": [(first + timedelta(weeks=week)).date().isoformat() for week in range(weeks)]}


def test_next_opening_looks_past_most_of_a_year_of_holidays():
    # 45 weeks: 315 days ahead, within the ~400 days searched.
    assert hours(mondays_off(45)).next_opening(local("2026-06-07 12:00")) == local("2027-04-19 09:00")


def test_next_opening_gives_up_past_the_search_but_business_time_still_adds_up():
    closed_for_60_weeks = hours(mondays_off(60))
    assert closed_for_60_weeks.next_opening(local("2026-06-07 12:00")) is None
    assert closed_for_60_weeks.add_business_time(local("2026-06-07 12:00"), timedelta(hours=1)) == \
        local("2027-08-02 10:00")
