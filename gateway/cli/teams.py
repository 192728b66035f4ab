"""`handoff team …` (teams, their members and business hours) and
`handoff agent status|capacity` (presence and load).

    team add NAME [--email E] [--no-auto-assign]
    team list                                   members, presence, open now / next opening
    team hours NAME [--timezone TZ] [--weekly "mon-fri 09:00-17:30" ...] [--holiday 2026-12-25 ...]
                    [--no-holidays] [--always-open]
    team member add|remove NAME --email E
    agent status [--email E] [online|away|offline [--for 8h]]
    agent capacity --email E N

gateway/cli/__init__.py attaches `team` to `handoff`, gateway/cli/agents.py
the two agent commands to its `agent` group. They validate with the same
schemas as the admin API and show teams as it does (gateway.handoff.teams),
so both say the same thing.

Presence set here lasts --for a while (8 hours by default): no inbox
heartbeat keeps it alive. A presence change enqueues the job that tends
waiting conversations, so that an agent going online is assigned queued
conversations at once (and one leaving hands over those they have not
answered); without Redis, the worker's sweeper does it within 30 s.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import click
from marshmallow import ValidationError
from redis import Redis
from redis.exceptions import RedisError

from gateway.cli.support import database, load_config, one_line, plural
from gateway.cli.support import field_errors
from gateway.config import Config
from gateway.handoff.hours import validate_hours
from gateway.handoff.weekly import compact_weekly, parse_weekly
from gateway.handoff.teams import MAX_CAPACITY, TeamSchema, opening_status, teams_overview
from gateway.queues import queue
from gateway.store import agents, teams

DEFAULT_PRESENCE_FOR = timedelta(hours=8)
MAX_PRESENCE_FOR = timedelta(days=30)
SWEEP_SECONDS = 30
_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?")


# --- showing hours ---------------------------------------------------------------------------------


def hours_lines(doc: dict) -> list[str]:
    """A business hours document, one line per group of days."""
    if "timezone" not in doc:
        return ["always open (no business hours set)"]
    rows = [("time zone", doc["timezone"])]
    if "weekly" in doc:
        rows += [(days, ranges.replace(",", ", ")) for days, ranges in compact_weekly(doc["weekly"])]
    else:
        rows.append(("every day", "all day"))
    if doc.get("holidays"):
        rows.append(("holidays", ", ".join(doc["holidays"])))
    return aligned(rows)


def hours_summary(doc: dict) -> str:
    """A business hours document on one line: "Europe/Paris: mon-fri 09:00-17:30; sat 10:00-14:00; 1 holiday"."""
    if "timezone" not in doc:
        return "always open"
    if "weekly" in doc:
        opening = "; ".join(f"{days} {ranges}" for days, ranges in compact_weekly(doc["weekly"]) if ranges != "closed")
    else:
        opening = "every day, all day"
    holidays = f"; {plural(len(doc['holidays']), 'holiday')}" if doc.get("holidays") else ""
    return f"{doc['timezone']}: {opening or 'closed every day'}{holidays}"


def now_text(status: dict) -> str:
    """opening_status() in words: "closed, opens tomorrow at 9:00 AM (Paris time)"."""
    if status["open_now"]:
        if status["always_open"]:
            return "open (always)"
        return f"open, closes {status['next_closing_text']}" if status["next_closing"] else "open"
    if status["next_opening"]:
        return f"closed, opens {status['next_opening_text']}"
    return "closed, with no opening in the coming year"


def aligned(rows: list[tuple[str, ...]], indent: str = "") -> list[str]:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return [(indent + "  ".join(cell.ljust(width) for cell, width in zip(row, widths))).rstrip() for row in rows]


# --- team ----------------------------------------------------------------------------------------


@click.group()
def team() -> None:
    """Teams conversations are routed to: members, business hours, assignment."""


def team_named(conn, name: str) -> dict:
    found = teams.team_by_name(conn, name)
    if found is None:
        raise click.ClickException(f"no team is named {name!r}: see `handoff team list`")
    return found


def agent_with_email(conn, email: str) -> dict:
    agent_id = agents.agent_id_by_email(conn, email)
    agent = agents.get_agent(conn, agent_id) if agent_id is not None else None
    if agent is None:
        raise click.ClickException(f"no agent has the email {email}")
    return agent


def agent_words(agent: dict) -> str:
    return f"{agent['name']} <{agent['email']}>"


def assignment_words(auto_assign: bool) -> str:
    return "round-robin to online agents" if auto_assign else "agents claim from the queue"


@team.command("add")
@click.argument("name")
@click.option("--email", default=None, help="Where the team's notification emails go (needs SMTP_URL).")
@click.option("--no-auto-assign", is_flag=True,
              help="Leave conversations in the team queue for agents to claim, instead of round-robin assignment "
                   "to online agents with free capacity.")
def add_team(name: str, email: str | None, no_auto_assign: bool) -> None:
    """Add a team NAME (always open until you set its hours)."""
    try:
        new = TeamSchema().load({"name": name, **({"email": email} if email is not None else {})})
    except ValidationError as error:
        raise click.ClickException(f"invalid team: {field_errors(error.messages)}") from None
    with database() as conn:
        created = teams.create_team(conn, new["name"], auto_assign=not no_auto_assign, email=new.get("email"))
    if created is None:
        raise click.ClickException(f"a team named {new['name']!r} already exists (names are unique whatever their "
                                   "case)")
    notify = f", notifications to {created['email']}" if created["email"] else ""
    click.echo(f'added team {created["id"]} "{created["name"]}": {assignment_words(created["auto_assign"])}, '
               f"always open{notify}")
    click.echo(f"Next: `handoff team hours {shell_word(created['name'])} --timezone … --weekly …` and "
               f"`handoff team member add {shell_word(created['name'])} --email …`")


@team.command("set")
@click.argument("name")
@click.option("--auto-assign/--no-auto-assign", default=None,
              help="Round-robin to online agents with free capacity, or leave conversations for agents to claim.")
@click.option("--email", default=None, help="Where the team's notification emails go (needs SMTP_URL).")
@click.option("--no-email", is_flag=True, help="Send the team no notification emails.")
def set_team(name: str, auto_assign: bool | None, email: str | None, no_email: bool) -> None:
    """Change how team NAME assigns conversations, or its notification email."""
    if auto_assign is None and email is None and not no_email:
        raise click.UsageError("say what to change: --auto-assign/--no-auto-assign, --email E or --no-email")
    if email is not None and no_email:
        raise click.UsageError("--email and --no-email contradict each other")
    if email is not None:
        try:
            email = TeamSchema().load({"name": name, "email": email})["email"]
        except ValidationError as error:
            raise click.ClickException(f"invalid team: {field_errors(error.messages)}") from None
    with database() as conn:
        found = team_named(conn, name)
        changed = teams.update_team(conn, found["id"], auto_assign=auto_assign, email=email, clear_email=no_email)
    notify = f"notifications to {changed['email']}" if changed["email"] else "no notification emails"
    click.echo(f'team "{changed["name"]}": {assignment_words(changed["auto_assign"])}, {notify}')


def shell_word(text: str) -> str:
    return text if re.fullmatch(r"[\w@.-]+", text) else "'" + text.replace("'", "'\\''") + "'"


@team.command("list")
def list_teams() -> None:
    """List teams: hours, open now, members.

    For each team: how it assigns, its business hours, whether it is open now
    (or when it opens next), and its members with their presence and load.
    """
    with database() as conn:
        overview = teams_overview(conn, datetime.now(UTC))
    if not overview:
        click.echo("no teams yet: add one with `handoff team add NAME`")
        return
    for index, shown in enumerate(overview):
        if index:
            click.echo("")
        email = f", notifications to {shown['email']}" if shown["email"] else ""
        click.echo(f"{shown['name']}  (team {shown['id']}: {assignment_words(shown['auto_assign'])}{email})")
        members = shown["members"]
        for line in aligned([("hours", hours_summary(shown["hours"])),
                             ("now", f"{now_text(shown)}; {shown['online']} of {plural(len(members), 'member')} "
                                     "online")], indent="  "):
            click.echo(line)
        if not members:
            click.echo(f"  no members yet: `handoff team member add {shell_word(shown['name'])} --email …`")
            continue
        for line in aligned([(member["email"], member["name"], member["presence"],
                              f"{member['open_conversations']}/{member['capacity']} conversations")
                             for member in members], indent="    "):
            click.echo(line)


def updated_hours(current: dict, *, timezone: str | None, weekly: tuple[str, ...], holidays: tuple[str, ...],
                  no_holidays: bool, always_open: bool) -> dict:
    """The team's hours with what the options replace; the others are kept."""
    if always_open:
        if timezone or weekly or holidays or no_holidays:
            raise click.UsageError("--always-open clears the hours: give it alone")
        return {}
    if holidays and no_holidays:
        raise click.UsageError("--holiday and --no-holidays contradict each other")
    doc = dict(current)
    if timezone:
        doc["timezone"] = timezone.strip()
    if weekly:
        try:
            doc["weekly"] = parse_weekly(list(weekly))
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="'--weekly'") from None
    if holidays:
        doc["holidays"] = [day.strip() for day in holidays]
    if no_holidays:
        doc.pop("holidays", None)
    return doc


