"""The agent JSON API (/api/agent/...): what the inbox is built on.

    GET  /queue?team=<id>                        waiting conversations in serving order, and mine
    GET  /conversations/<id>                     one conversation with everything needed to answer it
    POST /conversations/<id>/claim               take it (one of two concurrent claims wins)
    POST /conversations/<id>/assign              {agent_id}
    POST /conversations/<id>/transfer            {team_id | team, note?}
    POST /conversations/<id>/reply               {text} | {template, variables} | {text, by_email: true}
    POST /conversations/<id>/notes               {text}: a private note
    POST /conversations/<id>/resolve, /reopen
    POST /presence                               {presence?}: set, or renew (the inbox's heartbeat)
    GET  /tickets?status=, /tickets/<number>; POST /tickets/<number>/close
    GET  /stream                                 server-sent events of the agent's teams

Every endpoint needs an agent (`api_auth`: the session cookie, with
X-CSRF-Token for writes, or a personal API token). The rules of who may do
what, and the actions themselves, are in gateway/desk/; this
module validates bodies, runs each action in one transaction and applies its
effects after commit.
"""

from __future__ import annotations

import logging
import time
from typing import Iterator

from flask import Blueprint, current_app, jsonify, request
from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates_schema,
)

from channels.base import INT64
from gateway import live
from gateway.bot.settings import load_bot_settings
from gateway.db import transaction
from gateway.desk import access, actions, views
from gateway.desk.access import Access, access_of
from gateway.desk.actions import now_utc
from gateway.desk.presence import PRESENCE_TTL_SECONDS, presence_followups, set_presence
from gateway.desk.reply import ReplyContext, plan_for, reply_refusal
from gateway.desk.reply import reply as send_reply
from gateway.services import Services, services
from gateway.store import agents, assignment, conversations, messages, teams, tickets
from gateway.web import sse
from gateway.web.auth import api_auth, current_agent
from gateway.web.bodies import json_object
from gateway.web.errors import ApiError

log = logging.getLogger(__name__)
bp = Blueprint("agent_api", __name__, url_prefix="/api/agent")

TEXT_MAX = 4000
TRANSCRIPT_LIMIT = 300
# How long a stream trusts what it looked up of a conversation's team.
TEAM_CACHE_SECONDS = 30
TEAM_CACHE_SIZE = 2000


# --- bodies ---------------------------------------------------------------------------------


def _text(**kwargs) -> fields.String:
    return fields.String(validate=[validate.Length(min=1, max=TEXT_MAX, error=f"1 to {TEXT_MAX} characters"),
                                   validate.Regexp(r"\S", error="must not be blank")], **kwargs)


class QueueQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    team = fields.Integer(load_default=None, validate=validate.Range(min=0, max=INT64[1]))


class TicketQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    status = fields.String(load_default=None, validate=validate.OneOf(tickets.TICKET_STATUSES))


class AssignBody(Schema):
    agent_id = fields.Integer(required=True, strict=True)


class TransferBody(Schema):
    team_id = fields.Integer(strict=True)
    team = fields.String(validate=validate.Length(min=1, max=100))
    note = _text(load_default=None)

    @validates_schema
    def one_team(self, data, **kwargs):
        if ("team_id" in data) == ("team" in data):
            raise ValidationError("name the team by team_id or by team (its name), not both", "team")


class ReplyBody(Schema):
    text = _text()
    template = fields.String(validate=validate.Length(min=1, max=64))
    variables = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    by_email = fields.Boolean(load_default=False)

    @validates_schema
    def text_or_template(self, data, **kwargs):
        if ("text" in data) == ("template" in data):
            raise ValidationError("send either text or a template (with its variables)", "text")
        if data.get("variables") and "template" not in data:
            raise ValidationError("variables go with a template", "variables")
        if data.get("by_email") and "text" not in data:
            raise ValidationError("an email reply is text", "by_email")


class NoteBody(Schema):
    text = _text(required=True)


class PresenceBody(Schema):
    presence = fields.String(load_default=None, validate=validate.OneOf(agents.PRESENCES))


