"""`handoff team …` and `handoff agent status|capacity`, through click's CliRunner
against the test database: the compact hours syntax by table, one-line
errors, and a presence change that gets a queued conversation assigned."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from gateway.cli import main
from gateway.cli.teams import duration_words, local_time, parse_duration
from gateway.handoff.hours import DAYS
from gateway.handoff.weekly import compact_weekly, parse_weekly
from gateway.queues import queue
from gateway.store import agents, teams
from tests.conftest import PUBLIC_URL
from tests.helpers import (
    add_agent,
    add_web_channel,
    fetch_all,
    fetch_one,
    seed_conversation,
)
from tests.test_cli import assert_one_line_error

# `handoff` as gateway/cli/__init__.py assembles it, reduced to the commands under test.

@pytest.fixture
def env(database_url, redis_url):
    return {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "PUBLIC_URL": PUBLIC_URL,
            "SECRET_KEY": "test-secret-key"}


@pytest.fixture
def handoff(env):
    runner = CliRunner()

    def invoke(*args, **env_overrides):
        return runner.invoke(main, list(args), env={**env, **env_overrides}, catch_exceptions=False)

    return invoke


@pytest.fixture
def maya(db):
    return add_agent(db, email="maya@example.com", name="Maya Lopez")


def team_row(db, name: str) -> dict:
    return fetch_one(db, "SELECT * FROM teams WHERE name = %s", name)


def ok(result) -> list[str]:
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


# --- the compact weekly syntax ----------------------------------------------------------------

WORKDAY = [["09:00", "12:00"], ["13:00", "17:30"]]

GOOD_SPECS = [
    (["mon-fri 09:00-17:30"], {day: [["09:00", "17:30"]] for day in DAYS[:5]}),
    (["mon-fri 9:00-12:00,13:00-17:30", "sat 10:00-14:00"],
     {**{day: WORKDAY for day in DAYS[:5]}, "sat": [["10:00", "14:00"]]}),
    (["mon,wed 09:00-12:00"], {"mon": [["09:00", "12:00"]], "wed": [["09:00", "12:00"]]}),
    (["Monday - Tuesday 08:00 - 16:00"], {"mon": [["08:00", "16:00"]], "tue": [["08:00", "16:00"]]}),
    (["fri-mon 22:00-06:00"], {day: [["22:00", "06:00"]] for day in ("mon", "fri", "sat", "sun")}),
    (["mon-sun 00:00-24:00"], {day: [["00:00", "24:00"]] for day in DAYS}),
    (["mon-fri 09:00-12:00", "mon-fri 13:00-17:30"], {day: WORKDAY for day in DAYS[:5]}),
    (["sun closed", "sat 10:00-12:00"], {"sun": [], "sat": [["10:00", "12:00"]]}),
]


@pytest.mark.parametrize("specs, weekly", GOOD_SPECS)
def test_compact_weekly_specs_parse(specs, weekly):
    assert parse_weekly(specs) == weekly


BAD_SPECS = [
    ("mon-fri", "'mon-fri': give days and times, like 'mon-fri 09:00-17:30'"),
    ("mon-fri 09:00-17:00 extra", "give days and times"),
    ("funday 09:00-10:00", "'funday 09:00-10:00': 'funday' is not a day: use mon, tue, wed, thu, fri, sat, sun"),
    ("mon-fri 09:00-25:00", "'mon-fri 09:00-25:00': '25:00' is not a time HH:MM"),
    ("mon 9am-5pm", "'9am' is not a time HH:MM"),
    ("mon 09:00", "'09:00' is not a range of times like 09:00-17:30"),
    ("mon 09:00-12:00,11:00-13:00", "11:00-13:00 overlaps mon[0] 09:00-12:00"),
    ("mon 10:00-10:00", '10:00-10:00 is empty; the whole day is ["00:00", "24:00"]'),
    ("mon 24:00-08:00", "'24:00' only ends a range"),
]


@pytest.mark.parametrize("spec, message", BAD_SPECS)
def test_bad_compact_weekly_specs_are_named(spec, message):
    with pytest.raises(ValueError) as raised:
        parse_weekly([spec])
    assert message in str(raised.value)


@pytest.mark.parametrize("specs, weekly", GOOD_SPECS)
def test_compact_weekly_reads_back_as_it_parses(specs, weekly):
    compact = [f"{days} {ranges}" for days, ranges in compact_weekly(weekly)]
    assert {day: ranges for day, ranges in parse_weekly(compact).items() if ranges} == {
        day: sorted(ranges) for day, ranges in weekly.items() if ranges}


def test_compact_weekly_groups_days_with_the_same_hours():
    weekly = parse_weekly(["mon,wed-fri 09:00-17:00", "sat 10:00-14:00"])
    assert compact_weekly(weekly) == [("mon,wed-fri", "09:00-17:00"), ("tue,sun", "closed"),
                                      ("sat", "10:00-14:00")]


@pytest.mark.parametrize("text, duration", [("8h", timedelta(hours=8)), ("30m", timedelta(minutes=30)),
                                            ("1h30m", timedelta(minutes=90)), ("2d", timedelta(days=2)),
                                            (" 1D2H ", timedelta(days=1, hours=2)), ("30d", timedelta(days=30))])
def test_durations_parse(text, duration):
    assert parse_duration(text) == duration


@pytest.mark.parametrize("text", ["", "8", "8x", "h", "1.5h", "0h", "31d", "-1h", "30m1h"])
def test_bad_durations_are_refused(text):
    with pytest.raises(ValueError):
        parse_duration(text)


# --- team add / list ----------------------------------------------------------------------------


def test_team_add(handoff, db):
    lines = ok(handoff("team", "add", "Billing", "--email", "billing@example.com"))
    assert lines[0] == ('added team 1 "Billing": round-robin to online agents, always open, notifications to '
                        "billing@example.com")
    assert lines[1].startswith("Next: `handoff team hours Billing --timezone")
    ok(handoff("team", "add", "Front desk", "--no-auto-assign"))
    assert fetch_all(db, "SELECT name, auto_assign, email, hours FROM teams ORDER BY id") == [
        {"name": "Billing", "auto_assign": True, "email": "billing@example.com", "hours": {}},
        {"name": "Front desk", "auto_assign": False, "email": None, "hours": {}}]


def test_team_add_errors(handoff, db):
    ok(handoff("team", "add", "Billing"))
    assert_one_line_error(handoff("team", "add", "billing"), "a team named 'billing' already exists", exit_code=1)
    assert_one_line_error(handoff("team", "add", "Sales", "--email", "nope"), "invalid team: email: not an email "
                                                                              "address", exit_code=1)
    assert_one_line_error(handoff("team", "add", " "), "invalid team: name: a team name of 1 to 100 characters")
    assert [row["name"] for row in fetch_all(db, "SELECT name FROM teams")] == ["Billing"]


def test_team_set_changes_assignment_and_email(handoff, db):
    ok(handoff("team", "add", "Billing", "--email", "billing@example.com"))
    assert ok(handoff("team", "set", "billing", "--no-auto-assign")) == [
        'team "Billing": agents claim from the queue, notifications to billing@example.com']
    assert ok(handoff("team", "set", "Billing", "--no-email", "--auto-assign")) == [
        'team "Billing": round-robin to online agents, no notification emails']
    assert ok(handoff("team", "set", "Billing", "--email", "money@example.com")) == [
        'team "Billing": round-robin to online agents, notifications to money@example.com']
    assert fetch_all(db, "SELECT auto_assign, email FROM teams") == [{"auto_assign": True, "email": "money@example.com"}]
    assert_one_line_error(handoff("team", "set", "Sales", "--auto-assign"), "no team is named 'Sales'", exit_code=1)
    assert_one_line_error(handoff("team", "set", "Billing", "--email", "nope"), "invalid team: email: not an email "
                                                                                "address", exit_code=1)
    assert handoff("team", "set", "Billing").exit_code == 2  # nothing to change


def test_team_list(handoff, db, maya):
    assert ok(handoff("team", "list")) == ["no teams yet: add one with `handoff team add NAME`"]
    add_agent(db, email="bo@example.com", name="Bo")
    ok(handoff("team", "add", "Billing", "--email", "billing@example.com"))
    ok(handoff("team", "add", "Night shift", "--no-auto-assign"))
    ok(handoff("team", "hours", "Night shift", "--timezone", "Europe/Paris", "--weekly", "mon-sun closed",
               "--holiday", "2026-12-25"))
    ok(handoff("team", "member", "add", "Billing", "--email", "maya@example.com"))
    ok(handoff("team", "member", "add", "billing", "--email", "BO@example.com"))
    ok(handoff("agent", "status", "--email", "maya@example.com", "online"))
    assert ok(handoff("team", "list")) == [
        "Billing  (team 1: round-robin to online agents, notifications to billing@example.com)",
        "  hours  always open",
        "  now    open (always); 1 of 2 members online",
        "    maya@example.com  Maya Lopez  online   0/5 conversations",
        "    bo@example.com    Bo          offline  0/5 conversations",
        "",
        "Night shift  (team 2: agents claim from the queue)",
        "  hours  Europe/Paris: closed every day; 1 holiday",
        "  now    closed, with no opening in the coming year; 0 of 0 members online",
        "  no members yet: `handoff team member add 'Night shift' --email …`"]


# --- team hours -----------------------------------------------------------------------------------


def test_team_hours_sets_the_schedule_and_prints_it(handoff, db):
    ok(handoff("team", "add", "Billing"))
    lines = ok(handoff("team", "hours", "billing", "--timezone", "Europe/Paris",
                       "--weekly", "mon-fri 9:00-12:00,13:00-17:30", "--weekly", "sat 10:00-14:00",
                       "--holiday", "2026-12-25", "--holiday", "2026-12-24"))
    assert team_row(db, "Billing")["hours"] == {
        "timezone": "Europe/Paris", "holidays": ["2026-12-24", "2026-12-25"],
        "weekly": {**{day: WORKDAY for day in DAYS[:5]}, "sat": [["10:00", "14:00"]], "sun": []}}
    assert lines[:6] == ["hours of Billing saved:",
                         "  time zone  Europe/Paris",
                         "  mon-fri    09:00-12:00, 13:00-17:30",
                         "  sat        10:00-14:00",
                         "  sun        closed",
                         "  holidays   2026-12-24, 2026-12-25"]
    assert lines[6].startswith(("now: open, closes ", "now: closed, opens ")) and lines[6].endswith("(Paris time)")
    assert len(lines) == 7


def test_team_hours_keeps_what_no_option_replaces(handoff, db):
    ok(handoff("team", "add", "Billing"))
    ok(handoff("team", "hours", "Billing", "--timezone", "Europe/Paris", "--weekly", "mon 09:00-17:00",
               "--holiday", "2026-12-25"))
    ok(handoff("team", "hours", "Billing", "--weekly", "mon-sun 00:00-24:00"))
    assert team_row(db, "Billing")["hours"] == {"timezone": "Europe/Paris", "holidays": ["2026-12-25"],
                                                "weekly": {day: [["00:00", "24:00"]] for day in DAYS}}
    lines = ok(handoff("team", "hours", "Billing", "--no-holidays"))
    assert lines[-1] == "now: open (always)"
    assert "holidays" not in team_row(db, "Billing")["hours"]
    assert ok(handoff("team", "hours", "Billing", "--always-open")) == [
        "hours of Billing saved:", "  always open (no business hours set)", "now: open (always)"]
    assert team_row(db, "Billing")["hours"] == {}
    assert ok(handoff("team", "hours", "Billing")) == [
        "hours of Billing:", "  always open (no business hours set)", "now: open (always)"]


BAD_HOURS = [
    (["--timezone", "UTC", "--weekly", "mon-fri 09:00-25:00"],
     "Invalid value for '--weekly': 'mon-fri 09:00-25:00': '25:00' is not a time HH:MM", 2),
    (["--timezone", "UTC", "--weekly", "mon-fri 09:00-17:00", "--weekly", "fri 16:00-18:00"],
     "invalid hours: weekly.fri[1]: 16:00-18:00 overlaps fri[0] 09:00-17:00", 1),
    (["--timezone", "Europe/Pariss"], "invalid hours: timezone: 'Europe/Pariss' is not an IANA time zone name", 1),
    (["--weekly", "mon-fri 09:00-17:00"], "invalid hours: timezone: required with weekly hours or holidays", 1),
    (["--timezone", "UTC", "--holiday", "25/12/2026"], "invalid hours: holidays.0: not a date YYYY-MM-DD", 1),
    (["--always-open", "--weekly", "mon 09:00-10:00"], "--always-open clears the hours: give it alone", 2),
    (["--holiday", "2026-12-25", "--no-holidays"], "--holiday and --no-holidays contradict each other", 2),
]


@pytest.mark.parametrize("options, message, exit_code", BAD_HOURS)
def test_team_hours_errors_change_nothing(handoff, db, options, message, exit_code):
    ok(handoff("team", "add", "Billing"))
    assert_one_line_error(handoff("team", "hours", "Billing", *options), message, exit_code=exit_code)
    assert team_row(db, "Billing")["hours"] == {}


def test_team_hours_of_an_unknown_team(handoff):
    assert_one_line_error(handoff("team", "hours", "Nope", "--always-open"),
                          "no team is named 'Nope': see `handoff team list`", exit_code=1)


# --- team member ----------------------------------------------------------------------------------


def test_team_member_add_and_remove(handoff, db, maya):
    ok(handoff("team", "add", "Billing"))
    assert ok(handoff("team", "member", "add", "Billing", "--email", "Maya@example.com")) == [
        "Maya Lopez <maya@example.com> is now in Billing"]
    assert ok(handoff("team", "member", "add", "Billing", "--email", "maya@example.com")) == [
        "Maya Lopez <maya@example.com> was already in Billing"]
    assert fetch_all(db, "SELECT agent_id, team_id FROM agent_teams") == [{"agent_id": maya["id"], "team_id": 1}]
    assert ok(handoff("team", "member", "remove", "Billing", "--email", "maya@example.com")) == [
        "Maya Lopez <maya@example.com> is no longer in Billing"]
    assert fetch_all(db, "SELECT * FROM agent_teams") == []
    assert_one_line_error(handoff("team", "member", "remove", "Billing", "--email", "maya@example.com"),
                          "maya@example.com is not in Billing", exit_code=1)
    assert_one_line_error(handoff("team", "member", "add", "Billing", "--email", "nobody@example.com"),
                          "no agent has the email nobody@example.com", exit_code=1)
    assert_one_line_error(handoff("team", "member", "add", "Sales", "--email", "maya@example.com"),
                          "no team is named 'Sales'", exit_code=1)


# --- agent status -------------------------------------------------------------------------------


def presence_of(db, agent_id: int) -> dict:
    with db() as conn:
        return agents.get_agent(conn, agent_id)


def queued_jobs(redis) -> list[str]:
    return [job.func_name for job in queue(redis, "low").get_jobs()]


@pytest.mark.parametrize("options, duration", [((), timedelta(hours=8)), (("--for", "1h30m"), timedelta(minutes=90))])
def test_agent_status_sets_presence_for_a_while(handoff, db, redis, maya, options, duration):
    before = datetime.now(UTC)
    lines = ok(handoff("agent", "status", "--email", "maya@example.com", "online", *options))
    after = datetime.now(UTC)
    agent = presence_of(db, maya["id"])
    assert agent["presence"] == "online"
    assert before + duration <= agent["presence_expires_at"] <= after + duration
    assert lines == [f"Maya Lopez <maya@example.com> is online until {local_time(agent['presence_expires_at'])} "
                     f"({duration_words(duration)})",
                     "enqueued the job that hands out waiting conversations: a worker runs it now"]
    assert queued_jobs(redis) == ["workers.schedule.tend_waiting"]


def test_agent_going_online_gets_a_queued_conversation_assigned(handoff, db, redis, run_jobs, maya):
    with db() as conn:
        billing = teams.create_team(conn, "Billing")
        teams.add_member(conn, billing["id"], maya["id"])
    channel = add_web_channel(db)
    conversation_id = seed_conversation(db, channel, "visitor-1", [("customer", "I need a person")],
                                        status="queued", team_id=billing["id"], escalated_at=datetime.now(UTC))
    ok(handoff("agent", "status", "--email", "maya@example.com", "online"))
    run_jobs()
    assert fetch_one(db, "SELECT status, assignee_id FROM conversations WHERE id = %s", conversation_id) == {
        "status": "assigned", "assignee_id": maya["id"]}


def test_agent_status_offline(handoff, db, redis, maya):
    ok(handoff("agent", "status", "--email", "maya@example.com", "away"))
    assert presence_of(db, maya["id"])["presence"] == "away"
    lines = ok(handoff("agent", "status", "--email", "maya@example.com", "offline"))
    assert lines[0] == "Maya Lopez <maya@example.com> is offline"
    agent = presence_of(db, maya["id"])
    assert (agent["presence"], agent["presence_expires_at"]) == ("offline", None)


def test_agent_status_without_redis_says_the_sweeper_will_do_it(handoff, db, maya):
    lines = ok(handoff("agent", "status", "--email", "maya@example.com", "online", REDIS_URL="redis://127.0.0.1:1/0"))
    assert lines[1].startswith("Redis is unreachable (")
    assert lines[1].endswith("): the worker's sweeper will do it within 30 s")
    assert presence_of(db, maya["id"])["presence"] == "online"


AGENT_STATUS_ERRORS = [
    (["online"], "--email names the agent whose presence to set", 2),
    (["--email", "maya@example.com", "offline", "--for", "1h"], "offline lasts until another presence is set", 2),
    (["--email", "maya@example.com", "--for", "1h"], "--for goes with a presence to set", 2),
    (["--email", "maya@example.com", "online", "--for", "8x"],
     "Invalid value for '--for': '8x' is not a duration like 8h, 30m, 1h30m or 2d", 2),
    (["--email", "maya@example.com", "busy"], "'busy' is not one of 'online', 'away', 'offline'", 2),
    (["--email", "nobody@example.com", "online"], "no agent has the email nobody@example.com", 1),
    (["--email", "nobody@example.com"], "no agent has the email nobody@example.com", 1),
]


@pytest.mark.parametrize("args, message, exit_code", AGENT_STATUS_ERRORS)
def test_agent_status_errors(handoff, db, redis, maya, args, message, exit_code):
    assert_one_line_error(handoff("agent", "status", *args), message, exit_code=exit_code)
    assert presence_of(db, maya["id"])["presence"] == "offline"
    assert queued_jobs(redis) == []


def cells(line: str) -> list[str]:
    return re.split(r"\s{2,}", line.strip())


def test_agent_status_lists_presence_teams_and_load(handoff, db, maya):
    add_agent(db, email="bo@example.com", name="Bo")
    ok(handoff("team", "add", "Billing"))
    ok(handoff("team", "add", "Sales"))
    for name in ("Sales", "Billing"):
        ok(handoff("team", "member", "add", name, "--email", "maya@example.com"))
    ok(handoff("agent", "status", "--email", "maya@example.com", "away", "--for", "2h"))
    until = local_time(presence_of(db, maya["id"])["presence_expires_at"])
    lines = ok(handoff("agent", "status"))
    assert [cells(line) for line in lines] == [
        ["EMAIL", "NAME", "PRESENCE", "UNTIL", "TEAMS", "LOAD"],
        ["bo@example.com", "Bo", "offline", "-", "-", "0/5"],
        ["maya@example.com", "Maya Lopez", "away", until, "Billing, Sales", "0/5"]]
    # Aligned columns: each row's presence starts under PRESENCE.
    assert [line.index(word) for line, word in zip(lines, ("PRESENCE", "offline", "away"))] == [
        lines[0].index("PRESENCE")] * 3
    assert [cells(line)[0] for line in ok(handoff("agent", "status", "--email", "MAYA@example.com"))] == [
        "EMAIL", "maya@example.com"]


def test_agent_status_with_no_agents(handoff):
    assert ok(handoff("agent", "status")) == ["no agents yet: add one with `handoff agent add`"]


# --- agent capacity -------------------------------------------------------------------------------


def test_agent_capacity(handoff, db, redis, maya):
    assert ok(handoff("agent", "capacity", "--email", "maya@example.com", "3")) == [
        "Maya Lopez <maya@example.com> takes up to 3 conversations at once (holding 0 now)"]
    assert presence_of(db, maya["id"])["capacity"] == 3
    assert queued_jobs(redis) == []             # offline: nothing to hand out
    ok(handoff("agent", "status", "--email", "maya@example.com", "online"))
    redis.flushdb()
    lines = ok(handoff("agent", "capacity", "--email", "maya@example.com", "4"))
    assert lines[1] == "enqueued the job that hands out waiting conversations: a worker runs it now"
    assert queued_jobs(redis) == ["workers.schedule.tend_waiting"]


def test_agent_capacity_errors(handoff, db, maya):
    assert_one_line_error(handoff("agent", "capacity", "--email", "maya@example.com", "101"),
                          "101 is not in the range 0<=x<=100", exit_code=2)
    assert_one_line_error(handoff("agent", "capacity", "--email", "nobody@example.com", "2"),
                          "no agent has the email nobody@example.com", exit_code=1)
    assert presence_of(db, maya["id"])["capacity"] == 5