@team.command("hours")
@click.argument("name")
@click.option("--timezone", help="The team's IANA time zone, like Europe/Paris (kept when omitted).")
@click.option("--weekly", multiple=True,
              help="Opening days and times, like 'mon-fri 09:00-17:30' or 'mon,wed 09:00-12:00,13:00-17:00'; "
                   "repeat for other days. Replaces the weekly schedule; days no --weekly names are closed.")
@click.option("--holiday", "holidays", multiple=True, help="A closed date, YYYY-MM-DD; repeat for more. Replaces "
                                                           "the holidays.")
@click.option("--no-holidays", is_flag=True, help="Remove every holiday.")
@click.option("--always-open", is_flag=True, help="Clear the hours: the team is always open.")
def team_hours(name: str, timezone: str | None, weekly: tuple[str, ...], holidays: tuple[str, ...],
               no_holidays: bool, always_open: bool) -> None:
    """Show or set the business hours of team NAME.

    Outside them (and on holidays) escalations become tickets and customers
    are told when the team is back. Without options, shows the hours.
    """
    changing = bool(timezone or weekly or holidays or no_holidays or always_open)
    with database() as conn:
        found = team_named(conn, name)
        hours = found["hours"]
        if changing:
            doc = updated_hours(hours, timezone=timezone, weekly=weekly, holidays=holidays,
                                no_holidays=no_holidays, always_open=always_open)
            try:
                hours = validate_hours(doc)
            except ValidationError as error:
                raise click.ClickException(f"invalid hours: {field_errors(error.messages)}") from None
            teams.update_team(conn, found["id"], hours=hours)
    click.echo(f"hours of {found['name']}{' saved' if changing else ''}:")
    for line in hours_lines(hours):
        click.echo(f"  {line}")
    click.echo(f"now: {now_text(opening_status(hours, datetime.now(UTC)))}")


