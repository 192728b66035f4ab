"""The admin API of teams and agents (/api/admin/teams, /api/admin/agents).

    GET    /teams                            every team: hours, open now and the next opening, members, online count
    POST   /teams                            {name, hours?, auto_assign?, email?} -> 201 (409: the name is taken)
    GET    /teams/<id>                       one team
    PATCH  /teams/<id>                       {name?, hours?, auto_assign?, email? (null clears)}, with "warnings"
    PUT    /teams/<id>/members               {agent_ids: [...]}: exactly these members
    POST   /teams/<id>/members/<agent_id>    add one member
    DELETE /teams/<id>/members/<agent_id>    remove one member
    GET    /agents                           every agent: presence, capacity, load, teams
    PATCH  /agents/<id>                      {capacity?, is_admin?, name?, teams?: [team ids or names], active?: false}

For admins (`api_auth(admin=True)`). Whether a team is open is computed from
its business hours (gateway/handoff/hours.py, whose HoursSchema validates
them), never toggled by hand. Team names are unique whatever their case.
The bot settings' routing names teams by name, so renaming a team they name
is allowed but answered with a warning. An admin cannot take away their own
admin flag (409): there is always someone left to administer. Changes are
audited as "settings.changed" events naming what changed.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, jsonify, url_for
from marshmallow import Schema, ValidationError, fields, validate

from gateway.bot.settings import load_bot_settings
from gateway.db import transaction
from gateway.handoff.teams import MAX_CAPACITY, NamedSchema, TeamSchema, teams_overview
from gateway.services import services
from gateway.store import agents, sessions, teams
from gateway.web.api.admin import record_change
from gateway.web.auth import api_auth, current_agent
from gateway.web.bodies import json_object
from gateway.web.errors import ApiError

bp = Blueprint("admin_teams", __name__, url_prefix="/api/admin")

# --- what an admin sees -----------------------------------------------------------------------


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


def _now() -> datetime:
    return datetime.now(UTC)


def _found(row: dict | None, what: str) -> dict:
    if row is None:
        raise ApiError(404, f"no {what}")
    return row


def _one(rows: list[dict], row_id: int, noun: str) -> dict:
    return _found(next((row for row in rows if row["id"] == row_id), None), f"{noun} {row_id}")


def _team_view(conn, team_id: int) -> dict:
    return _one(teams_overview(conn, _now()), team_id, "team")


def _team_or_404(conn, team_id: int) -> dict:
    return _found(teams.get_team(conn, team_id), f"team {team_id}")


def _agent_or_404(conn, agent_id: int) -> dict:
    return _found(agents.get_agent(conn, agent_id), f"agent {agent_id}")


# --- request bodies ---------------------------------------------------------------------------


class TeamRefField(fields.Field):
    """A team's id, or its name (any case)."""

    def _deserialize(self, value, attr, data, **kwargs) -> int | str:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip():
            return value.strip()
        raise ValidationError("a team id or name")


class MembersSchema(Schema):
    agent_ids = fields.List(fields.Integer(strict=True), required=True)


class AgentChangeSchema(NamedSchema):
    name = fields.String(validate=validate.Length(min=1, max=100, error="a name of 1 to 100 characters"))
    is_admin = fields.Boolean()
    # How many conversations at once; 0 takes none automatically.
    capacity = fields.Integer(strict=True, validate=validate.Range(
        min=0, max=MAX_CAPACITY, error=f"a whole number from 0 to {MAX_CAPACITY}"))
    teams = fields.List(TeamRefField())
    # false disables the agent (there is no way back through the API: add them again).
    active = fields.Boolean()


def _load(schema: Schema, what: str) -> dict:
    try:
        return schema.load(json_object())
    except ValidationError as error:
        raise ApiError(400, f"invalid {what}", error.messages) from None


def _existing_ids(refs: list, find, *, field: str, noun: str) -> list[int]:
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


# --- teams ------------------------------------------------------------------------------------


@bp.get("/teams")
@api_auth(admin=True)
def list_teams():
    with services().pool.connection() as conn:
        return jsonify({"teams": teams_overview(conn, _now())})


@bp.post("/teams")
@api_auth(admin=True)
def create_team():
    """A new team (always open and auto-assigning unless told otherwise)."""
    new = _load(TeamSchema(), "team")
    with transaction(services().pool) as conn:
        created = teams.create_team(conn, new["name"], hours=new.get("hours"),
                                    auto_assign=new.get("auto_assign", True), email=new.get("email"))
        if created is None:
            raise ApiError(409, f"a team named {new['name']!r} already exists (names are unique whatever their case)")
        record_change(conn, {"team_id": created["id"], "action": "created"})
        view = _team_view(conn, created["id"])
    response = jsonify(view)
    response.headers["Location"] = url_for(".get_team", team_id=created["id"])
    return response, 201