def _body(schema: Schema) -> dict:
    """The request's JSON object (an empty body is {}), validated (400 otherwise)."""
    return schema.load(json_object(empty_allowed=True))


# --- JSON -----------------------------------------------------------------------------------


def conversation_json(row: dict) -> dict:
    """A conversation_detail row as the API shows it."""
    return {
        "id": row["id"], "status": row["status"], "mode": row["mode"], "priority": row["priority"],
        "channel": {"id": row["channel_id"], "kind": row["channel_kind"], "name": row["channel_name"]},
        "team": {"id": row["team_id"], "name": row["team_name"]} if row["team_id"] else None,
        "assignee": {"id": row["assignee_id"], "name": row["assignee_name"]} if row["assignee_id"] else None,
        "escalation_reason": row["escalation_reason"], "escalation_detail": row["escalation_detail"],
        "missed_stage": row["missed_stage"], "bot_fallback": row["bot_fallback"], "csat": row["csat"],
        **{key: row[key] for key in ("created_at", "last_message_at", "last_customer_message_at", "escalated_at",
                                     "assigned_at", "first_agent_reply_at", "resolved_at")},
    }


def _summary(conn, conversation_id: int) -> dict:
    return {"conversation": conversation_json(conversations.conversation_detail(conn, conversation_id))}


def _change(action, conversation_id: int, *args, **kwargs):
    """Run an action in one transaction, apply its effects after commit, and
    answer with the conversation as it now is."""
    svc = services()
    with transaction(svc.pool) as conn:
        effects = action(conn, current_agent(), conversation_id, *args, **kwargs)
        summary = _summary(conn, conversation_id)
    effects.apply(svc.redis, svc.config)
    return jsonify(summary)


# --- reading --------------------------------------------------------------------------------


@bp.get("/queue")
@api_auth
def queue():
    """The conversations waiting for a person in one of my teams (or all of
    them), in serving order with their place in line, and mine."""
    agent = current_agent()
    team_id = QueueQuery().load(request.args)["team"]
    with services().pool.connection() as conn:
        team_ids = access.visible_team_ids(conn, agent)
        if team_id is not None:
            if teams.get_team(conn, team_id) is None:
                raise ApiError(404, f"no team {team_id}")
            if team_id not in team_ids:
                raise ApiError(403, f"you are not in team {team_id}")
            team_ids = [team_id]
        body = {"teams": assignment.waiting_counts(conn, team_ids),
                "waiting": views.queue_of(conn, team_ids),
                "mine": assignment.assigned_to_agent(conn, agent["id"])}
    return jsonify(body)


@bp.get("/conversations/<int:conversation_id>")
@api_auth
def conversation(conversation_id: int):
    """The conversation with its handoff packet, transcript (private notes
    marked), contact and cross-channel history, audit trail, messaging window
    and how a reply would go now (reply_options), and its ticket."""
    with services().pool.connection() as conn:
        view = views.conversation_view(conn, current_agent(), conversation_id, now_utc())
        body = {
            "conversation": conversation_json(view.conversation),
            "handoff_packet": view.conversation["handoff_packet"],
            "queue": view.queue,
            "messages": view.messages, "message_count": view.message_count,
            "contact": {**view.contact, "identities": view.identities, "conversations": view.others},
            "events": view.events,
            "window": view.reply.window.as_json(),
            "reply_options": _reply_options(conn, view.conversation, view.reply),
            "templates": [template.as_json() for template in view.reply.templates],
            "ticket": view.reply.ticket,
        }
    return jsonify(body)


def _reply_options(conn, conversation: dict, context: ReplyContext) -> dict:
    """How a free-text reply would go now; error says why it cannot (the
    window, or the conversation's state for this agent)."""
    options = {**plan_for(context).as_json(), "email_configured": bool(services().config.smtp_url)}
    refusal = reply_refusal(conn, conversation, current_agent())
    if refusal is not None:
        options["error"] = refusal.message
    return options


# --- changing conversations -----------------------------------------------------------------