@team.group("member")
def member() -> None:
    """Add agents to a team, or remove them."""


email_option = click.option("--email", required=True, help="The agent's login email.")


def team_and_agent(conn, name: str, email: str) -> tuple[dict, dict, bool]:
    """The team, the agent, and whether the agent is a member."""
    found, agent = team_named(conn, name), agent_with_email(conn, email)
    return found, agent, found["id"] in teams.team_ids_of(conn, agent["id"])


@member.command("add")
@click.argument("name")
@email_option
def add_team_member(name: str, email: str) -> None:
    """Add the agent with --email to team NAME."""
    with database() as conn:
        found, agent, already = team_and_agent(conn, name, email)
        teams.add_member(conn, found["id"], agent["id"])
    click.echo(f"{agent_words(agent)} {'was already' if already else 'is now'} in {found['name']}")


@member.command("remove")
@click.argument("name")
@email_option
def remove_team_member(name: str, email: str) -> None:
    """Remove the agent with --email from team NAME."""
    with database() as conn:
        found, agent, member = team_and_agent(conn, name, email)
        if not member:
            raise click.ClickException(f"{agent['email']} is not in {found['name']}")
        teams.remove_member(conn, found["id"], agent["id"])
    click.echo(f"{agent_words(agent)} is no longer in {found['name']}")


# --- agent status and capacity -------------------------------------------------------------------


def parse_duration(text: str) -> timedelta:
    """"8h", "30m", "1h30m", "2d" -> a timedelta (up to MAX_PRESENCE_FOR)."""
    match = _DURATION.fullmatch(text.strip().lower())
    if not match or not any(match.groups()):
        raise ValueError(f"{text!r} is not a duration like 8h, 30m, 1h30m or 2d")
    days, hours, minutes = (int(group or 0) for group in match.groups())
    duration = timedelta(days=days, hours=hours, minutes=minutes)
    if not timedelta(0) < duration <= MAX_PRESENCE_FOR:
        raise ValueError(f"{text!r}: give a duration above 0 and at most {MAX_PRESENCE_FOR.days} days")
    return duration


