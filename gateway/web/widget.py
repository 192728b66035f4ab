"""The web chat widget's API: sessions, messages and a live stream, called from
the business's own website (so every answer carries CORS headers).

    POST /api/widget/<widget_key>/session   start a visitor, or continue one
    POST /api/widget/messages               the visitor writes      (Bearer visitor token)
    GET  /api/widget/messages?after=<id>    the visitor's transcript (Bearer visitor token)
    GET  /api/widget/stream?token=<token>   new messages as server-sent events

A message is handled like a webhook: one transaction stores it, then it is
enqueued and published; the bot's reply reaches the widget over the stream.
The visitor token is the only key to a transcript, and it opens one
visitor's messages on one channel.
"""

from __future__ import annotations

import logging
from typing import Iterator

from flask import Blueprint, Response, current_app, g, jsonify, request
from marshmallow import EXCLUDE, Schema, fields, validate

from channels import web
from channels.base import INT64
from gateway import live, ratelimit
from gateway.conversations import intake
from gateway.db import transaction
from gateway.errors import too_many
from gateway.services import Services, services
from gateway.store import visitors
from gateway.store.channels import ChannelRow, get_channel
from gateway.web import sse
from gateway.web.bodies import json_object
from gateway.web.edge import client_address
from gateway.web.errors import ApiError
from gateway.web.intake import after_commit, channel_or_404

log = logging.getLogger(__name__)
bp = Blueprint("widget", __name__, url_prefix="/api/widget")

TRANSCRIPT_PAGE = 200
CORS_HEADERS = "Authorization, Content-Type, Last-Event-ID"


class SessionBody(Schema):
    visitor_token = fields.String(load_default=None, allow_none=True)
    name = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100))
    email = fields.Email(load_default=None, allow_none=True, validate=validate.Length(max=254))


class TranscriptQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    after = fields.Integer(load_default=0, validate=validate.Range(min=0, max=INT64[1]))


class StreamQuery(TranscriptQuery):
    last_event_id = fields.Integer(data_key="Last-Event-ID", load_default=None,
                                   validate=validate.Range(min=0, max=INT64[1]))


# --- channel, visitor, origin --------------------------------------------------------


def authenticated_visitor(token: str | None) -> tuple[web.Visitor, ChannelRow]:
    visitor = web.read_visitor_token(services().config.secret_key, token)
    channel = None
    if visitor is not None:
        with services().pool.connection() as conn:
            channel = get_channel(conn, visitor.channel_id)
    if channel is None or channel.kind != web.kind:
        raise ApiError(401, "a valid visitor token is required",
                       {"hint": "start a session: POST /api/widget/<widget_key>/session"})
    return visitor, admit(channel)


def admit(channel: ChannelRow) -> ChannelRow:
    """The channel, once the calling website is one it accepts."""
    g.widget_channel = channel
    origin = request.headers.get("Origin")
    if origin and not origin_allowed(channel, origin):
        raise ApiError(403, f"this widget does not accept requests from {origin}",
                       {"hint": "add the site to the channel's allowed_origins setting"})
    return channel


def origin_allowed(channel: ChannelRow, origin: str) -> bool:
    """Any origin when the channel lists none (the demo); else its list, and our own pages."""
    allowed = {entry.rstrip("/").lower() for entry in channel.settings.get("allowed_origins") or ()}
    origin = origin.rstrip("/").lower()
    own = {request.host_url.rstrip("/").lower(), services().config.public_url.lower()}
    return not allowed or "*" in allowed or origin in allowed or origin in own


@bp.after_request
def cross_origin_headers(response: Response) -> Response:
    origin = request.headers.get("Origin")
    channel = g.get("widget_channel")
    # Errors before a channel is known (a bad token, an unknown key) are
    # readable too, so that a widget can tell them from a network failure.
    response.vary.add("Origin")
    if origin and (channel is None or origin_allowed(channel, origin)):
        response.headers["Access-Control-Allow-Origin"] = origin
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = CORS_HEADERS
            response.headers["Access-Control-Max-Age"] = "600"
    if response.status_code == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="widget"'
    return response


def limit(what: str, checks: list[tuple[str, str]]) -> None:
    """429 with Retry-After once one of the checks is over its rate."""
    retry_after = ratelimit.take(services().redis, services().config.rates(), checks)
    if retry_after:
        log.info("widget %s rate-limited (%s)", what, ", ".join(name for name, _ in checks))
        raise too_many(what, retry_after)


def bearer_token() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


# --- endpoints ---------------------------------------------------------------------------