@bp.post("/conversations/<int:conversation_id>/claim")
@api_auth
def claim(conversation_id: int):
    return _change(actions.claim, conversation_id)


@bp.post("/conversations/<int:conversation_id>/assign")
@api_auth
def assign(conversation_id: int):
    return _change(actions.assign, conversation_id, _body(AssignBody())["agent_id"])


@bp.post("/conversations/<int:conversation_id>/transfer")
@api_auth
def transfer(conversation_id: int):
    body = _body(TransferBody())
    svc = services()
    with transaction(svc.pool) as conn:
        team = actions.find_team(conn, team_id=body.get("team_id"), name=body.get("team"))
        effects = actions.transfer(
            conn, current_agent(), conversation_id, team, note=body["note"],
            missed_chat_timeout_seconds=load_bot_settings(conn)["missed_chat_timeout_seconds"])
        summary = _summary(conn, conversation_id)
    effects.apply(svc.redis, svc.config)
    return jsonify(summary)


@bp.post("/conversations/<int:conversation_id>/reply")
@api_auth
def reply(conversation_id: int):
    """The agent's reply; 409 with reply_options when it cannot go as asked."""
    body = _body(ReplyBody())
    svc = services()
    with transaction(svc.pool) as conn:
        message_id, plan, effects = send_reply(
            conn, current_agent(), conversation_id, text=body.get("text"), template_name=body.get("template"),
            variables=body["variables"], by_email=body["by_email"], email_configured=bool(svc.config.smtp_url))
        message = messages.agent_view(conn, message_id)
    effects.apply(svc.redis, svc.config)
    return jsonify({"message": message, "via": plan.via, "plan": plan.as_json()}), 201


@bp.post("/conversations/<int:conversation_id>/notes")
@api_auth
def add_note(conversation_id: int):
    """A private note: in the transcript for agents, never sent to the customer."""
    text = _body(NoteBody())["text"]
    svc = services()
    with transaction(svc.pool) as conn:
        note_id, effects = actions.add_note(conn, current_agent(), conversation_id, text)
        message = messages.agent_view(conn, note_id)
    effects.apply(svc.redis, svc.config)
    return jsonify({"message": message}), 201


@bp.post("/conversations/<int:conversation_id>/resolve")
@api_auth
def resolve(conversation_id: int):
    return _change(actions.resolve, conversation_id)


@bp.post("/conversations/<int:conversation_id>/reopen")
@api_auth
def reopen(conversation_id: int):
    return _change(actions.reopen, conversation_id)


# --- presence -------------------------------------------------------------------------------


@bp.post("/presence")
@api_auth
def presence():
    """Set my presence, or renew it with {} (the inbox's heartbeat, every 30 s).
    Coming online takes queued conversations of my auto-assign teams; going
    away or offline hands my unanswered ones to others or to the queue."""
    wanted = _body(PresenceBody())["presence"]
    svc = services()
    with transaction(svc.pool) as conn:
        agent, before = set_presence(conn, current_agent(), wanted)
    followups = presence_followups(svc, agent, before)
    return jsonify({"presence": agent["presence"], "expires_at": agent["presence_expires_at"],
                    "ttl_seconds": PRESENCE_TTL_SECONDS, "capacity": agent["capacity"], **followups})


# --- tickets --------------------------------------------------------------------------------


@bp.get("/tickets")
@api_auth
def list_tickets():
    """Tickets of my teams (and of no team), due first; closed ones only with ?status=closed."""
    status = TicketQuery().load(request.args)["status"]
    with services().pool.connection() as conn:
        rows = tickets.list_tickets(conn, access.visible_team_ids(conn, current_agent()), status=status)
    return jsonify({"tickets": rows})


@bp.get("/tickets/<int:number>")
@api_auth
def get_ticket(number: int):
    with services().pool.connection() as conn:
        return jsonify({"ticket": access.seen_ticket(conn, current_agent(), number)})


@bp.post("/tickets/<int:number>/close")
@api_auth
def close_ticket(number: int):
    svc = services()
    with transaction(svc.pool) as conn:
        effects = actions.close_ticket(conn, current_agent(), number)
        ticket = tickets.get_ticket(conn, number)
    effects.apply(svc.redis, svc.config)
    return jsonify({"ticket": ticket})