def duration_option(ctx, param, value: str | None) -> timedelta | None:
    try:
        return None if value is None else parse_duration(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


def duration_words(duration: timedelta) -> str:
    minutes = int(duration.total_seconds() // 60)
    parts = [(minutes // 1440, "day"), (minutes // 60 % 24, "hour"), (minutes % 60, "minute")]
    return " ".join(plural(count, word) for count, word in parts if count) or "under a minute"


def local_time(moment: datetime) -> str:
    """In this machine's time zone: the person typing the command reads it."""
    return moment.astimezone().strftime("%Y-%m-%d %H:%M %Z")


def tend_waiting_now(config: Config) -> str:
    """Enqueue the job that assigns queued conversations (and takes unanswered
    ones from agents who left); what happened, in words."""
    later = f"the worker's sweeper will do it within {SWEEP_SECONDS} s"
    if not config.redis_url:
        return f"REDIS_URL is not set: {later}"
    redis = Redis.from_url(config.redis_url, socket_connect_timeout=2, socket_timeout=5)
    try:
        queue(redis, "low").enqueue("workers.schedule.tend_waiting",
                                    description="tend conversations waiting for a person (presence changed)")
    except RedisError as error:
        return f"Redis is unreachable ({one_line(error)}): {later}"
    finally:
        redis.close()
    return "enqueued the job that hands out waiting conversations: a worker runs it now"


@click.command("status")
@click.option("--email", default=None, help="The agent's login email (to show: default every agent).")
@click.argument("presence", required=False, type=click.Choice(agents.PRESENCES))
@click.option("--for", "duration", callback=duration_option,
              help=f"How long online or away lasts, like 8h, 30m, 1h30m or 2d (default "
                   f"{duration_words(DEFAULT_PRESENCE_FOR)}): no inbox heartbeat keeps it alive.")
def agent_status(email: str | None, presence: str | None, duration: timedelta | None) -> None:
    """Show or set agents' presence.

    Without PRESENCE, shows every agent's (or the --email one's) presence,
    teams and load. With it (online, away or offline), sets the presence of
    the agent with --email.
    """
    if presence is None:
        if duration is not None:
            raise click.UsageError("--for goes with a presence to set: online or away")
        show_agents(email)
        return
    if email is None:
        raise click.UsageError("--email names the agent whose presence to set")
    if presence == "offline" and duration is not None:
        raise click.UsageError("offline lasts until another presence is set: --for is for online or away")
    duration = duration or DEFAULT_PRESENCE_FOR
    config = load_config()
    with database(config) as conn:
        agent = agents.set_presence(conn, agent_with_email(conn, email)["id"], presence,
                                    ttl_seconds=duration.total_seconds())
    until = (f" until {local_time(agent['presence_expires_at'])} ({duration_words(duration)})"
             if presence != "offline" else "")
    click.echo(f"{agent_words(agent)} is {presence}{until}")
    click.echo(tend_waiting_now(config))


def show_agents(email: str | None) -> None:
    with database() as conn:
        rows = agents.list_agents(conn)
    if email is not None:
        rows = [row for row in rows if row["email"].casefold() == email.strip().casefold()]
        if not rows:
            raise click.ClickException(f"no agent has the email {email}")
    if not rows:
        click.echo("no agents yet: add one with `handoff agent add`")
        return
    table = [("EMAIL", "NAME", "PRESENCE", "UNTIL", "TEAMS", "LOAD")] + [
        (row["email"], row["name"], row["presence"],
         local_time(row["presence_expires_at"]) if row["presence"] != "offline" else "-",
         ", ".join(row["teams"]) or "-", f"{row['open_conversations']}/{row['capacity']}") for row in rows]
    for line in aligned(table):
        click.echo(line)


@click.command("capacity")
@click.option("--email", required=True, help="The agent's login email.")
@click.argument("capacity", type=click.IntRange(0, MAX_CAPACITY))
def agent_capacity(email: str, capacity: int) -> None:
    """Set how many conversations an agent takes at once.

    CAPACITY conversations at most are assigned to the agent with --email at
    once; 0: none are assigned automatically.
    """
    config = load_config()
    with database(config) as conn:
        agent = agent_with_email(conn, email)
        agents.set_capacity(conn, agent["id"], capacity)
        load = next(row["open_conversations"] for row in agents.list_agents(conn) if row["id"] == agent["id"])
    click.echo(f"{agent_words(agent)} takes up to {plural(capacity, 'conversation')} at once "
               f"(holding {load} now)")
    if capacity > agent["capacity"] and agent["presence"] == "online":
        click.echo(tend_waiting_now(config))
