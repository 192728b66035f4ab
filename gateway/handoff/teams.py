"""Teams as admins see them (the admin API, `handoff team`): their hours,
whether they are open and available now (as UTC instants and in the team's
words), members and their presence; and the validation of a team's fields
that both use."""

from __future__ import annotations

from datetime import datetime

from marshmallow import Schema, fields, pre_load, validate

from gateway.handoff.availability import availability
from gateway.handoff.hours import BusinessHours, describe_opening, validate_hours
from gateway.store import agents, teams

# How many conversations at once an agent may hold.
MAX_CAPACITY = 100


def opening_status(hours_doc: dict, now: datetime) -> dict:
    """Whether these business hours are open at `now`, and when that changes
    next, as UTC instants and in the team's words ("tomorrow at 9:00 AM (Paris time)")."""
    return _opening_status(BusinessHours.from_doc(hours_doc), now)


def _opening_status(hours: BusinessHours, now: datetime) -> dict:
    opening, closing = hours.next_opening(now), hours.next_closing(now)
    return {"open_now": hours.is_open(now), "always_open": hours.always_open,
            "next_opening": opening, "next_opening_text": opening and describe_opening(opening, now, hours),
            "next_closing": closing, "next_closing_text": closing and describe_opening(closing, now, hours)}


def team_json(team: dict, members: list[dict], now: datetime) -> dict:
    """A team with its members (rows of agents.list_agents) and whether it can take a conversation now."""
    hours = BusinessHours.from_doc(team["hours"])
    online = sum(1 for member in members if member["presence"] == "online")
    status = _opening_status(hours, now)
    return {
        "id": team["id"], "name": team["name"], "hours": team["hours"], "auto_assign": team["auto_assign"],
        "email": team["email"], "created_at": team["created_at"], **status,
        "online": online,
        # What escalation decides on: open, with someone online; otherwise a ticket.
        "available": availability(hours, online, now).live,
        "members": [{"id": member["id"], "name": member["name"], "email": member["email"],
                     "presence": member["presence"], "capacity": member["capacity"],
                     "open_conversations": member["open_conversations"]} for member in members],
    }


def teams_overview(conn, now: datetime) -> list[dict]:
    """Every team, by name, as team_json shows it."""
    agents_by_id = {agent["id"]: agent for agent in agents.list_agents(conn)}
    return [team_json(team, [agents_by_id[agent_id] for agent_id in team["agent_ids"] if agent_id in agents_by_id],
                      now)
            for team in teams.list_teams(conn)]


class HoursField(fields.Field):
    """A business hours document, normalized; its problems are reported by field
    ({"weekly": {"mon[0]": ["'25:00' is not a time HH:MM"]}})."""

    def _deserialize(self, value, attr, data, **kwargs) -> dict:
        return validate_hours(value)


class NamedSchema(Schema):
    """Names are compared and stored without surrounding spaces."""

    @pre_load
    def strip_name(self, data, **kwargs):
        if isinstance(data, dict) and isinstance(data.get("name"), str):
            return {**data, "name": data["name"].strip()}
        return data


class TeamSchema(NamedSchema):
    name = fields.String(required=True, validate=validate.Length(
        min=1, max=100, error="a team name of 1 to 100 characters"))
    hours = HoursField()
    auto_assign = fields.Boolean()
    # Where the team's notification emails go; null: none.
    email = fields.Email(allow_none=True, error_messages={"invalid": "not an email address"})


