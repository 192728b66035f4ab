"""send_message(message_id): deliver one outbound message through its channel.

A send is claimed in the database before the provider is called, so two
workers never send the same message, and a worker that dies mid-send leaves a
lease the sweeper picks up. Transient failures (timeouts, 429, 5xx) are
retried after the configured delays; anything else is marked failed at once.

What a message's metadata may ask for:
- {"template": {"name", "content_sid", "variables": {"1": ...}}}: a WhatsApp
  template (channels.templates.message_metadata), sent as ContentSid and
  ContentVariables; the text is the rendered body, kept for the transcript.
- {"via": "email", "to": ..., "subject": ...}: an email to the customer
  instead of the channel (a reply the channel can no longer carry).

The messaging window (channels.windows) is checked when the message is sent,
not when it was queued: a message its window no longer allows (the bot on
WhatsApp after 24 hours, anyone on Messenger after 7 days...) is failed at
once with code "outside_window" instead of earning the provider's refusal
(a 63016 a while later, or a Graph error). On Messenger an agent's message
sent from 24 hours to 7 days after the customer's last message carries the
HUMAN_AGENT tag; the bot's and system messages never do.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from channels.base import OutboundMessage, QuickReply, SendError, SendResult
from channels.registry import adapter_for, capabilities
from channels.templates import explain_error
from channels.windows import Window, window_state
from gateway import live, queues
from gateway.config import Config
from gateway.db import transaction
from gateway.events import emit
from gateway.handoff import wording
from gateway.store import messages
from gateway.store.channels import ChannelRow, clear_auth_failure, flag_auth_failure, get_channel
from workers import context, mailer

log = logging.getLogger(__name__)

OUTSIDE_WINDOW = "outside_window"
CHANNEL_DISABLED = "channel_disabled"


def outbound_message(claimed: dict, window: Window) -> OutboundMessage:
    template = claimed["metadata"].get("template")
    return OutboundMessage(
        recipient_address=claimed["recipient_address"],
        text=claimed["text"],
        sender=claimed["sender"],
        # Only a person may use Messenger's HUMAN_AGENT tag (PROTOCOLS.md §2).
        messenger_tag=window.messenger_tag if claimed["sender"] == "agent" else None,
        template_sid=template["content_sid"] if template else None,
        template_variables=(template.get("variables") or {}) if template else {},
        quick_replies=tuple(QuickReply(reply["title"], reply["payload"])
                            for reply in claimed["metadata"].get("quick_replies", ())),
    )


def window_refusal(claimed: dict, channel_kind: str, window: Window) -> str | None:
    """Why the messaging window does not allow this message now, or None if it does."""
    if claimed["metadata"].get("template") and capabilities(channel_kind).templates:
        return None  # an approved template may open a conversation at any time
    allowed = window.agent_free_text if claimed["sender"] == "agent" else window.bot_may_send
    return None if allowed else f"Not sent, outside the messaging window. {window.explanation}"


def send_email(claimed: dict, config: Config) -> SendResult:
    """The message as an email to the address its metadata names."""
    metadata = claimed["metadata"]
    if not config.smtp_url:  # retrying would not set it
        raise SendError("cannot send email: SMTP_URL is not set", transient=False, code="no_smtp")
    try:
        message_id = mailer.send_email(config, metadata["to"], metadata.get("subject") or wording.DEFAULT_EMAIL_SUBJECT,
                                       claimed["text"])
    except mailer.MailError as error:
        raise SendError(f"email to {metadata['to']} failed: {error}", transient=not error.permanent,
                        code="mail") from None
    return SendResult(provider_message_id=f"email:{message_id}", status="sent")


def send(claimed: dict, channel: ChannelRow, config: Config) -> SendResult:
    """Send the claimed message the way it asks, or raise SendError."""
    if claimed["metadata"].get("via") == "email":
        return send_email(claimed, config)
    if channel.disabled_at is not None:
        raise SendError(f'Not sent: the channel "{channel.name}" is disabled.', transient=False,
                        code=CHANNEL_DISABLED)
    window = window_state(channel.kind, claimed["last_customer_message_at"], datetime.now(timezone.utc))
    refusal = window_refusal(claimed, channel.kind, window)
    if refusal:
        raise SendError(refusal, transient=False, code=OUTSIDE_WINDOW)
    return adapter_for(channel, config).send(outbound_message(claimed, window))


def send_message(message_id: int) -> str:
    ctx = context.current()
    config = ctx.config
    with transaction(ctx.pool) as conn:
        claimed = messages.claim_for_sending(conn, message_id)
        if claimed is None:
            log.info("message %s is not due for sending (sent, failed, claimed, or after an unsent one)",
                     message_id)
            return "not due"
        channel = get_channel(conn, claimed["channel_id"])
    conversation_id = claimed["conversation_id"]
    try:
        result = send(claimed, channel, config)
    except SendError as error:
        return _record_failure(ctx, claimed, error)
    with transaction(ctx.pool) as conn:
        sent = messages.mark_sent(conn, message_id, result.provider_message_id, result.status)
        if channel.auth_failed_at is not None and claimed["metadata"].get("via") != "email":
            clear_auth_failure(conn, channel.id)  # the provider accepts the credentials again
        if sent["status"] in ("failed", "undelivered"):
            # A failure receipt (e.g. 63016) beat the provider's response here.
            emit(conn, None, "message.failed", conversation_id=conversation_id, message_id=message_id,
                 detail={"status": sent["status"], "error_code": sent["error_code"],
                         "error_message": sent["error_message"], "explanation": explain_error(sent["error_code"])})
    log.info("message %s sent on %s channel %s as %s (%s)", message_id, channel.kind, channel.id,
             result.provider_message_id, sent["status"])
    live.publish(ctx.redis, "message.status", conversation_id, message_id=message_id, status=sent["status"],
                 error_code=sent["error_code"])
    send_next(ctx, conversation_id)
    return "sent"


def send_next(ctx, conversation_id: int) -> None:
    """A message waits for the earlier ones of its conversation
    (claim_for_sending): once one is done, sent or failed, the next goes."""
    with ctx.pool.connection() as conn:
        following = messages.next_unsent(conn, conversation_id)
    if following is not None:
        queues.enqueue_send(ctx.redis, following)


def retry_delay(delays: tuple[float, ...], attempt: int, retry_after: float | None) -> float:
    """The wait before the retry after `attempt`: the ladder's step, or longer
    if the provider asked (Retry-After), but never longer than the ladder's
    longest step: the ladder bounds how long a customer's message waits."""
    step = delays[attempt - 1]
    return max(step, min(retry_after, max(delays))) if retry_after is not None else step


