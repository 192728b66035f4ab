"""Teams and agents as an admin changes them (the settings pages, the admin
API, `handoff team` / `handoff agent`): create and change teams and their
members, add, change and deactivate agents.

Whether a team is open is computed from its business hours, never toggled.
Team names are unique whatever their case; the bot settings' routing names
teams by name, so renaming one they name is allowed but answered with a
warning. An admin cannot take away their own admin flag nor deactivate
themselves (409): there is always someone left to administer. A deactivated
agent's session and API token stop working at their next request (the
session re-reads the agent), their conversations go back to their team's
queue, and they are offline.
"""

from __future__ import annotations

from datetime import UTC, datetime

from marshmallow import Schema, ValidationError, fields, validate

from gateway.admin.audit import record_change
from gateway.bot.settings import load_bot_settings
from gateway.errors import ApiError
from gateway.handoff.teams import MAX_CAPACITY, NamedSchema, TeamSchema, teams_overview
from gateway.store import agents, sessions, teams


def now() -> datetime:
    return datetime.now(UTC)


def agents_overview(conn) -> list[dict]:
    """Every active agent with presence (and until when), capacity, load and teams."""
    team_rows = teams.list_teams(conn)
    return [{"id": agent["id"], "email": agent["email"], "name": agent["name"], "is_admin": agent["is_admin"],
             "presence": agent["presence"],
             "presence_expires_at": agent["presence_expires_at"] if agent["presence"] != "offline" else None,
             "capacity": agent["capacity"], "open_conversations": agent["open_conversations"],
             "teams": [{"id": team["id"], "name": team["name"]} for team in team_rows
                       if agent["id"] in team["agent_ids"]]}
            for agent in agents.list_agents(conn)]


def _found(row: dict | None, what: str) -> dict:
    if row is None:
        raise ApiError(404, f"no {what}")
    return row


def one_of(rows: list[dict], row_id: int, noun: str) -> dict:
    return _found(next((row for row in rows if row["id"] == row_id), None), f"{noun} {row_id}")


def team_view(conn, team_id: int) -> dict:
    return one_of(teams_overview(conn, now()), team_id, "team")


def team_or_404(conn, team_id: int) -> dict:
    return _found(teams.get_team(conn, team_id), f"team {team_id}")


def agent_or_404(conn, agent_id: int) -> dict:
    return _found(agents.get_agent(conn, agent_id), f"agent {agent_id}")


def load(schema: Schema, body: dict, what: str) -> dict:
    try:
        return schema.load(body)
    except ValidationError as error:
        raise ApiError(400, f"invalid {what}", error.messages) from None


class TeamRefField(fields.Field):
    """A team's id, or its name (any case)."""

    def _deserialize(self, value, attr, data, **kwargs) -> int | str:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip():
            return value.strip()
        raise ValidationError("a team id or name")


class AgentChangeSchema(NamedSchema):
    name = fields.String(validate=validate.Length(min=1, max=100, error="a name of 1 to 100 characters"))
    is_admin = fields.Boolean()
    # How many conversations at once; 0 takes none automatically.
    capacity = fields.Integer(strict=True, validate=validate.Range(
        min=0, max=MAX_CAPACITY, error=f"a whole number from 0 to {MAX_CAPACITY}"))
    teams = fields.List(TeamRefField())


class NewAgentSchema(NamedSchema):
    email = fields.Email(required=True, error_messages={"invalid": "not an email address"})
    name = fields.String(required=True, validate=validate.Length(min=1, max=100, error="a name of 1 to 100 characters"))
    password = fields.String(required=True, load_only=True, validate=validate.Length(
        min=agents.MIN_PASSWORD_LENGTH, max=1024, error=f"at least {agents.MIN_PASSWORD_LENGTH} characters"))
    is_admin = fields.Boolean(load_default=False)
    teams = fields.List(TeamRefField(), load_default=list)


def existing_ids(refs: list, find, *, field: str, noun: str) -> list[int]:
    """The ids of the rows `refs` name (find(ref) -> row or None); 400 naming each unknown one."""
    found, unknown = [], {}
    for index, ref in enumerate(refs):
        row = find(ref)
        if row is None:
            unknown[index] = [f"no {noun} {ref!r}"]
        else:
            found.append(row["id"])
    if unknown:
        raise ApiError(400, f"unknown {noun}", {field: unknown})
    return sorted(set(found))


def _team_ids(conn, refs: list) -> list[int]:
    return existing_ids(refs, lambda ref: teams.get_team(conn, ref) if isinstance(ref, int)
                        else teams.team_by_name(conn, ref), field="teams", noun="team")


# --- teams ----------------------------------------------------------------------------------------


def create_team(conn, body: dict, *, agent_id: int | None) -> dict:
    """A new team (always open and auto-assigning unless told otherwise); its view."""
    new = load(TeamSchema(), body, "team")
    created = teams.create_team(conn, new["name"], hours=new.get("hours"), auto_assign=new.get("auto_assign", True),
                                email=new.get("email"))
    if created is None:
        raise ApiError(409, f"a team named {new['name']!r} already exists (names are unique whatever their case)")
    record_change(conn, agent_id, {"team_id": created["id"], "action": "created"})
    return team_view(conn, created["id"])


