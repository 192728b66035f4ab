"""Provider webhooks: verify, parse, store in one transaction, enqueue, answer at once.

No AI and no provider call happens here. The answer is fast (providers retry
slow webhooks, and Meta unsubscribes apps that keep failing), and a retry of
a message already stored changes nothing.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, request
from redis.exceptions import RedisError

from channels import messenger, whatsapp
from channels.base import InboundMessage, Watermark
from gateway import live
from gateway.conversations import intake
from gateway.db import transaction
from gateway.events import emit
from gateway.services import services
from gateway.store.channels import ChannelRow
from gateway.web.errors import ApiError
from gateway.web.intake import after_commit, channel_or_404

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__)


def signed_url() -> str:
    """The URL the provider called, as seen from outside (PUBLIC_URL, not the
    proxy-facing request.url), which is what Twilio signs."""
    query = request.query_string.decode("latin-1")
    return services().config.public_url + request.path + (f"?{query}" if query else "")


# --- WhatsApp through Twilio ----------------------------------------------------------


def twilio_channel(address: str) -> ChannelRow:
    channel = channel_or_404("whatsapp", address)
    signature = request.headers.get("X-Twilio-Signature")
    if not whatsapp.verify_signature(channel.credentials.get("auth_token", ""), signed_url(), request.form, signature):
        log.warning("rejected Twilio webhook for %s: bad signature", address)
        raise ApiError(403, "invalid X-Twilio-Signature")
    return channel


@bp.post("/webhooks/twilio/whatsapp")
def twilio_whatsapp():
    channel = twilio_channel(whatsapp.channel_address_of_inbound(request.form))
    message = whatsapp.parse_inbound(request.form)
    with services().pool.connection() as conn:
        stored = intake.store_inbound_message(conn, channel, message)
    if stored is None:
        log.info("duplicate Twilio delivery of %s ignored", message.provider_message_id)
    after_commit([stored] if stored else [])
    return Response(whatsapp.EMPTY_TWIML, mimetype="text/xml")


@bp.post("/webhooks/twilio/status")
def twilio_status():
    channel = twilio_channel(whatsapp.channel_address_of_status(request.form))
    update = whatsapp.parse_status(request.form)
    with transaction(services().pool) as conn:
        found = intake.apply_status_update(conn, channel, update)
    if found and found["changed"]:
        conversation = _conversation_of_message(found["id"])
        try:
            live.publish(services().redis, "message.status", conversation, message_id=found["id"],
                         status=update.status, error_code=update.error_code)
        except RedisError as error:
            log.warning("status of message %s recorded; live event lost (Redis: %s)", found["id"], error)
    return Response(whatsapp.EMPTY_TWIML, mimetype="text/xml")


def _conversation_of_message(message_id: int) -> int:
    with services().pool.connection() as conn:
        return conn.execute("SELECT conversation_id FROM messages WHERE id = %s", (message_id,)).fetchone()[
            "conversation_id"]


# --- Facebook Messenger ----------------------------------------------------------------


@bp.get("/webhooks/messenger")
def messenger_verify():
    """Meta's subscription check: echo hub.challenge for a verify token we issued."""
    if request.args.get("hub.mode") != "subscribe":
        raise ApiError(403, "hub.mode must be subscribe")
    token = request.args.get("hub.verify_token")
    with services().pool.connection() as conn:
        rows = conn.execute(
            "SELECT credentials->>'verify_token' AS token FROM channels WHERE kind = 'messenger'"
        ).fetchall()
    if not any(messenger.verify_token_matches(row["token"] or "", token) for row in rows):
        log.warning("rejected Messenger verification: unknown verify token")
        raise ApiError(403, "verify token does not match any Messenger channel")
    return Response(request.args.get("hub.challenge", ""), mimetype="text/plain")


@bp.post("/webhooks/messenger")
def messenger_events():
    raw = request.get_data(cache=True)
    body = messenger.parse_body(raw)
    channels = {page_id: channel_or_404("messenger", page_id) for page_id in messenger.page_ids(body)}
    signature = request.headers.get("X-Hub-Signature-256")
    for page_id, channel in channels.items():
        if not messenger.verify_signature(channel.credentials.get("app_secret", ""), raw, signature):
            log.warning("rejected Messenger webhook for page %s: bad signature", page_id)
            raise ApiError(403, "invalid X-Hub-Signature-256")
    events, skipped = messenger.parse_events(body)
    stored, touched = [], set()
    with transaction(services().pool) as conn:
        for item in skipped:
            # Acknowledged with the batch (Meta would resend it forever), and recorded.
            log.warning("Messenger webhook for page %s: skipped item %s: %s", item.page_id, item.where, item.reason)
            emit(conn, None, "webhook.item_skipped", detail={
                "channel_id": channels[item.page_id].id, "where": item.where, "reason": item.reason})
        for event in events:
            channel = channels[event.channel_address]
            if isinstance(event, InboundMessage):
                item = intake.store_inbound_message(conn, channel, event)
                if item:
                    stored.append(item)
            elif isinstance(event, Watermark):
                conversation_id = intake.apply_watermark(conn, channel, event)
                if conversation_id:
                    touched.add(conversation_id)
    after_commit(stored)
    for conversation_id in touched:
        try:
            live.publish(services().redis, "conversation.watermark", conversation_id)
        except RedisError:
            pass  # the inbox reloads watermarks from the database
    return Response("EVENT_RECEIVED", mimetype="text/plain")
