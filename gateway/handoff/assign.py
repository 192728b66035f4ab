"""Who holds a conversation: assigning it to an agent (claims, transfers,
round-robin), taking it from one who is gone, and the customer told who joined.

Every function works in the caller's transaction, with the conversation's
row lock taken by the caller, and records what must happen after commit in
an Effects. An assignment is one guarded UPDATE: of two concurrent claims,
one wins.
"""

from __future__ import annotations

import logging

from gateway.effects import Effects
from gateway.events import emit
from gateway.handoff import wording
from gateway.store import assignment, messages, teams

log = logging.getLogger(__name__)


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
    emit(conn, effects, "conversation.assigned", conversation_id=conversation["id"], agent_id=by_agent_id,
         assignee_id=agent["id"], team_id=assigned["team_id"], detail=detail,
         summary=f"Conversation {conversation['id']} assigned to {agent['name']} ({reason})")
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
    text = wording.agent_joined(agent["name"], team and team["name"], wording.language_of(conversation))
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
        emit(conn, effects, "conversation.unassigned", conversation_id=conversation["id"],
             team_id=conversation["team_id"])
    emit(conn, effects, "conversation.reassigned", conversation_id=conversation["id"],
         detail={"reason": reason, "from_agent_id": previous, "to_agent_id": assigned["assignee_id"]})
    log.info("conversation %s taken from agent %s (%s)", conversation["id"], previous, reason)
    return assigned
