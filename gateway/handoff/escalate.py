"""Handing a conversation from the bot to a team of people.

The trigger engine decides that a person should take over (and which team,
with what priority); this module does it:

- the conversation goes to the team's queue, with the handoff packet for the
  agent and an audit event naming the rule that fired;
- if the team is open (business hours) and someone is online: auto-assigned
  round-robin where the team works that way, and the customer is told their
  place in line and the estimated wait; a missed-chat check is scheduled;
- otherwise it becomes a ticket, and the customer is told honestly that the
  team is offline, when it is back, the ticket number and how the answer
  will reach them.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from gateway import handoff
from gateway.handoff.hours import describe_opening, team_hours
from gateway.effects import Effects
from gateway.events import record as record_notification
from gateway.store import (
    assignment,
    contacts,
    conversations,
    events,
    messages,
    teams,
    tickets,
)
from gateway.store.channels import get_channel
from workers.brain.summary import ASK_FOR_SUMMARY
from gateway.handoff.packet import build_packet
from gateway.bot.triggers import Decision

log = logging.getLogger(__name__)

# Channel modes where the bot keeps answering simple questions while a
# ticket or a missed chat waits for a person.
BOT_WAITS_WITH_CUSTOMER = ("hybrid", "offline_or_missed")
CHANNEL_WORDS = {"whatsapp": "here on WhatsApp", "messenger": "here on Messenger", "web": "here in this chat"}


def escalate_conversation(conn, conversation: dict, decision: Decision, message_id: int | None, *,
                          settings: dict, ai_provider: str, now: datetime) -> Effects:
    """Escalate in the caller's transaction; returns what to do after commit.
    `ai_provider`: the configured one (the bot settings' choice wins)."""
    effects = Effects(conversation["id"])
    team = teams.get_team(conn, teams.ensure_team(conn, decision.team or settings["default_team"]))
    detail = decision.event_detail()
    conversations.mark_escalated(conn, conversation["id"], team_id=team["id"], priority=decision.priority or "normal",
                                 reason=decision.rule, detail=detail)
    conversation = conversations.lock_conversation(conn, conversation["id"])
    packet = build_packet(conn, conversation["id"], now=now)
    conversations.store_handoff_packet(conn, conversation["id"], packet)
    conversation = {**conversation, "handoff_packet": packet}
    if (settings["provider"] or ai_provider) in ASK_FOR_SUMMARY:  # the extractive summary, until the LLM's is ready
        effects.schedule("workers.brain.summary.summarize_handoff", conversation["id"])
    events.record_event(conn, "conversation.escalated", conversation_id=conversation["id"], message_id=message_id,
                        detail=detail)
    effects.publish("conversation.escalated", team_id=team["id"], priority=conversation["priority"],
                    rule=decision.rule)
    effects.notify(record_notification(
        conn, "conversation.escalated", packet, conversation_id=conversation["id"], team_id=team["id"],
        summary=f"{team['name']}: conversation {conversation['id']} needs a person "
                f"({packet['trigger']['explanation']}, priority {conversation['priority']})"))
    log.info("conversation %s escalated to %s (%s, priority %s)", conversation["id"], team["name"],
             decision.rule, conversation["priority"])
    hours = team_hours(team)
    if not hours.is_open(now):
        open_ticket(conn, conversation, team, effects, why="closed", settings=settings, now=now)
    elif assignment.team_availability(conn, team["id"])["online"] == 0:
        open_ticket(conn, conversation, team, effects, why="nobody_online", settings=settings, now=now)
    else:
        handoff.auto_assign(conn, conversation, effects)
        handoff.tell_place_in_line(conn, conversation, effects, first=True, team_name=team["name"])
        effects.schedule("workers.schedule.check_missed_chat", conversation["id"],
                         delay_seconds=settings["missed_chat_timeout_seconds"])
    return effects


def team_available(conn, team_name: str, now: datetime) -> bool:
    """Open by its business hours, with someone online (an unknown team is neither)."""
    team = teams.team_by_name(conn, team_name)
    return team is not None and team_hours(team).is_open(now) \
        and assignment.team_availability(conn, team["id"])["online"] > 0


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
    events.record_event(conn, "ticket.created", conversation_id=conversation["id"],
                        detail={"number": ticket["number"], "why": why, "due_at": due_at.isoformat()})
    effects.publish("ticket.created", number=ticket["number"], team_id=ticket["team_id"])
    effects.notify(record_notification(
        conn, "ticket.created",
        {"number": ticket["number"], "subject": ticket["subject"], "why": why, "team": team["name"] if team else None,
         "due_at": due_at.isoformat(), "conversation_id": conversation["id"],
         "handoff_packet": conversation.get("handoff_packet")},
        summary=f"Ticket #{ticket['number']} ({why.replace('_', ' ')}): {ticket['subject']}",
        conversation_id=conversation["id"], team_id=ticket["team_id"]))
    text = offline_notice(team["name"] if team else None, why=why,
                          reopens=describe_opening(reopens, now, hours) if reopens else None,
                          number=ticket["number"], channel_kind=channel_kind, email=email)
    effects.send(messages.insert_outbound(
        conn, conversation_id=conversation["id"], channel_id=conversation["channel_id"], sender="system",
        text=text, metadata={"ticket": ticket["number"], "ask_email": channel_kind == "web" and not email},
    ))
    log.info("conversation %s: ticket #%s (%s)", conversation["id"], ticket["number"], why)
    return ticket


def offline_notice(team_name: str | None, *, why: str, reopens: str | None, number: int, channel_kind: str,
                   email: str | None) -> str:
    """What the customer is told when nobody can answer now: why, when the
    team is back, the ticket number, and how the answer will reach them."""
    team = handoff.team_words(team_name)
    if why == "closed":
        opening = f"{team[0].upper()}{team[1:]} is offline right now"
        opening += f" and back {reopens}." if reopens else "."
    elif why == "nobody_online":
        opening = f"Nobody from {team} is available right now."
    else:
        opening = f"I'm sorry, nobody from {team} could pick up your conversation in time."
    reply = f"I've created ticket #{number} for you, and a person will reply {CHANNEL_WORDS[channel_kind]}"
    if email:
        reply += f" or by email to {email}."
    elif channel_kind == "web":
        reply += ". If you may leave this page, tell me your email address and we'll answer there."
    else:
        reply += "."
    return f"{opening} {reply}"


def ticket_subject(conn, conversation_id: int) -> str:
    """The customer's first substantial message, which usually says what it is about."""
    text = " ".join((messages.first_customer_text(conn, conversation_id, min_length=12) or "").split()) \
        or f"Conversation {conversation_id}"
    return text if len(text) <= 80 else text[:79].rstrip() + "…"
