"""What agents do to conversations: claim, assign, transfer, note, resolve,
reopen, close a ticket (a reply is reply.py's; who may see what, access.py's).

Every action on a conversation works in the caller's transaction: it takes
the conversation's row lock first, re-checks under the lock the state it
expects (another agent or a worker may have changed it since the agent
looked), and returns the Effects to apply after commit. A refusal raises
ApiError (HTTP status, message, details), answered as JSON by the agent
API; nothing is changed then, since the caller's transaction rolls back.

Who may do what (admins may do everything, in every team):
- see a conversation, write a private note: members of its team (every agent
  when it has no team) and its assignee;
- claim: a member, when it is queued or a ticket (claiming one's own is a no-op);
- assign: the assignee handing over, or any member while nobody holds it; the
  new assignee must be a member of the team and, while the customer still
  waits for a first answer, online;
- transfer, resolve: the assignee, or any member while nobody holds it;
- reply: the assignee; a queued conversation or a ticket is claimed by the
  reply; a bot conversation only on a hybrid channel (the reply takes it over);
- reopen: any member; the conversation is assigned to whoever reopens it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from psycopg import errors as pg_errors

from channels.windows import window_state
from gateway.desk import access
from gateway.effects import Effects
from gateway.errors import ApiError
from gateway.events import emit
from gateway.handoff import wording
from gateway.handoff.assign import announce_agent, assign_to
from gateway.handoff.availability import CLOSED, NOBODY_ONLINE, team_availability
from gateway.handoff.escalate import queue_for_team
from gateway.handoff.hours import describe_opening
from gateway.store import agents, conversations, messages, teams, tickets
from gateway.store.channels import get_channel

log = logging.getLogger(__name__)



def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def assignee_name(conn, agent_id: int) -> str:
    return agents.agent_name(conn, agent_id) or f"agent {agent_id}"


def held_by_other(conn, conversation: dict) -> ApiError:
    name = assignee_name(conn, conversation["assignee_id"])
    return ApiError(409, f"conversation {conversation['id']} is assigned to {name}",
                       {"assignee_id": conversation["assignee_id"], "assignee": name})


def _require_open(conversation: dict, doing: str) -> None:
    if conversation["status"] == "resolved":
        raise resolved_refusal(conversation, doing)


def resolved_refusal(conversation: dict, doing: str) -> ApiError:
    return ApiError(409, f"conversation {conversation['id']} is resolved: reopen it before you {doing}")


def _require_escalated(conversation: dict) -> None:
    if conversation["status"] == "bot":
        raise ApiError(409, f"conversation {conversation['id']} is with the bot and was not escalated")


def _require_holder(conn, conversation: dict, agent: dict) -> None:
    """Only the assignee (or an admin) acts on an assigned conversation."""
    if conversation["status"] == "assigned" and conversation["assignee_id"] != agent["id"] and not agent["is_admin"]:
        raise held_by_other(conn, conversation)


# --- claim and assign -----------------------------------------------------------------------


def claim(conn, agent: dict, conversation_id: int) -> Effects:
    """Take a queued conversation or a ticket; the customer hears "<Name> from <Team> joined"."""
    conversation = access.seen_conversation(conn, agent, conversation_id, lock=True)
    effects = Effects(conversation_id)
    if conversation["status"] == "assigned" and conversation["assignee_id"] == agent["id"]:
        return effects  # already theirs: a repeated click changes nothing
    _require_open(conversation, "claim it")
    if conversation["status"] == "assigned":
        raise held_by_other(conn, conversation)
    _require_escalated(conversation)
    taken = take(conn, conversation, agent, effects, reason="claimed")
    announce_if_reachable(conn, taken, agent, effects)
    return effects


def take(conn, conversation: dict, agent: dict, effects: Effects, *, reason: str) -> dict:
    """The conversation assigned to `agent`, from the status it has under our lock."""
    taken = assign_to(conn, conversation, agent, effects, reason=reason, by_agent_id=agent["id"],
                              from_statuses=(conversation["status"],))
    if taken is None:  # cannot happen under the row lock; refuse rather than guess
        raise ApiError(409, f"conversation {conversation['id']} changed meanwhile: reload it")
    return taken


def announce_if_reachable(conn, conversation: dict, agent: dict, effects: Effects) -> None:
    """"Maya from Billing joined", when the channel may carry a system line now
    (not on WhatsApp after 24 hours nor on Messenger after 24 hours: the send
    would only fail)."""
    channel = get_channel(conn, conversation["channel_id"])
    if window_state(channel.kind, conversation["last_customer_message_at"], now_utc()).bot_may_send:
        announce_agent(conn, conversation, agent, effects)


def assign(conn, actor: dict, conversation_id: int, agent_id: int) -> Effects:
    """Give the conversation to a member of its team (see the module's rules).
    The customer hears the new agent's name with their first reply."""
    conversation = access.seen_conversation(conn, actor, conversation_id, lock=True)
    effects = Effects(conversation_id)
    target = agents.get_agent(conn, agent_id)
    if target is None:
        raise ApiError(400, "invalid assignment", {"agent_id": [f"no active agent {agent_id}"]})
    _require_open(conversation, "assign it")
    _require_escalated(conversation)
    if conversation["status"] == "assigned" and conversation["assignee_id"] == target["id"]:
        return effects
    _require_holder(conn, conversation, actor)
    team = teams.get_team(conn, conversation["team_id"]) if conversation["team_id"] else None
    if team and team["id"] not in teams.team_ids_of(conn, target["id"]):
        raise ApiError(409, f"{target['name']} is not in the {team['name']} team")
    if conversation["first_agent_reply_at"] is None and target["presence"] != "online":
        raise ApiError(409, f"{target['name']} is {target['presence']}: the customer is still waiting for a "
                               "first answer, so the conversation must go to someone online")
    reason = "handed_over" if conversation["assignee_id"] == actor["id"] else "assigned"
    assign_to(conn, conversation, target, effects, reason=reason, by_agent_id=actor["id"],
                      from_statuses=(conversation["status"],))
    return effects


# --- transfer -------------------------------------------------------------------------------


def transfer(conn, agent: dict, conversation_id: int, team: dict, *, note: str | None,
             missed_chat_timeout_seconds: float) -> Effects:
    """To another team: a live conversation joins that team's queue (and is
    auto-assigned there if the team works that way), and the customer hears
    their place in line; a ticket becomes that team's ticket."""
    conversation = access.seen_conversation(conn, agent, conversation_id, lock=True)
    effects = Effects(conversation_id)
    _require_open(conversation, "transfer it")
    _require_escalated(conversation)
    _require_holder(conn, conversation, agent)
    if conversation["team_id"] == team["id"]:
        raise ApiError(409, f"conversation {conversation_id} is already with the {team['name']} team")
    live = conversation["status"] != "ticket"
    now = now_utc()
    available = team_availability(conn, team, now)
    if live and available.why_not == CLOSED:
        reopens = available.hours.next_opening(now)
        back = f" (back {describe_opening(reopens, now, available.hours)})" if reopens else ""
        raise ApiError(409, f"the {team['name']} team is closed{back}: the conversation stays with you",
                       {"team_id": team["id"]})
    if live and available.why_not == NOBODY_ONLINE:
        raise ApiError(409, f"nobody in the {team['name']} team is online: the conversation stays with you",
                       {"team_id": team["id"]})
    if not live:
        tickets.move_open_ticket(conn, conversation_id, team["id"])
    moved = conversations.move_to_team(conn, conversation_id, team["id"], keep_ticket=not live)
    if note:
        note_id = messages.insert_private_note(conn, conversation_id=conversation_id, channel_id=moved["channel_id"],
                                               agent_id=agent["id"], text=note, transfer_to=team["name"])
        effects.publish("message.created", message_id=note_id, private=True, team_id=team["id"])
    detail = {"from_team_id": conversation["team_id"], "to_team_id": team["id"], "to_team": team["name"],
              "from_assignee_id": conversation["assignee_id"], "note": note}
    emit(conn, effects, "conversation.transferred", conversation_id=conversation_id, agent_id=agent["id"],
         team_id=team["id"], from_team_id=conversation["team_id"], detail=detail)
    if live:
        queue_for_team(conn, moved, team, effects, available,
                       opening=wording.transferring(team["name"], wording.language_of(moved)),
                       missed_chat_timeout_seconds=missed_chat_timeout_seconds)
    log.info("conversation %s transferred by agent %s to team %s", conversation_id, agent["id"], team["id"])
    return effects


# --- private notes --------------------------------------------------------------------------


def add_note(conn, agent: dict, conversation_id: int, text: str) -> tuple[int, Effects]:
    """A note for colleagues: stored with the transcript, never sent to the customer."""
    conversation = access.seen_conversation(conn, agent, conversation_id, lock=True)
    effects = Effects(conversation_id)
    note_id = messages.insert_private_note(conn, conversation_id=conversation_id,
                                           channel_id=conversation["channel_id"], agent_id=agent["id"], text=text)
    effects.publish("message.created", message_id=note_id, private=True, team_id=conversation["team_id"])
    return note_id, effects


# --- resolve and reopen ---------------------------------------------------------------------


def resolve(conn, agent: dict, conversation_id: int) -> Effects:
    conversation = access.seen_conversation(conn, agent, conversation_id, lock=True)
    if conversation["status"] == "resolved":
        raise ApiError(409, f"conversation {conversation_id} is already resolved")
    _require_holder(conn, conversation, agent)
    effects = Effects(conversation_id)
    _resolve(conn, conversation, agent, effects)
    return effects


def _resolve(conn, conversation: dict, agent: dict, effects: Effects) -> None:
    """Resolved, with its open ticket closed; the team and webhooks are told."""
    conversations.resolve_conversation(conn, conversation["id"])
    ticket = tickets.ticket_of_conversation(conn, conversation["id"])
    closed = ticket is not None and ticket["status"] != "closed"
    if closed:
        tickets.set_ticket_status(conn, ticket["id"], "closed")
    detail = {"previous_status": conversation["status"], "assignee_id": conversation["assignee_id"],
              "ticket_closed": ticket["number"] if closed else None}
    emit(conn, effects, "conversation.resolved", conversation_id=conversation["id"], agent_id=agent["id"],
         team_id=conversation["team_id"], detail=detail,
         data={"conversation_id": conversation["id"], "agent_id": agent["id"], "agent": agent["name"], **detail},
         summary=f"Conversation {conversation['id']} resolved by {agent['name']}")
    log.info("conversation %s resolved by agent %s", conversation["id"], agent["id"])


def reopen(conn, agent: dict, conversation_id: int) -> Effects:
    """A resolved conversation back, assigned to the agent who reopens it,
    unless the customer has opened a newer one on the same address since."""
    conversation = access.seen_conversation(conn, agent, conversation_id, lock=True)
    if conversation["status"] != "resolved":
        raise ApiError(409, f"conversation {conversation_id} is not resolved")
    newer = conversations.open_conversation_of_identity(conn, conversation["identity_id"])
    if newer is not None:
        raise _newer_open(conversation_id, newer)
    try:
        with conn.transaction():  # a savepoint: a customer's message may open one at this very moment
            conversations.reopen_conversation(conn, conversation_id, agent_id=agent["id"])
    except pg_errors.UniqueViolation:
        newer = conversations.open_conversation_of_identity(conn, conversation["identity_id"])
        raise _newer_open(conversation_id, newer) from None
    effects = Effects(conversation_id)
    emit(conn, effects, "conversation.reopened", conversation_id=conversation_id, agent_id=agent["id"],
         team_id=conversation["team_id"], detail={"previous_assignee_id": conversation["assignee_id"]})
    return effects


def _newer_open(conversation_id: int, newer_id: int | None) -> ApiError:
    return ApiError(409, f"conversation {conversation_id} cannot be reopened: the customer has an open "
                            f"conversation on the same address (continue in conversation {newer_id})",
                       {"open_conversation_id": newer_id})


# --- tickets --------------------------------------------------------------------------------


def close_ticket(conn, agent: dict, number: int) -> Effects:
    """Closed; a conversation that only waited on it (status ticket) is resolved with it."""
    ticket = access.seen_ticket(conn, agent, number)
    conversation_id = ticket["conversation_id"]
    conversation = conversations.lock_conversation(conn, conversation_id) if conversation_id else None
    ticket = tickets.get_ticket(conn, number)  # re-read under the conversation's lock
    if ticket["status"] == "closed":
        raise ApiError(409, f"ticket #{number} is already closed")
    effects = Effects(conversation_id)
    if conversation is not None and conversation["status"] == "ticket":
        _resolve(conn, conversation, agent, effects)
        return effects
    tickets.set_ticket_status(conn, ticket["id"], "closed")
    emit(conn, effects, "ticket.closed", conversation_id=conversation_id, agent_id=agent["id"],
         team_id=ticket["team_id"], detail={"number": number})
    return effects


def find_team(conn, *, team_id: int | None = None, name: str | None = None) -> dict:
    """The team named by id or by name (case-insensitive), or a 400 naming the field."""
    team = teams.get_team(conn, team_id) if team_id is not None else teams.team_by_name(conn, name or "")
    if team is None:
        field, value = ("team_id", team_id) if team_id is not None else ("team", name)
        raise ApiError(400, "invalid transfer", {field: [f"no team {value}"]})
    return team
