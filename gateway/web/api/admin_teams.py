"""The admin API of teams and agents (/api/admin/teams, /api/admin/agents).

    GET    /teams                            every team: hours, open now and the next opening, members, online count
    POST   /teams                            {name, hours?, auto_assign?, email?} -> 201 (409: the name is taken)
    GET    /teams/<id>                       one team
    PATCH  /teams/<id>                       {name?, hours?, auto_assign?, email? (null clears)}, with "warnings"
    PUT    /teams/<id>/members               {agent_ids: [...]}: exactly these members
    POST   /teams/<id>/members/<agent_id>    add one member
    DELETE /teams/<id>/members/<agent_id>    remove one member
    GET    /agents                           every agent: presence, capacity, load, teams
    POST   /agents                           {email, name, password, is_admin?, teams?} -> 201 (409: email taken)
    PATCH  /agents/<id>                      {capacity?, is_admin?, name?, teams?: [team ids or names]}
    POST   /agents/<id>/deactivate           sessions and token end; their conversations go back to the queue

For admins (`api_auth(admin=True)`); the rules are gateway/admin/people.py's,
which the settings pages and the CLI share. Changes are audited as
"settings.changed" events naming what changed.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, url_for
from marshmallow import Schema, fields

from gateway.admin import people
from gateway.db import transaction
from gateway.handoff.teams import teams_overview
from gateway.services import services
from gateway.store import teams
from gateway.web.auth import api_auth, current_agent
from gateway.web.bodies import json_object
from gateway.web.errors import ApiError

bp = Blueprint("admin_teams", __name__, url_prefix="/api/admin")


class MembersSchema(Schema):
    agent_ids = fields.List(fields.Integer(strict=True), required=True)


def _me() -> int:
    return current_agent()["id"]


# --- teams ------------------------------------------------------------------------------------


@bp.get("/teams")
@api_auth(admin=True)
def list_teams():
    with services().pool.connection() as conn:
        return jsonify({"teams": teams_overview(conn, people.now())})


@bp.post("/teams")
@api_auth(admin=True)
def create_team():
    """A new team (always open and auto-assigning unless told otherwise)."""
    with transaction(services().pool) as conn:
        view = people.create_team(conn, json_object(), agent_id=_me())
    response = jsonify(view)
    response.headers["Location"] = url_for(".get_team", team_id=view["id"])
    return response, 201


@bp.get("/teams/<int:team_id>")
@api_auth(admin=True)
def get_team(team_id: int):
    with services().pool.connection() as conn:
        return jsonify(people.team_view(conn, team_id))


@bp.patch("/teams/<int:team_id>")
@api_auth(admin=True)
def update_team(team_id: int):
    """Rename a team, set its hours, how it assigns, its email (null clears it)."""
    with transaction(services().pool) as conn:
        view, warnings = people.change_team(conn, team_id, json_object(), agent_id=_me())
    return jsonify(dict(view, warnings=warnings))


@bp.put("/teams/<int:team_id>/members")
@api_auth(admin=True)
def replace_members(team_id: int):
    """The team's members become exactly these agents."""
    refs = people.load(MembersSchema(), json_object(), "members")["agent_ids"]
    with transaction(services().pool) as conn:
        return jsonify(people.set_team_members(conn, team_id, refs, agent_id=_me()))


@bp.post("/teams/<int:team_id>/members/<int:agent_id>")
@api_auth(admin=True)
def add_member(team_id: int, agent_id: int):
    with transaction(services().pool) as conn:
        people.team_or_404(conn, team_id)
        people.agent_or_404(conn, agent_id)
        if team_id not in teams.team_ids_of(conn, agent_id):
            teams.add_member(conn, team_id, agent_id)
            people.record_members(conn, _me(), team_id, [agent_id], [])
        return jsonify(people.team_view(conn, team_id))


@bp.delete("/teams/<int:team_id>/members/<int:agent_id>")
@api_auth(admin=True)
def remove_member(team_id: int, agent_id: int):
    with transaction(services().pool) as conn:
        people.team_or_404(conn, team_id)
        if team_id not in teams.team_ids_of(conn, agent_id):
            raise ApiError(404, f"agent {agent_id} is not a member of team {team_id}")
        teams.remove_member(conn, team_id, agent_id)
        people.record_members(conn, _me(), team_id, [], [agent_id])
        return jsonify(people.team_view(conn, team_id))


# --- agents -----------------------------------------------------------------------------------


@bp.get("/agents")
@api_auth(admin=True)
def list_agents():
    with services().pool.connection() as conn:
        return jsonify({"agents": people.agents_overview(conn)})


@bp.post("/agents")
@api_auth(admin=True)
def create_agent():
    """A new agent {email, name, password, is_admin?, teams?: [ids or names]}."""
    with transaction(services().pool) as conn:
        return jsonify(people.add_agent(conn, json_object(), agent_id=_me())), 201


@bp.patch("/agents/<int:agent_id>")
@api_auth(admin=True)
def update_agent(agent_id: int):
    """Change an agent's name, admin flag, capacity, or teams (exactly those given)."""
    with transaction(services().pool) as conn:
        return jsonify(people.change_agent(conn, agent_id, json_object(), agent_id=_me()))


@bp.post("/agents/<int:agent_id>/deactivate")
@api_auth(admin=True)
def deactivate_agent(agent_id: int):
    """The agent's sessions and API token stop working; their conversations go back to the queue."""
    with transaction(services().pool) as conn:
        return jsonify(people.deactivate_agent(conn, agent_id, agent_id=_me()))