@bp.post("/<widget_key>/session")
def start_session(widget_key: str):
    """A new visitor, or the one the token names (a returning visitor keeps their
    conversation). A name or email is recorded on the visitor's contact."""
    channel = admit(channel_or_404(web.kind, widget_key))
    limit("sessions", [("widget_sessions_per_address", client_address()),
                       ("widget_sessions_per_channel", str(channel.id))])
    body = SessionBody().load(json_object(empty_allowed=True))
    secret = services().config.secret_key
    visitor = web.read_visitor_token(secret, body["visitor_token"])
    if visitor is None or visitor.channel_id != channel.id:
        visitor = web.Visitor(channel_id=channel.id, visitor_id=web.new_visitor_id())
    name = (body["name"] or "").strip() or None
    with transaction(services().pool) as conn:
        if name or body["email"]:
            visitors.remember_visitor(conn, channel.id, visitor.visitor_id, name=name, email=body["email"])
        # A visitor who has not written nor said who they are is only a token: nothing is stored.
        found = visitors.find_visitor(conn, channel.id, visitor.visitor_id)
    return jsonify(
        visitor_token=web.issue_visitor_token(secret, visitor),  # fresh: 30 more days
        visitor_id=visitor.visitor_id,
        conversation_id=found["conversation_id"] if found else None,
    )


@bp.post("/messages")
def post_message():
    """Store the visitor's message (a resend of the same client_id changes nothing)."""
    visitor, channel = authenticated_visitor(bearer_token())
    limit("messages", [("widget_messages_per_visitor", f"{channel.id}:{visitor.visitor_id}"),
                       ("widget_messages_per_address", client_address()),
                       ("widget_messages_per_channel", str(channel.id))])
    message = web.parse_message(channel.address, visitor, json_object())
    with transaction(services().pool) as conn:
        stored = intake.store_inbound_message(conn, channel, message)
        row = visitors.message_by_provider_id(conn, channel.id, message.provider_message_id)
    if stored is None:
        log.info("widget resend of message %s ignored", row["id"])
        return jsonify(row), 200
    after_commit([stored])
    return jsonify(row), 201


@bp.get("/messages")
def transcript():
    visitor, channel = authenticated_visitor(bearer_token())
    after = TranscriptQuery().load(request.args)["after"]
    with services().pool.connection() as conn:
        found = visitors.find_visitor(conn, channel.id, visitor.visitor_id)
        rows = visitors.visitor_messages(conn, found["id"], after_id=after, limit=TRANSCRIPT_PAGE + 1) if found else []
    return jsonify(messages=[row for row in rows[:TRANSCRIPT_PAGE]],
                   has_more=len(rows) > TRANSCRIPT_PAGE, conversation_id=found["conversation_id"] if found else None)


@bp.get("/stream")
def stream():
    """The visitor's new messages as server-sent events: id = message id, data = the
    message. Starts after Last-Event-ID (a reconnect) or ?after=, else from the start.

    No conversation yet: 204, which tells EventSource not to reconnect; the
    widget opens the stream once its first message has a conversation_id.
    """
    visitor, channel = authenticated_visitor(bearer_token() or request.args.get("token"))
    query = dict(request.args)
    if "Last-Event-ID" in request.headers:
        query["Last-Event-ID"] = request.headers["Last-Event-ID"]
    position = StreamQuery().load(query)
    after = position["last_event_id"] if position["last_event_id"] is not None else position["after"]
    with services().pool.connection() as conn:
        found = visitors.find_visitor(conn, channel.id, visitor.visitor_id)
    if found is None or found["conversation_id"] is None:
        return Response(status=204)
    return sse.response(message_events(
        services(), found["id"], found["conversation_id"], after,
        heartbeat_seconds=current_app.config.get("WIDGET_HEARTBEAT_SECONDS", sse.HEARTBEAT_SECONDS),
        stream_seconds=current_app.config.get("WIDGET_STREAM_SECONDS", sse.STREAM_SECONDS),
    ))


def message_events(svc: Services, identity_id: int, conversation_id: int, after_id: int, *,
                   heartbeat_seconds: float, stream_seconds: float) -> Iterator[str]:
    """Replay from the database what came after `after_id`, then follow live
    events: a message committed at any moment is sent once. Each message is
    read from the database, so the stream never carries more than the
    transcript would (no private notes, no other visitor's messages)."""
    sent: set[int] = set()

    def event(message: dict) -> str:
        sent.add(message["id"])
        return sse.frame(message, event_id=message["id"])

    def replay() -> Iterator[str]:
        cursor = after_id
        while True:
            with svc.pool.connection() as conn:  # released before the client reads
                rows = visitors.visitor_messages(conn, identity_id, after_id=cursor, limit=TRANSCRIPT_PAGE)
            yield from (event(row) for row in rows if row["id"] not in sent)
            if len(rows) < TRANSCRIPT_PAGE:
                return
            cursor = rows[-1]["id"]

    def announced(update: dict) -> Iterator[str]:
        message_id = update.get("message_id")
        if update.get("type") != "message.created" or not isinstance(message_id, int) or message_id in sent:
            return
        with svc.pool.connection() as conn:
            message = visitors.visitor_message(conn, identity_id, message_id)
        if message is not None:
            yield event(message)

    return sse.follow(svc.redis, live.conversation_channel(svc.redis, conversation_id), start=replay,
                      on_event=announced, heartbeat_seconds=heartbeat_seconds, stream_seconds=stream_seconds,
                      name=f"widget stream of conversation {conversation_id}")
