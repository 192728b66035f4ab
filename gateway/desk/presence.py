"""Agents' presence: online, away or offline, kept alive by a heartbeat,
and what a change does to the conversations they hold or could take.
"""

from __future__ import annotations

import logging

from gateway.db import transaction
from gateway.effects import Effects
from gateway.events import emit
from gateway.handoff import assign
from gateway.services import Services
from gateway.store import agents, assignment, conversations

log = logging.getLogger(__name__)

# The inbox sends a heartbeat every 30 s; presence survives two missed beats.
PRESENCE_TTL_SECONDS = 90
# How many queued conversations an agent coming online looks at.
ARRIVAL_SCAN = 200


def set_presence(conn, agent: dict, presence: str | None) -> tuple[dict, str]:
    """Set (or, with None, renew) the agent's presence for PRESENCE_TTL_SECONDS;
    returns (the agent, their effective presence before)."""
    current = agents.lock_presence(conn, agent["id"])
    updated = agents.set_presence(conn, agent["id"], presence or current["presence"],
                                  ttl_seconds=PRESENCE_TTL_SECONDS)
    if updated["presence"] != current["effective"]:
        emit(conn, None, "agent.presence", agent_id=agent["id"],
             detail={"from": current["effective"], "to": updated["presence"]})
        log.info("agent %s is %s (was %s)", agent["id"], updated["presence"], current["effective"])
    return updated, current["effective"]


def presence_followups(svc: Services, agent: dict, before: str) -> dict:
    """What a presence change does to conversations, one transaction each (as
    the workers do: a conversation lock is never held while waiting for
    another's, nor for a team's): an agent coming online takes queued
    conversations of their auto-assign teams; one who is not online hands the
    conversations still waiting for a first answer to others or to the queue."""
    if agent["presence"] == "online":
        return {"assigned": take_queue_on_arrival(svc, agent) if before != "online" else [], "handed_back": []}
    return {"assigned": [], "handed_back": hand_back_waiting(svc, agent)}


def take_queue_on_arrival(svc: Services, agent: dict) -> list[int]:
    """Queued conversations of the agent's auto-assign teams, highest priority
    and oldest first, auto-assigned (round-robin: usually to the newcomer, the
    one with free capacity) until the agent is full; the ids they got."""
    with svc.pool.connection() as conn:
        waiting = assignment.queued_for_agent(conn, agent["id"], limit=ARRIVAL_SCAN)
        room = agent["capacity"] - assignment.open_load(conn, agent["id"])
    mine, full_teams = [], set()
    for row in waiting:
        if len(mine) >= room:
            break
        if row["team_id"] in full_teams:
            continue
        with transaction(svc.pool) as conn:
            effects = Effects(row["id"])
            conversation = conversations.lock_conversation(conn, row["id"])
            if conversation["status"] != "queued" or conversation["assignee_id"] is not None:
                continue
            assigned = assign.auto_assign(conn, conversation, effects)
        effects.apply(svc.redis, svc.config)
        if assigned is None:
            full_teams.add(row["team_id"])  # nobody in that team has room
        elif assigned["assignee_id"] == agent["id"]:
            mine.append(row["id"])
    return mine


def hand_back_waiting(svc: Services, agent: dict) -> list[int]:
    """The agent's conversations still waiting for a first answer, to another
    online teammate or back to the queue (those already answered stay theirs)."""
    with svc.pool.connection() as conn:
        waiting = assignment.unanswered_of_agent(conn, agent["id"])
    handed = []
    for conversation_id in waiting:
        with transaction(svc.pool) as conn:
            effects = Effects(conversation_id)
            conversation = conversations.lock_conversation(conn, conversation_id)
            if conversation["assignee_id"] != agent["id"] or conversation["status"] != "assigned" \
                    or conversation["first_agent_reply_at"] is not None:
                continue
            assign.reassign_away(conn, conversation, effects, reason=f"assignee_{agent['presence']}")
        effects.apply(svc.redis, svc.config)
        handed.append(conversation_id)
    return handed
