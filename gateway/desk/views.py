"""What agents read, under both the inbox pages and the agent API: one
read model per screen, built under the desk.access rule; the pages render
it, the API serializes it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gateway.conversations.state import waiting_for_person
from gateway.desk.access import access_of, seen_conversation
from gateway.desk.reply import ReplyContext, reply_context
from gateway.handoff.availability import queue_status
from gateway.store import assignment, contacts, conversations, teams, tickets

# The latest messages a conversation opens on.
TRANSCRIPT_LIMIT = 300


@dataclass(frozen=True)
class ConversationView:
    conversation: dict            # conversations.conversation_detail
    contact: dict
    identities: list[dict]        # the contact's addresses on every channel
    others: list[dict]            # the contact's other conversations the agent may see
    messages: list[dict]          # the latest TRANSCRIPT_LIMIT, private notes included
    message_count: int
    events: list[dict]            # the audit trail
    ticket: dict | None           # the conversation's ticket, closed ones too
    reply: ReplyContext           # how a reply would reach the customer now
    queue: dict | None            # {"position", "minutes"} while the customer waits for a first answer


def conversation_view(conn, agent: dict, conversation_id: int, now: datetime) -> ConversationView:
    """The conversation as the agent may see it (ApiError 404 / 403 otherwise)."""
    found = seen_conversation(conn, agent, conversation_id)
    detail = conversations.conversation_detail(conn, conversation_id)
    transcript, total = conversations.transcript_tail(conn, conversation_id, limit=TRANSCRIPT_LIMIT)
    queue = None
    if waiting_for_person(found):
        team = teams.get_team(conn, found["team_id"]) if found["team_id"] else None
        position, minutes = queue_status(conn, found, team, now)
        queue = {"position": position, "minutes": minutes}
    return ConversationView(
        conversation=detail,
        contact=contacts.get_contact(conn, found["contact_id"]),
        identities=contacts.identities_of(conn, found["contact_id"]),
        others=conversations.conversations_of_contact(conn, found["contact_id"], access_of(conn, agent).sql_params(),
                                                      exclude_id=conversation_id),
        messages=transcript, message_count=total,
        events=conversations.conversation_events(conn, conversation_id),
        ticket=tickets.ticket_of_conversation(conn, conversation_id),
        reply=reply_context(conn, found, now),
        queue=queue,
    )


def queue_of(conn, team_ids: list[int]) -> list[dict]:
    """The conversations waiting in these teams, in serving order, each with its place in its team's line."""
    places: dict[int, int] = {}
    waiting = assignment.team_queue(conn, team_ids)
    for row in waiting:
        places[row["team_id"]] = row["position"] = places.get(row["team_id"], 0) + 1
    return waiting