# --- the live stream ------------------------------------------------------------------------


@bp.get("/stream")
@api_auth
def stream():
    """Server-sent events of my teams: first a "hello" (my presence, the
    queues' sizes), then every live event of a conversation of my teams (or
    of no team, or about me), keep-alive comments, and the end after a few
    minutes (EventSource reconnects; the inbox reloads what it shows)."""
    agent = current_agent()
    return sse.response(agent_events(
        services(), agent,
        heartbeat_seconds=current_app.config.get("AGENT_HEARTBEAT_SECONDS", sse.HEARTBEAT_SECONDS),
        stream_seconds=current_app.config.get("AGENT_STREAM_SECONDS", sse.STREAM_SECONDS)))


class TeamFilter:
    """Which live events an agent's stream carries: by the desk.access rule,
    those of conversations the agent may see, and those naming the agent (who
    did it, or who got the conversation). An
    event names its team when the code that published it knew it; otherwise
    the conversation's team is looked up, and remembered for a while. An
    event of a conversation that does not exist (deleted) is nobody's."""

    def __init__(self, svc: Services, access: Access):
        self.svc, self.access = svc, access
        # conversation id -> ({"team_id": ...} or None if there is no such conversation, good until)
        self.known: dict[int, tuple[dict | None, float]] = {}

    def wants(self, update: dict) -> bool:
        if self.access.team_ids is None or self.access.agent_id in (update.get("agent_id"), update.get("assignee_id")):
            return True
        conversation_id = update.get("conversation_id")
        if "team_id" in update:
            self.remember(conversation_id, {"team_id": update["team_id"]})
            if update.get("from_team_id") is not None and self.access.sees(update["from_team_id"]):
                return True  # it left one of my teams' queues
            found = {"team_id": update["team_id"]}
        else:
            found = self.conversation(conversation_id)
        return found is not None and self.access.sees(found["team_id"])

    def conversation(self, conversation_id) -> dict | None:
        if not isinstance(conversation_id, int):
            return None
        known = self.known.get(conversation_id)
        if known and known[1] > time.monotonic():
            return known[0]
        with self.svc.pool.connection() as conn:
            found = conversations.team_of_conversation(conn, conversation_id)
        self.remember(conversation_id, found)
        return found

    def remember(self, conversation_id: int, found: dict | None) -> None:
        if len(self.known) >= TEAM_CACHE_SIZE:
            self.known.clear()
        self.known[conversation_id] = (found, time.monotonic() + TEAM_CACHE_SECONDS)


def hello_event(svc: Services, agent: dict) -> dict:
    with svc.pool.connection() as conn:
        me = agents.get_agent(conn, agent["id"])
        team_ids = access.visible_team_ids(conn, agent)
        mine = assignment.assigned_to_agent(conn, agent["id"])
        counts = assignment.waiting_counts(conn, team_ids)
    return {"type": "hello", "agent": {"id": me["id"], "name": me["name"], "presence": me["presence"],
                                       "presence_expires_at": me["presence_expires_at"]},
            "teams": counts, "mine": len(mine),
            "waiting_for_first_reply": sum(row["awaiting_first_reply"] for row in mine)}


def agent_events(svc: Services, agent: dict, *, heartbeat_seconds: float, stream_seconds: float) -> Iterator[str]:
    """A hello, then the inbox channel's events this agent may see."""
    with svc.pool.connection() as conn:
        wanted = TeamFilter(svc, access_of(conn, agent))

    def hello() -> Iterator[str]:
        yield sse.frame(hello_event(svc, agent))

    def announced(update: dict) -> Iterator[str]:
        if wanted.wants(update):
            yield sse.frame(update)

    return sse.follow(svc.redis, live.inbox_channel(svc.redis), start=hello, on_event=announced,
                      heartbeat_seconds=heartbeat_seconds, stream_seconds=stream_seconds,
                      name=f"agent stream of agent {agent['id']}")
