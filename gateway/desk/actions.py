"""What agents do: claim, assign, transfer, reply, note, resolve, reopen,
presence, close a ticket; and what they may see.

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
from dataclasses import dataclass
from datetime import datetime, timezone

from psycopg import errors as pg_errors

from channels.messenger import TEXT_LIMIT as MESSENGER_TEXT_LIMIT
from channels.templates import (
    Template,
    TemplateError,
    load_templates,
    message_metadata,
    render,
)
from channels.windows import Window, window_state
from gateway import handoff
from gateway.handoff.hours import describe_opening, team_hours
from gateway.db import transaction
from gateway.effects import Effects
from gateway.errors import ApiError
from gateway.events import record as record_notification
from gateway.desk.reply_plan import VIA_EMAIL, VIA_TEMPLATE, ReplyPlan, plan_reply
from gateway.services import Services
from gateway.store import (
    agents,
    assignment,
    contacts,
    conversations,
    events,
    messages,
    teams,
    tickets,
)
from gateway.store.channels import ChannelRow, get_channel

log = logging.getLogger(__name__)

# The longest text a channel carries in one message: Twilio refuses a longer
# WhatsApp body (21617); the Messenger adapter would cut it short.
CHANNEL_TEXT_LIMITS = {"whatsapp": 1600, "messenger": MESSENGER_TEXT_LIMIT}
# How many queued conversations an agent coming online looks at.
ARRIVAL_SCAN = 200


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


# --- who sees what --------------------------------------------------------------------------


def visible_team_ids(conn, agent: dict) -> list[int]:
    """The teams whose conversations the agent sees: all of them for an admin."""
    if agent["is_admin"]:
        return teams.all_team_ids(conn)
    return teams.team_ids_of(conn, agent["id"])


def may_see(conn, agent: dict, conversation: dict) -> bool:
    return (agent["is_admin"] or conversation["team_id"] is None or conversation["assignee_id"] == agent["id"]
            or conversation["team_id"] in teams.team_ids_of(conn, agent["id"]))


def seen_conversation(conn, agent: dict, conversation_id: int, *, lock: bool = False) -> dict:
    """The conversation (locked until commit if asked), or 404 / 403."""
    if lock:
        conversation = conversations.lock_conversation(conn, conversation_id)
    else:
        conversation = conversations.get_conversation(conn, conversation_id)
    if conversation is None:
        raise ApiError(404, f"no conversation {conversation_id}")
    if not may_see(conn, agent, conversation):
        raise ApiError(403, f"conversation {conversation_id} belongs to a team you are not in")
    return conversation


def _assignee_name(conn, agent_id: int) -> str:
    return agents.agent_name(conn, agent_id) or f"agent {agent_id}"


def _held_by_other(conn, conversation: dict) -> ApiError:
    name = _assignee_name(conn, conversation["assignee_id"])
    return ApiError(409, f"conversation {conversation['id']} is assigned to {name}",
                       {"assignee_id": conversation["assignee_id"], "assignee": name})


def _require_open(conversation: dict, doing: str) -> None:
    if conversation["status"] == "resolved":
        raise _resolved(conversation, doing)


def _resolved(conversation: dict, doing: str) -> ApiError:
    return ApiError(409, f"conversation {conversation['id']} is resolved: reopen it before you {doing}")


def _require_escalated(conversation: dict) -> None:
    if conversation["status"] == "bot":
        raise ApiError(409, f"conversation {conversation['id']} is with the bot and was not escalated")


def _require_holder(conn, conversation: dict, agent: dict) -> None:
    """Only the assignee (or an admin) acts on an assigned conversation."""
    if conversation["status"] == "assigned" and conversation["assignee_id"] != agent["id"] and not agent["is_admin"]:
        raise _held_by_other(conn, conversation)


# --- claim and assign -----------------------------------------------------------------------


def claim(conn, agent: dict, conversation_id: int) -> Effects:
    """Take a queued conversation or a ticket; the customer hears "<Name> from <Team> joined"."""
    conversation = seen_conversation(conn, agent, conversation_id, lock=True)
    effects = Effects(conversation_id)
    if conversation["status"] == "assigned" and conversation["assignee_id"] == agent["id"]:
        return effects  # already theirs: a repeated click changes nothing
    _require_open(conversation, "claim it")
    if conversation["status"] == "assigned":
        raise _held_by_other(conn, conversation)
    _require_escalated(conversation)
    taken = _take(conn, conversation, agent, effects, reason="claimed")
    announce_if_reachable(conn, taken, agent, effects)
    return effects


def _take(conn, conversation: dict, agent: dict, effects: Effects, *, reason: str) -> dict:
    """The conversation assigned to `agent`, from the status it has under our lock."""
    taken = handoff.assign_to(conn, conversation, agent, effects, reason=reason, by_agent_id=agent["id"],
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
        handoff.announce_agent(conn, conversation, agent, effects)


def assign(conn, actor: dict, conversation_id: int, agent_id: int) -> Effects:
    """Give the conversation to a member of its team (see the module's rules).
    The customer hears the new agent's name with their first reply."""
    conversation = seen_conversation(conn, actor, conversation_id, lock=True)
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
    handoff.assign_to(conn, conversation, target, effects, reason=reason, by_agent_id=actor["id"],
                      from_statuses=(conversation["status"],))
    return effects


# --- transfer -------------------------------------------------------------------------------


def transfer(conn, agent: dict, conversation_id: int, team: dict, *, note: str | None,
             missed_chat_timeout_seconds: float) -> Effects:
    """To another team: a live conversation joins that team's queue (and is
    auto-assigned there if the team works that way), and the customer hears
    their place in line; a ticket becomes that team's ticket."""
    conversation = seen_conversation(conn, agent, conversation_id, lock=True)
    effects = Effects(conversation_id)
    _require_open(conversation, "transfer it")
    _require_escalated(conversation)
    _require_holder(conn, conversation, agent)
    if conversation["team_id"] == team["id"]:
        raise ApiError(409, f"conversation {conversation_id} is already with the {team['name']} team")
    live = conversation["status"] != "ticket"
    hours = team_hours(team)
    now = datetime.now(timezone.utc)
    if live and not hours.is_open(now):
        reopens = hours.next_opening(now)
        back = f" (back {describe_opening(reopens, now, hours)})" if reopens else ""
        raise ApiError(409, f"the {team['name']} team is closed{back}: the conversation stays with you",
                          {"team_id": team["id"]})
    if live and assignment.team_availability(conn, team["id"])["online"] == 0:
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
    events.record_event(conn, "conversation.transferred", conversation_id=conversation_id, agent_id=agent["id"],
                        detail=detail)
    effects.publish("conversation.transferred", team_id=team["id"], from_team_id=conversation["team_id"],
                    agent_id=agent["id"])
    if live:
        handoff.auto_assign(conn, moved, effects)
        handoff.tell_place_in_line(conn, moved, effects, first=True, team_name=team["name"],
                                   opening=f"I'm transferring you to {handoff.team_words(team['name'])}.")
        effects.schedule("workers.schedule.check_missed_chat", conversation_id,
                         delay_seconds=missed_chat_timeout_seconds)
    log.info("conversation %s transferred by agent %s to team %s", conversation_id, agent["id"], team["id"])
    return effects


# --- reply ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplyContext:
    """What decides how a reply reaches the customer."""

    channel: ChannelRow
    window: Window
    templates: tuple[Template, ...]
    email: str | None
    ticket: dict | None  # the conversation's ticket that is not closed


def reply_context(conn, conversation: dict, now: datetime) -> ReplyContext:
    channel = get_channel(conn, conversation["channel_id"])
    ticket = tickets.ticket_of_conversation(conn, conversation["id"])
    if ticket is not None and ticket["status"] == "closed":
        ticket = None
    contact = contacts.get_contact(conn, conversation["contact_id"])
    collected = (conversation["collected"] or {}).get("emails") or []
    email = (ticket and ticket["reply_email"]) or contact["email"] or (collected[-1] if collected else None)
    return ReplyContext(
        channel=channel,
        window=window_state(channel.kind, conversation["last_customer_message_at"], now),
        templates=tuple(load_templates(channel.settings)) if channel.kind == "whatsapp" else (),
        email=email, ticket=ticket)


def plan_for(context: ReplyContext, *, template_name: str | None = None, by_email: bool = False) -> ReplyPlan:
    return plan_reply(channel_kind=context.channel.kind, window=context.window, templates=context.templates,
                      contact_email=context.email, template_name=template_name, by_email=by_email)


def reply(conn, agent: dict, conversation_id: int, *, text: str | None = None, template_name: str | None = None,
          variables: dict | None = None, by_email: bool = False,
          email_configured: bool = True) -> tuple[int, ReplyPlan, Effects]:
    """The agent's reply (free text, a WhatsApp template, or an email), sent
    the way plan_reply decides; returns (message id, plan, effects)."""
    conversation = seen_conversation(conn, agent, conversation_id, lock=True)
    effects = Effects(conversation_id)
    refusal = reply_refusal(conn, conversation, agent)
    if refusal is not None:
        raise refusal
    context = reply_context(conn, conversation, now_utc())
    plan = plan_for(context, template_name=template_name, by_email=by_email)
    if plan.error:
        raise ApiError(409, plan.error, {"reply_options": plan.as_json()})
    if plan.via == VIA_EMAIL and not by_email:
        raise ApiError(409, f"{plan.explanation} Send it again with by_email: true to confirm.",
                          {"reply_options": plan.as_json()})
    if plan.via == VIA_EMAIL and not email_configured:
        raise ApiError(409, "email cannot be sent: SMTP_URL is not configured", {"reply_options": plan.as_json()})
    text, metadata = _reply_content(conn, conversation, context, plan, text, variables or {})

    if conversation["status"] != "assigned":
        reason = "took_over" if conversation["status"] == "bot" else "claimed_by_reply"
        conversation = _take(conn, conversation, agent, effects, reason=reason)
    if plan.via != VIA_EMAIL:
        announce_if_reachable(conn, conversation, agent, effects)
    message_id = messages.insert_outbound(conn, conversation_id=conversation_id, channel_id=conversation["channel_id"],
                                          sender="agent", agent_id=agent["id"], text=text, metadata=metadata)
    conversations.record_agent_reply(conn, conversation_id)
    if context.ticket is not None:
        tickets.record_ticket_reply(conn, context.ticket["id"], agent["id"])
    detail = {"via": plan.via, "template": plan.template.name if plan.via == VIA_TEMPLATE else None,
              "messenger_tag": plan.messenger_tag, "email": plan.email if plan.via == VIA_EMAIL else None}
    events.record_event(conn, "agent.replied", conversation_id=conversation_id, message_id=message_id,
                        agent_id=agent["id"], detail=detail)
    effects.send(message_id)
    effects.notify(record_notification(
        conn, "message.created",
        {"message_id": message_id, "conversation_id": conversation_id, "sender": "agent", "agent_id": agent["id"],
         "agent": agent["name"], "text": text, "via": plan.via, "created_at": now_utc()},
        conversation_id=conversation_id, team_id=conversation["team_id"]))
    log.info("conversation %s: agent %s replied (via %s)", conversation_id, agent["id"], plan.via)
    return message_id, plan, effects


def reply_refusal(conn, conversation: dict, agent: dict) -> ApiError | None:
    """Why the agent may not reply to the conversation as it is, or None."""
    if conversation["status"] == "resolved":
        return _resolved(conversation, "reply")
    if conversation["status"] == "assigned" and conversation["assignee_id"] != agent["id"]:
        return _held_by_other(conn, conversation)
    if conversation["status"] == "bot" and conversation["mode"] != "hybrid":
        return ApiError(409, f"conversation {conversation['id']} is on a {conversation['mode']} channel: the bot "
                                "answers it until it is escalated (people may take over a bot conversation only "
                                "on hybrid channels)", {"mode": conversation["mode"]})
    return None


def _reply_content(conn, conversation: dict, context: ReplyContext, plan: ReplyPlan, text: str | None,
                   variables: dict) -> tuple[str, dict]:
    """The message's text and the metadata the send job acts on."""
    if plan.via == VIA_TEMPLATE:
        try:
            rendered, content_variables = render(plan.template, variables)
        except TemplateError as error:
            raise ApiError(400, "invalid reply", {"variables": [str(error)]}) from None
        return rendered, message_metadata(plan.template, content_variables)
    if plan.via == VIA_EMAIL:
        return text, {"via": "email", "to": plan.email, "subject": _email_subject(conn, conversation, context)}
    limit = CHANNEL_TEXT_LIMITS.get(context.channel.kind)
    if limit and len(text) > limit:
        raise ApiError(400, "invalid reply", {"text": [f"at most {limit} characters on {context.channel.kind}"]})
    return text, {}


def _email_subject(conn, conversation: dict, context: ReplyContext) -> str:
    if context.ticket is not None:
        return f"Re: ticket #{context.ticket['number']} {context.ticket['subject']}"
    team = teams.get_team(conn, conversation["team_id"]) if conversation["team_id"] else None
    return f"Re: your conversation with {handoff.team_words(team and team['name'])}"


# --- private notes --------------------------------------------------------------------------


def add_note(conn, agent: dict, conversation_id: int, text: str) -> tuple[int, Effects]:
    """A note for colleagues: stored with the transcript, never sent to the customer."""
    conversation = seen_conversation(conn, agent, conversation_id, lock=True)
    effects = Effects(conversation_id)
    note_id = messages.insert_private_note(conn, conversation_id=conversation_id,
                                           channel_id=conversation["channel_id"], agent_id=agent["id"], text=text)
    effects.publish("message.created", message_id=note_id, private=True, team_id=conversation["team_id"])
    return note_id, effects


# --- resolve and reopen ---------------------------------------------------------------------


def resolve(conn, agent: dict, conversation_id: int) -> Effects:
    conversation = seen_conversation(conn, agent, conversation_id, lock=True)
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
    events.record_event(conn, "conversation.resolved", conversation_id=conversation["id"], agent_id=agent["id"],
                        detail=detail)
    effects.publish("conversation.resolved", team_id=conversation["team_id"], agent_id=agent["id"])
    effects.notify(record_notification(
        conn, "conversation.resolved", {"conversation_id": conversation["id"], "agent_id": agent["id"],
                                        "agent": agent["name"], **detail},
        summary=f"Conversation {conversation['id']} resolved by {agent['name']}",
        conversation_id=conversation["id"], team_id=conversation["team_id"]))
    log.info("conversation %s resolved by agent %s", conversation["id"], agent["id"])


def reopen(conn, agent: dict, conversation_id: int) -> Effects:
    """A resolved conversation back, assigned to the agent who reopens it,
    unless the customer has opened a newer one on the same address since."""
    conversation = seen_conversation(conn, agent, conversation_id, lock=True)
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
    events.record_event(conn, "conversation.reopened", conversation_id=conversation_id, agent_id=agent["id"],
                        detail={"previous_assignee_id": conversation["assignee_id"]})
    effects.publish("conversation.reopened", team_id=conversation["team_id"], agent_id=agent["id"])
    return effects


def _newer_open(conversation_id: int, newer_id: int | None) -> ApiError:
    return ApiError(409, f"conversation {conversation_id} cannot be reopened: the customer has an open "
                            f"conversation on the same address (continue in conversation {newer_id})",
                       {"open_conversation_id": newer_id})


# --- tickets --------------------------------------------------------------------------------


def seen_ticket(conn, agent: dict, number: int) -> dict:
    ticket = tickets.get_ticket(conn, number)
    if ticket is None:
        raise ApiError(404, f"no ticket #{number}")
    if not (agent["is_admin"] or ticket["team_id"] is None or ticket["team_id"] in teams.team_ids_of(conn, agent["id"])):
        raise ApiError(403, f"ticket #{number} belongs to a team you are not in")
    return ticket


def close_ticket(conn, agent: dict, number: int) -> Effects:
    """Closed; a conversation that only waited on it (status ticket) is resolved with it."""
    ticket = seen_ticket(conn, agent, number)
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
    events.record_event(conn, "ticket.closed", conversation_id=conversation_id, agent_id=agent["id"],
                        detail={"number": number})
    if conversation is not None:  # live events belong to a conversation
        effects.publish("ticket.closed", number=number, team_id=ticket["team_id"])
    return effects


# --- presence -------------------------------------------------------------------------------


def set_presence(conn, agent: dict, presence: str | None) -> tuple[dict, str]:
    """Set (or, with None, renew) the agent's presence for PRESENCE_TTL_SECONDS;
    returns (the agent, their effective presence before)."""
    current = agents.lock_presence(conn, agent["id"])
    updated = agents.set_presence(conn, agent["id"], presence or current["presence"],
                                  ttl_seconds=handoff.PRESENCE_TTL_SECONDS)
    if updated["presence"] != current["effective"]:
        events.record_event(conn, "agent.presence", agent_id=agent["id"],
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
            assigned = handoff.auto_assign(conn, conversation, effects)
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
            handoff.reassign_away(conn, conversation, effects, reason=f"assignee_{agent['presence']}")
        effects.apply(svc.redis, svc.config)
        handed.append(conversation_id)
    return handed


# --- reading --------------------------------------------------------------------------------


def queue_of(conn, team_ids: list[int]) -> list[dict]:
    """The conversations waiting in these teams, in serving order, each with its place in its team's line."""
    places: dict[int, int] = {}
    waiting = assignment.team_queue(conn, team_ids)
    for row in waiting:
        places[row["team_id"]] = row["position"] = places.get(row["team_id"], 0) + 1
    return waiting


def find_team(conn, *, team_id: int | None = None, name: str | None = None) -> dict:
    """The team named by id or by name (case-insensitive), or a 400 naming the field."""
    team = teams.get_team(conn, team_id) if team_id is not None else teams.team_by_name(conn, name or "")
    if team is None:
        field, value = ("team_id", team_id) if team_id is not None else ("team", name)
        raise ApiError(400, "invalid transfer", {field: [f"no team {value}"]})
    return team