@bp.get("/teams/<int:team_id>")
@api_auth(admin=True)
def get_team(team_id: int):
    with services().pool.connection() as conn:
        return jsonify(_team_view(conn, team_id))


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


@bp.patch("/teams/<int:team_id>")
@api_auth(admin=True)
def update_team(team_id: int):
    """Rename a team, set its hours, how it assigns, its email (null clears it)."""
    change = _load(TeamSchema(partial=True), "team change")
    warnings = []
    with transaction(services().pool) as conn:
        before = _team_or_404(conn, team_id)
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
            record_change(conn, {"team_id": team_id, "changed": changed})
        view = _team_view(conn, team_id)
    return jsonify(dict(view, warnings=warnings))


def _record_members(conn, team_id: int, added: list[int], removed: list[int]) -> None:
    if added or removed:
        record_change(conn, {"team_id": team_id, "changed": ["members"], "added": added, "removed": removed})


@bp.put("/teams/<int:team_id>/members")
@api_auth(admin=True)
def replace_members(team_id: int):
    """The team's members become exactly these agents."""
    refs = _load(MembersSchema(), "members")["agent_ids"]
    with transaction(services().pool) as conn:
        _team_or_404(conn, team_id)
        agent_ids = _existing_ids(refs, lambda ref: agents.get_agent(conn, ref), field="agent_ids", noun="agent")
        _record_members(conn, team_id, *teams.set_members(conn, team_id, agent_ids))
        return jsonify(_team_view(conn, team_id))


@bp.post("/teams/<int:team_id>/members/<int:agent_id>")
@api_auth(admin=True)
def add_member(team_id: int, agent_id: int):
    with transaction(services().pool) as conn:
        _team_or_404(conn, team_id)
        _agent_or_404(conn, agent_id)
        if team_id not in teams.team_ids_of(conn, agent_id):
            teams.add_member(conn, team_id, agent_id)
            _record_members(conn, team_id, [agent_id], [])
        return jsonify(_team_view(conn, team_id))


@bp.delete("/teams/<int:team_id>/members/<int:agent_id>")
@api_auth(admin=True)
def remove_member(team_id: int, agent_id: int):
    with transaction(services().pool) as conn:
        _team_or_404(conn, team_id)
        if team_id not in teams.team_ids_of(conn, agent_id):
            raise ApiError(404, f"agent {agent_id} is not a member of team {team_id}")
        teams.remove_member(conn, team_id, agent_id)
        _record_members(conn, team_id, [], [agent_id])
        return jsonify(_team_view(conn, team_id))


# --- agents -----------------------------------------------------------------------------------


@bp.get("/agents")
@api_auth(admin=True)
def list_agents():
    with services().pool.connection() as conn:
        return jsonify({"agents": agents_overview(conn)})


@bp.patch("/agents/<int:agent_id>")
@api_auth(admin=True)
def update_agent(agent_id: int):
    """Change an agent's name, admin flag, capacity, or teams (exactly those given),
    or disable them (active: false). A change of role or a deactivation ends
    the agent's sessions and API token at once."""
    change = _load(AgentChangeSchema(), "agent change")
    if change.get("is_admin") is False and agent_id == current_agent()["id"]:
        raise ApiError(409, "you cannot remove your own admin flag: another admin can")
    if change.get("active") is False and agent_id == current_agent()["id"]:
        raise ApiError(409, "you cannot disable yourself: another admin can")
    with transaction(services().pool) as conn:
        before = _agent_or_404(conn, agent_id)
        if change.get("active") is False:
            agents.disable_agent(conn, agent_id)
            sessions.end_credentials(conn, agent_id)
            record_change(conn, {"agent_id": agent_id, "changed": ["active"]})
            return "", 204
        changed = [key for key in ("name", "is_admin", "capacity") if key in change and before[key] != change[key]]
        if "teams" in change:
            team_ids = _existing_ids(
                change["teams"],
                lambda ref: teams.get_team(conn, ref) if isinstance(ref, int) else teams.team_by_name(conn, ref),
                field="teams", noun="team")
            added, removed = teams.set_agent_teams(conn, agent_id, team_ids)
            if added or removed:
                changed.append("teams")
        if {"name", "is_admin"} & set(changed):
            agents.update_agent(conn, agent_id, name=change.get("name"), is_admin=change.get("is_admin"))
        if "is_admin" in changed:
            sessions.end_credentials(conn, agent_id)  # what they may do changed: they log in again
        if "capacity" in changed:
            agents.set_capacity(conn, agent_id, change["capacity"])
        if changed:
            record_change(conn, {"agent_id": agent_id, "changed": sorted(changed)})
        return jsonify(_one(agents_overview(conn), agent_id, "agent"))
