"""Handing a conversation from the bot to a team of people.

The trigger engine decides that (and which team, with what priority); this
module records it: the conversation joins the team's queue, the audit trail
says which rule fired and why, and the customer is told a person is coming.
"""

from __future__ import annotations

import logging

from gateway.store import conversations, events, messages, teams
from workers.triggers import Decision

log = logging.getLogger(__name__)


def escalate_conversation(conn, conversation: dict, decision: Decision, message_id: int) -> int | None:
    """Escalate in the caller's transaction; returns the id of the message that
    tells the customer (to send after commit)."""
    team_name = decision.team
    team_id = teams.ensure_team(conn, team_name) if team_name else None
    detail = decision.event_detail()
    conversations.mark_escalated(conn, conversation["id"], team_id=team_id, priority=decision.priority or "normal",
                                 reason=decision.rule, detail=detail)
    events.record_event(conn, "conversation.escalated", conversation_id=conversation["id"], message_id=message_id,
                        detail=detail)
    log.info("conversation %s escalated to %s (%s, priority %s)", conversation["id"], team_name or "no team",
             decision.rule, decision.priority)
    team_words = f"our {team_name} team" if team_name else "a member of our team"
    return messages.insert_outbound(
        conn, conversation_id=conversation["id"], channel_id=conversation["channel_id"], sender="system",
        text=f"I'm connecting you with {team_words}. A person will reply here as soon as they can.",
        metadata={"escalation": decision.rule},
    )