def _rename_warnings(conn, old: str, new: str) -> list[str]:
    """Routing names teams by name (and creates a team it names that does not
    exist): the places in the bot settings that still name the old one."""
    settings = load_bot_settings(conn)

    def names_old(mention: str | None) -> bool:
        return mention is not None and mention.casefold() == old.casefold() and mention != new

    places = [f"routing_rules[{index}]" for index, rule in enumerate(settings["routing_rules"])
              if names_old(rule["team"])]
    places += [f"urgent_topics {topic['name']!r}" for topic in settings["urgent_topics"] if names_old(topic["team"])]
    if names_old(settings["default_team"]):
        places.append("default_team")
    if not places:
        return []
    return [f"routing rules name teams by name: {', '.join(places)} of the bot settings still name {old!r}; "
            f"until they name {new!r} (PATCH /api/admin/bot-settings), the conversations they route go to a new, "
            f"empty team {old!r}"]


def change_team(conn, team_id: int, body: dict, *, agent_id: int | None) -> tuple[dict, list[str]]:
    """Rename a team, set its hours, how it assigns, its email (None clears it): (its view, warnings)."""
    change = load(TeamSchema(partial=True), body, "team change")
    warnings = []
    before = team_or_404(conn, team_id)
    changed = sorted(key for key, value in change.items() if before[key] != value)
    if "name" in changed:
        if not teams.rename_team(conn, team_id, change["name"]):
            raise ApiError(409, f"another team is already named {change['name']!r} "
                                "(names are unique whatever their case)")
        warnings = _rename_warnings(conn, before["name"], change["name"])
    if set(changed) - {"name"}:
        teams.update_team(conn, team_id, hours=change.get("hours"), auto_assign=change.get("auto_assign"),
                          email=change.get("email"), clear_email="email" in change and change["email"] is None)
    if changed:
        record_change(conn, agent_id, {"team_id": team_id, "changed": changed})
    return team_view(conn, team_id), warnings


def record_members(conn, agent_id: int | None, team_id: int, added: list[int], removed: list[int]) -> None:
    if added or removed:
        record_change(conn, agent_id, {"team_id": team_id, "changed": ["members"], "added": added,
                                       "removed": removed})


def set_team_members(conn, team_id: int, member_ids: list[int], *, agent_id: int | None) -> dict:
    """The team's members become exactly these agents; its view."""
    team_or_404(conn, team_id)
    ids = existing_ids(member_ids, lambda ref: agents.get_agent(conn, ref), field="agent_ids", noun="agent")
    record_members(conn, agent_id, team_id, *teams.set_members(conn, team_id, ids))
    return team_view(conn, team_id)


# --- agents ---------------------------------------------------------------------------------------


def add_agent(conn, body: dict, *, agent_id: int | None) -> dict:
    """A new agent {email, name, password, is_admin?, teams?}; their overview."""
    new = load(NewAgentSchema(), body, "agent")
    team_ids = _team_ids(conn, new["teams"])
    try:
        created = agents.create_agent(conn, email=new["email"], name=new["name"], password=new["password"],
                                      is_admin=new["is_admin"])
    except agents.AgentExists as error:
        raise ApiError(409, str(error)) from None
    teams.set_agent_teams(conn, created["id"], team_ids)
    record_change(conn, agent_id, {"agent_id": created["id"], "action": "created"})
    return one_of(agents_overview(conn), created["id"], "agent")


def change_agent(conn, target_id: int, body: dict, *, agent_id: int | None) -> dict:
    """Change an agent's name, admin flag, capacity, or teams (exactly those given); their overview."""
    change = load(AgentChangeSchema(), body, "agent change")
    if change.get("is_admin") is False and target_id == agent_id:
        raise ApiError(409, "you cannot remove your own admin flag: another admin can")
    before = agent_or_404(conn, target_id)
    changed = [key for key in ("name", "is_admin", "capacity") if key in change and before[key] != change[key]]
    if "teams" in change:
        added, removed = teams.set_agent_teams(conn, target_id, _team_ids(conn, change["teams"]))
        if added or removed:
            changed.append("teams")
    if {"name", "is_admin"} & set(changed):
        agents.update_agent(conn, target_id, name=change.get("name"), is_admin=change.get("is_admin"))
    if "is_admin" in changed:
        sessions.end_credentials(conn, target_id)  # what they may do changed: they log in again
    if "capacity" in changed:
        agents.set_capacity(conn, target_id, change["capacity"])
    if changed:
        record_change(conn, agent_id, {"agent_id": target_id, "changed": sorted(changed)})
    return one_of(agents_overview(conn), target_id, "agent")


def deactivate_agent(conn, target_id: int, *, agent_id: int | None) -> dict:
    """The agent can no longer log in or use their token, and their open
    sessions end at once; the conversations they held go back to their team's queue. {"agent", "returned": [ids]}."""
    if target_id == agent_id:
        raise ApiError(409, "you cannot deactivate yourself: another admin can")
    agent = agent_or_404(conn, target_id)
    returned = agents.deactivate(conn, target_id)
    sessions.end_credentials(conn, target_id)
    record_change(conn, agent_id, {"agent_id": target_id, "action": "deactivated", "returned": returned})
    return {"agent": {"id": agent["id"], "email": agent["email"], "name": agent["name"]}, "returned": returned}


def reactivate_agent(conn, email: str, *, agent_id: int | None) -> dict:
    row = agents.reactivate(conn, email)
    if row is None:
        raise ApiError(404, f"no deactivated agent has the email {email}")
    record_change(conn, agent_id, {"agent_id": row["id"], "action": "reactivated"})
    return row
