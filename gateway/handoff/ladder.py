"""The care of conversations waiting for a person: the missed-chat ladder.

One step for one waiting conversation, run by the scheduled missed-chat
check and by the sweeper's tending (workers/schedule.py):

- an assignee who went offline loses it (to another online agent, else the queue);
- a missed-chat timeout after the escalation (step 1): the team is alerted
  again and an assignee who did not answer loses it; on offline_or_missed
  channels the bot starts helping meanwhile;
- twice the timeout (step 2): the customer is told honestly, then a ticket
  or the bot helps while they keep their place (missed_chat_action);
- otherwise: auto-assigned when someone became free, and the customer hears
  their place in line when it moved or after a while.

A fresh assignee (claimed or reassigned) always gets a whole timeout.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from gateway.conversations.state import waiting_for_person
from gateway.effects import Effects
from gateway.events import emit
from gateway.handoff import assign, wording
from gateway.handoff.availability import team_availability
from gateway.handoff.escalate import open_ticket, tell_place_in_line
from gateway.store import agents, assignment, conversations, messages, teams

log = logging.getLogger(__name__)


def tend_conversation(conn, conversation: dict, settings: dict, now: datetime) -> tuple[Effects, str]:
    """One step for one waiting conversation (locked by the caller)."""
    effects = Effects(conversation["id"])
    if not waiting_for_person(conversation):
        return effects, "not waiting"
    timeout = timedelta(seconds=settings["missed_chat_timeout_seconds"])
    waited = now - conversation["escalated_at"]
    stage = conversation["missed_stage"]
    if conversation["assignee_id"] is not None and assignee_offline(conn, conversation["assignee_id"]):
        conversation = assign.reassign_away(conn, conversation, effects, reason="assignee_offline")
    # An agent who just took the conversation (claimed it, or got it from the
    # ladder's first step) has a whole timeout to answer before the next step.
    assignee_had_time = conversation["assignee_id"] is None or conversation["assigned_at"] is None \
        or now - conversation["assigned_at"] >= timeout
    if stage == 0 and waited >= timeout and assignee_had_time:
        return effects, missed_once(conn, conversation, effects, settings, waited)
    if stage == 1 and waited >= 2 * timeout and assignee_had_time:
        return effects, missed_twice(conn, conversation, effects, settings, waited, now)
    if conversation["status"] == "queued" and conversation["assignee_id"] is None:
        assigned = assign.auto_assign(conn, conversation, effects)
        if assigned:
            return effects, "assigned"
    position = queue_update_due(conn, conversation, settings, now)
    if position is not None:
        team = teams.get_team(conn, conversation["team_id"]) if conversation["team_id"] else None
        tell_place_in_line(conn, conversation, effects, team_availability(conn, team, now), position=position)
        return effects, "told place in line"
    return effects, "waiting"


def missed_once(conn, conversation: dict, effects: Effects, settings: dict, waited: timedelta) -> str:
    """First step: alert the team again and take the conversation from an
    assignee who did not answer; on offline_or_missed channels the bot starts
    helping the customer."""
    _record_missed(conn, conversation, effects, stage=1, waited=waited)
    if conversation["assignee_id"] is not None:
        conversation = assign.reassign_away(conn, conversation, effects, reason="missed_chat")
    if conversation["mode"] == "offline_or_missed":
        _bot_helps_meanwhile(conn, conversation, effects, wording.missed_bot_helps(wording.language_of(conversation)))
    effects.schedule("workers.schedule.check_missed_chat", conversation["id"],
                     delay_seconds=settings["missed_chat_timeout_seconds"])
    return "missed: team alerted"


def missed_twice(conn, conversation: dict, effects: Effects, settings: dict, waited: timedelta,
                 now: datetime) -> str:
    """Second step: tell the customer honestly, then a ticket or the bot, as configured."""
    _record_missed(conn, conversation, effects, stage=2, waited=waited)
    team = teams.get_team(conn, conversation["team_id"]) if conversation["team_id"] else None
    if settings["missed_chat_action"] == "ticket":
        open_ticket(conn, conversation, team, effects, why="missed", settings=settings, now=now)
        return "missed: ticket"
    _bot_helps_meanwhile(conn, conversation, effects,
                         wording.missed_still_waiting(team and team["name"], wording.language_of(conversation)))
    return "missed: bot helps"


def assignee_offline(conn, agent_id: int) -> bool:
    agent = agents.get_agent(conn, agent_id)
    return agent is None or agent["presence"] != "online"


def queue_update_due(conn, conversation: dict, settings: dict, now: datetime) -> int | None:
    """The place in line to tell the customer again, when it improved
    materially (two places, or to the front) or after queue_update_seconds;
    None when no update is due."""
    told, told_at = conversation["queue_notice_position"], conversation["queue_notice_at"]
    if told is None or told_at is None:
        return None
    position = assignment.queue_position(conn, conversation["id"])
    improved = position < told and (told - position >= 2 or position == 1)
    due = improved or now - told_at >= timedelta(seconds=settings["queue_update_seconds"])
    return position if due else None


def _record_missed(conn, conversation: dict, effects: Effects, *, stage: int, waited: timedelta) -> None:
    conversations.set_missed_stage(conn, conversation["id"], stage)
    detail = {"stage": stage, "waited_seconds": int(waited.total_seconds()), "assignee_id": conversation["assignee_id"]}
    emit(conn, effects, "conversation.missed", conversation_id=conversation["id"], team_id=conversation["team_id"],
         assignee_id=conversation["assignee_id"], detail=detail,
         summary=f"Missed chat: conversation {conversation['id']} has waited {int(waited.total_seconds() // 60)} "
                 "minutes for a person")
    log.warning("conversation %s: missed chat, stage %s", conversation["id"], stage)


def _bot_helps_meanwhile(conn, conversation: dict, effects: Effects, text: str) -> None:
    conversations.set_bot_fallback(conn, conversation["id"])
    effects.send(messages.insert_outbound(
        conn, conversation_id=conversation["id"], channel_id=conversation["channel_id"], sender="system",
        text=text, metadata={"missed_chat": True}))
    effects.schedule("workers.inbound.answer_waiting", conversation["id"])

