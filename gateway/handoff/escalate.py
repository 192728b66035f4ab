"""Handing a conversation from the bot to a team of people.

The trigger engine decides that a person should take over (and which team,
with what priority); this module does it:

- the conversation goes to the team's queue, with the handoff packet for the
  agent and an audit event naming the rule that fired;
- if the team is available (availability.py): auto-assigned round-robin
  where the team works that way, and the customer is told their place in
  line and the estimated wait; a missed-chat check is scheduled. A transfer
  queues the conversation for its new team the same way;
- otherwise it becomes a ticket, and the customer is told honestly that the
  team is offline, when it is back, the ticket number and how the answer
  will reach them.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from channels.registry import capabilities
from gateway.bot.triggers import Decision
from gateway.config import LLM_PROVIDERS
from gateway.conversations.state import BOT_WAITS_WITH_CUSTOMER
from gateway.effects import Effects
from gateway.events import emit
from gateway.handoff import assign, wording
from gateway.handoff.availability import Availability, team_availability
from gateway.handoff.hours import describe_opening, team_hours
from gateway.handoff.packet import build_packet
from gateway.store import assignment, contacts, conversations, messages, teams, tickets
from gateway.store.channels import get_channel

log = logging.getLogger(__name__)

def escalate_conversation(conn, conversation: dict, decision: Decision, message_id: int | None, *,
                          settings: dict, ai_provider: str, now: datetime, language: str | None = None) -> Effects:
    """Escalate in the caller's transaction; returns what to do after commit.
    `ai_provider`: the configured one (the bot settings' choice wins).
    `language`: the customer's (gateway.bot.text), recorded with the escalation
    so that every later sentence to them is in it (wording.language_of)."""
    effects = Effects(conversation["id"])
    team = teams.get_team(conn, teams.ensure_team(conn, decision.team or settings["default_team"]))
    detail = decision.event_detail()
    if language:
        detail["language"] = language
    conversations.mark_escalated(conn, conversation["id"], team_id=team["id"], priority=decision.priority or "normal",
                                 reason=decision.rule, detail=detail)
    conversation = conversations.lock_conversation(conn, conversation["id"])
    packet = build_packet(conn, conversation["id"], now=now)
    conversations.store_handoff_packet(conn, conversation["id"], packet)
    conversation = {**conversation, "handoff_packet": packet}
    if (settings["provider"] or ai_provider) in LLM_PROVIDERS:  # the extractive summary, until the LLM's is ready
        effects.schedule("workers.brain.summary.summarize_handoff", conversation["id"])
    emit(conn, effects, "conversation.escalated", conversation_id=conversation["id"], message_id=message_id,
         team_id=team["id"], detail=detail, data=packet,
         summary=f"{team['name']}: conversation {conversation['id']} needs a person "
                 f"({packet['trigger']['explanation']}, priority {conversation['priority']})")
    log.info("conversation %s escalated to %s (%s, priority %s)", conversation["id"], team["name"],
             decision.rule, conversation["priority"])
    available = team_availability(conn, team, now)
    if available.live:
        queue_for_team(conn, conversation, team, effects, available,
                       opening=wording.connecting(team["name"], language),
                       missed_chat_timeout_seconds=settings["missed_chat_timeout_seconds"])
    else:
        open_ticket(conn, conversation, team, effects, why=available.why_not, settings=settings, now=now)
    return effects


def team_available(conn, team_name: str, now: datetime) -> bool:
    """Whether the team named so can take a conversation live now (an unknown team cannot)."""
    return team_availability(conn, teams.team_by_name(conn, team_name), now).live


def queue_for_team(conn, conversation: dict, team: dict, effects: Effects, available: Availability, *,
                   opening: str, missed_chat_timeout_seconds: float) -> None:
    """The conversation waits for a person of this (available) team, as an
    escalation or a transfer leaves it: auto-assigned if the team works that
    way, the customer told their place in line after `opening`, and the
    missed-chat ladder started."""
    assign.auto_assign(conn, conversation, effects)
    tell_place_in_line(conn, conversation, effects, available, opening=opening)
    effects.schedule("workers.schedule.check_missed_chat", conversation["id"],
                     delay_seconds=missed_chat_timeout_seconds)


def tell_place_in_line(conn, conversation: dict, effects: Effects, available: Availability, *,
                       opening: str | None = None, position: int | None = None) -> None:
    """The customer's place in line and the estimated wait, on their channel:
    after `opening` the first time, as an update otherwise (opening None).
    `position`: the place if the caller knows it already."""
    if position is None:
        position = assignment.queue_position(conn, conversation["id"])
    minutes = available.wait_minutes(position)
    conversations.record_queue_notice(conn, conversation["id"], position)
    effects.send(messages.insert_outbound(
        conn, conversation_id=conversation["id"], channel_id=conversation["channel_id"], sender="system",
        text=wording.place_in_line(position, minutes, opening=opening, language=wording.language_of(conversation)),
        metadata={"queue": {"position": position, "minutes": minutes}},
    ))




def open_ticket(conn, conversation: dict, team: dict | None, effects: Effects, *, why: str, settings: dict,
                now: datetime) -> dict:
    """Nobody can take the conversation live: a ticket, and the customer is
    told when and how they will hear back. `why`: closed | nobody_online | missed."""
    hours = team_hours(team)
    reopens = hours.next_opening(now)
    due_at = hours.add_business_time(now, timedelta(hours=settings["ticket_due_business_hours"]))
    contact = contacts.get_contact(conn, conversation["contact_id"])
    collected_emails = conversation["collected"].get("emails") or []
    email = contact["email"] or (collected_emails[-1] if collected_emails else None)
    ticket, created = tickets.open_ticket(
        conn, conversation_id=conversation["id"], contact_id=conversation["contact_id"],
        team_id=team["id"] if team else None, subject=ticket_subject(conn, conversation["id"]),
        reason=conversation["escalation_reason"] or why, due_at=due_at, email=email)
    channel_kind = get_channel(conn, conversation["channel_id"]).kind
    conversations.mark_ticket(conn, conversation["id"], bot_fallback=conversation["mode"] in BOT_WAITS_WITH_CUSTOMER)
    if not created:
        return ticket
    emit(conn, effects, "ticket.created", conversation_id=conversation["id"], team_id=ticket["team_id"],
         detail={"number": ticket["number"], "why": why, "due_at": due_at.isoformat()},
         data={"number": ticket["number"], "subject": ticket["subject"], "why": why,
               "team": team["name"] if team else None, "due_at": due_at.isoformat(),
               "conversation_id": conversation["id"], "handoff_packet": conversation.get("handoff_packet")},
         summary=f"Ticket #{ticket['number']} ({why.replace('_', ' ')}): {ticket['subject']}")
    language = wording.language_of(conversation)
    text = wording.offline_notice(team["name"] if team else None, why=why,
                                  reopens=describe_opening(reopens, now, hours, language) if reopens else None,
                                  number=ticket["number"], channel_kind=channel_kind, email=email, language=language)
    effects.send(messages.insert_outbound(
        conn, conversation_id=conversation["id"], channel_id=conversation["channel_id"], sender="system",
        text=text, metadata={"ticket": ticket["number"],
                                            "ask_email": capabilities(channel_kind).asks_for_email and not email},
    ))
    log.info("conversation %s: ticket #%s (%s)", conversation["id"], ticket["number"], why)
    return ticket


def ticket_subject(conn, conversation_id: int) -> str:
    """The customer's first substantial message, which usually says what it is about."""
    text = " ".join((messages.first_customer_text(conn, conversation_id, min_length=12) or "").split()) \
        or f"Conversation {conversation_id}"
    return text if len(text) <= 80 else text[:79].rstrip() + "…"