def _record_failure(ctx, claimed: dict, error: SendError) -> str:
    """Retry a transient failure, or fail the message; either way the agent
    sees why at once, in words ("cannot reach Twilio: connection refused;
    retrying in 30 s, attempt 2 of 6")."""
    message_id, conversation_id = claimed["id"], claimed["conversation_id"]
    delays = ctx.config.outbound_retry_delays
    attempt = claimed["attempts"]
    retry = error.transient and attempt <= len(delays)
    delay = retry_delay(delays, attempt, error.retry_after) if retry else None
    if retry:
        reason = f"{error}; retrying in {delay:g} s, attempt {attempt + 1} of {len(delays) + 1}"
    elif error.transient:
        reason = f"{error}; gave up after {attempt} attempt{'s' if attempt > 1 else ''}"
    else:
        reason = str(error)
    with transaction(ctx.pool) as conn:
        if retry:
            messages.mark_retrying(conn, message_id, reason, error.code, delay)
        else:
            messages.mark_failed(conn, message_id, reason, error.code, for_auth=error.auth)
            if error.auth:  # every send on the channel fails until an admin fixes its credentials
                flag_auth_failure(conn, claimed["channel_id"], str(error))
            emit(conn, None, "message.failed", conversation_id=conversation_id, message_id=message_id,
                 detail={"error": reason, "code": error.code, "attempts": attempt,
                         **({"authentication": True} if error.auth else {})})
    if retry:
        log.warning("message %s: attempt %s failed: %s", message_id, attempt, reason)
        queues.enqueue_send(ctx.redis, message_id, delay_seconds=delay)
    else:
        log.error("message %s failed for good after %s attempt(s): %s", message_id, attempt, reason)
    live.publish(ctx.redis, "message.status", conversation_id, message_id=message_id,
                 status="retrying" if retry else "failed", error_code=error.code)
    if not retry:
        send_next(ctx, conversation_id)
    return "retrying" if retry else "failed"
