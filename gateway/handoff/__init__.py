"""Handing conversations to people: assignment, the customer's place in line,
and what the customer is told.

Shared by the agent API (claim, assign, transfer, reply) and the workers
(escalation, auto-assignment, the missed-chat ladder). Every function works
in the caller's transaction and records what must happen after commit in an
Effects.
"""

from __future__ import annotations

import logging
import math

from gateway.effects import Effects
from gateway.events import record as record_notification
from gateway.store import assignment, conversations, events, messages, teams

log = logging.getLogger(__name__)

# The inbox sends a heartbeat every 30 s; presence survives two missed beats.
PRESENCE_TTL_SECONDS = 90
# Before a team has answered enough conversations to measure it.
DEFAULT_WAIT_SECONDS = 180
MIN_WAIT_SAMPLES = 3


def estimate_wait_minutes(position: int, agents_online: int, median_seconds: float | None, samples: int) -> int:
    """Whole minutes until a person answers: the team's recent median time to a
    first reply for each round of conversations ahead (as many served at once
    as agents are online). At least one minute: a promise of "0 minutes" is
    one that is broken."""
    per_round = median_seconds if samples >= MIN_WAIT_SAMPLES and median_seconds else DEFAULT_WAIT_SECONDS
    rounds = math.ceil(max(position, 1) / max(agents_online, 1))
    return max(1, math.ceil(per_round * rounds / 60))


def minutes_text(minutes: int) -> str:
    return "about 1 minute" if minutes == 1 else f"about {minutes} minutes"


def place_text(position: int) -> str:
    return "next in line" if position <= 1 else f"#{position} in line"


def team_words(team_name: str | None) -> str:
    return f"our {team_name} team" if team_name else "our team"


def queue_status(conn, conversation: dict) -> tuple[int, int]:
    """(place in line, estimated minutes) of a waiting conversation."""
    position = assignment.queue_position(conn, conversation["id"])
    online = assignment.team_availability(conn, conversation["team_id"])["online"] if conversation["team_id"] else 0
    stats = assignment.team_wait_stats(conn, conversation["team_id"])
    return position, estimate_wait_minutes(position, online, stats["median_seconds"], stats["samples"])


def tell_place_in_line(conn, conversation: dict, effects: Effects, *, first: bool, team_name: str | None,
                       opening: str | None = None) -> None:
    """The customer's place in line and the estimated wait, on their channel
    (`opening` replaces "I'm connecting you with our <Team> team.")."""
    position, minutes = queue_status(conn, conversation)
    if first:
        opening = opening or f"I'm connecting you with {team_words(team_name)}."
        text = f"{opening} You're {place_text(position)} — {minutes_text(minutes)}."
    else:
        text = f"Thanks for waiting. You're now {place_text(position)} — {minutes_text(minutes)}."
    conversations.record_queue_notice(conn, conversation["id"], position)
    effects.send(messages.insert_outbound(
        conn, conversation_id=conversation["id"], channel_id=conversation["channel_id"], sender="system", text=text,
        metadata={"queue": {"position": position, "minutes": minutes}},
    ))


def assign_to(conn, conversation: dict, agent: dict, effects: Effects, *, reason: str,
              by_agent_id: int | None = None, from_statuses: tuple[str, ...] = ("queued",)) -> dict | None:
    """Give the conversation to `agent` if it is still as the caller saw it;
    None if someone else changed it first (another agent claimed it)."""
    assigned = assignment.assign(conn, conversation["id"], agent["id"], from_statuses=from_statuses,
                                 from_assignee=conversation["assignee_id"])
    if assigned is None:
        return None
    detail = {"agent_id": agent["id"], "agent": agent["name"], "reason": reason,
              "previous_assignee_id": conversation["assignee_id"]}
    events.record_event(conn, "conversation.assigned", conversation_id=conversation["id"],
                        agent_id=by_agent_id, detail=detail)
    effects.publish("conversation.assigned", agent_id=agent["id"], team_id=assigned["team_id"], reason=reason)
    effects.notify(record_notification(
        conn, "conversation.assigned", {"conversation_id": conversation["id"], **detail},
        summary=f"Conversation {conversation['id']} assigned to {agent['name']} ({reason})",
        conversation_id=conversation["id"], team_id=assigned["team_id"]))
    log.info("conversation %s assigned to agent %s (%s)", conversation["id"], agent["id"], reason)
    return assigned


def auto_assign(conn, conversation: dict, effects: Effects, *,
                exclude_agent_id: int | None = None) -> dict | None:
    """Round-robin to an online agent of the conversation's team with free
    capacity, if the team works that way; None leaves it in the queue."""
    team = teams.get_team(conn, conversation["team_id"]) if conversation["team_id"] else None
    if team is None or not team["auto_assign"]:
        return None
    agent = assignment.pick_agent(conn, team["id"], exclude_agent_id=exclude_agent_id)
    if agent is None:
        return None
    return assign_to(conn, conversation, agent, effects, reason="round_robin",
                     from_statuses=("queued", "assigned"))


def announce_agent(conn, conversation: dict, agent: dict, effects: Effects) -> None:
    """"Maya from Billing joined", once per agent per conversation, before their first words."""
    if messages.agent_announced(conn, conversation["id"], agent["id"]):
        return
    team = teams.get_team(conn, conversation["team_id"]) if conversation["team_id"] else None
    first_name = agent["name"].split()[0] if agent["name"].strip() else "An agent"
    text = f"{first_name} from {team['name']} joined" if team else f"{first_name} joined"
    effects.send(messages.insert_outbound(
        conn, conversation_id=conversation["id"], channel_id=conversation["channel_id"], sender="system",
        text=text, metadata={"agent_joined": agent["id"]},
    ))


def reassign_away(conn, conversation: dict, effects: Effects, *, reason: str) -> dict:
    """Take the conversation from its assignee (offline, unresponsive, away):
    to another online agent of the team with capacity, else back to the queue."""
    previous = conversation["assignee_id"]
    assigned = auto_assign(conn, conversation, effects, exclude_agent_id=previous)
    if assigned is None:
        assigned = assignment.unassign(conn, conversation["id"])
        effects.publish("conversation.unassigned", team_id=conversation["team_id"], reason=reason)
    events.record_event(conn, "conversation.reassigned", conversation_id=conversation["id"],
                        detail={"reason": reason, "from_agent_id": previous, "to_agent_id": assigned["assignee_id"]})
    log.info("conversation %s taken from agent %s (%s)", conversation["id"], previous, reason)
    return assigned
