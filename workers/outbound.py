"""send_message(message_id): deliver one outbound message through its channel.

A send is claimed in the database before the provider is called, so two
workers never send the same message, and a worker that dies mid-send leaves a
lease the sweeper picks up. Transient failures (timeouts, 429, 5xx) are
retried after the configured delays; anything else is marked failed at once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from channels.base import OutboundMessage, QuickReply, SendError
from channels.messenger import MessengerChannel
from channels.web import WebChannel
from channels.whatsapp import WhatsAppChannel
from gateway import jobs, live
from gateway.config import Config
from gateway.db import transaction
from gateway.store import events, messages
from gateway.store.channels import ChannelRow, get_channel
from workers import context

log = logging.getLogger(__name__)

# Messenger's standard messaging window after the customer's last message.
MESSENGER_WINDOW = timedelta(hours=24)


def adapter_for(channel: ChannelRow, config: Config):
    if channel.kind == "whatsapp":
        return WhatsAppChannel(channel.credentials, channel.address,
                               api_base_url=config.twilio_api_base_url, timeout=config.provider_timeout)
    if channel.kind == "messenger":
        return MessengerChannel(channel.credentials, channel.address, graph_url=config.messenger_graph_url,
                                graph_version=config.messenger_graph_version)
    return WebChannel()


def outbound_message(claimed: dict, channel: ChannelRow, config: Config) -> OutboundMessage:
    status_callback = (
        f"{config.public_url}/webhooks/twilio/status" if channel.kind == "whatsapp" else None
    )
    return OutboundMessage(
        recipient_address=claimed["recipient_address"],
        text=claimed["text"],
        sender=claimed["sender"],
        status_callback_url=status_callback,
        messenger_tag=messenger_tag(claimed) if channel.kind == "messenger" else None,
        quick_replies=tuple(QuickReply(reply["title"], reply["payload"])
                            for reply in claimed["metadata"].get("quick_replies", ())),
    )


def messenger_tag(claimed: dict) -> str | None:
    """RESPONSE (no tag) inside Messenger's 24-hour window; after it, only a human
    may still answer, for 7 days, with the HUMAN_AGENT tag (PROTOCOLS.md §2)."""
    last = claimed["last_customer_message_at"]
    outside_window = last is None or datetime.now(timezone.utc) - last > MESSENGER_WINDOW
    return "HUMAN_AGENT" if claimed["sender"] == "agent" and outside_window else None


def send_message(message_id: int) -> str:
    ctx = context.current()
    config = ctx.config
    with transaction(ctx.pool) as conn:
        claimed = messages.claim_for_sending(conn, message_id)
        if claimed is None:
            log.info("message %s is not due for sending (sent, failed or claimed)", message_id)
            return "not due"
        channel = get_channel(conn, claimed["channel_id"])
    conversation_id = claimed["conversation_id"]
    try:
        result = adapter_for(channel, config).send(outbound_message(claimed, channel, config))
    except SendError as error:
        return _record_failure(ctx, claimed, error)
    with transaction(ctx.pool) as conn:
        sent = messages.mark_sent(conn, message_id, result.provider_message_id, result.status)
        if sent["status"] in ("failed", "undelivered"):
            # A failure receipt (e.g. 63016) beat the provider's response here.
            events.record_event(conn, "message.failed", conversation_id=conversation_id, message_id=message_id,
                                detail={"status": sent["status"], "error_code": sent["error_code"],
                                        "error_message": sent["error_message"]})
    log.info("message %s sent on %s channel %s as %s (%s)", message_id, channel.kind, channel.id,
             result.provider_message_id, sent["status"])
    live.publish(ctx.redis, "message.status", conversation_id, message_id=message_id, status=sent["status"],
                 error_code=sent["error_code"])
    return "sent"


def _record_failure(ctx, claimed: dict, error: SendError) -> str:
    message_id = claimed["id"]
    delays = ctx.config.outbound_retry_delays
    attempt = claimed["attempts"]
    retry = error.transient and attempt <= len(delays)
    with transaction(ctx.pool) as conn:
        if retry:
            messages.mark_retrying(conn, message_id, str(error), error.code, delays[attempt - 1])
        else:
            messages.mark_failed(conn, message_id, str(error), error.code)
            events.record_event(conn, "message.failed", conversation_id=claimed["conversation_id"],
                                message_id=message_id,
                                detail={"error": str(error), "code": error.code, "attempts": attempt})
    if retry:
        log.warning("message %s: attempt %s failed (%s); retrying in %ss", message_id, attempt, error,
                    delays[attempt - 1])
        jobs.enqueue_send(ctx.redis, message_id, delay_seconds=delays[attempt - 1])
        return "retrying"
    log.error("message %s failed for good after %s attempt(s): %s", message_id, attempt, error)
    live.publish(ctx.redis, "message.status", claimed["conversation_id"], message_id=message_id, status="failed")
    return "failed"
