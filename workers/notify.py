"""The notification jobs: signed outbound webhooks, Slack, the team's email.

gateway/events.py records the deliveries and enqueues these queues.

What a webhook receiver gets
----------------------------
An HTTP POST of a compact UTF-8 JSON envelope

    {"id": "<event uuid>", "event": "conversation.escalated", "created_at": "<ISO 8601>", "data": {...}}

with the headers

    Content-Type: application/json
    User-Agent: Handoff-Webhooks/1
    X-Handoff-Event: conversation.escalated
    X-Handoff-Delivery: 1234            (the delivery: the same on every retry)
    X-Handoff-Signature-256: sha256=<hex HMAC-SHA256 of the body, keyed with the subscription's secret>

To verify it, compute the HMAC over the exact bytes received (before any
JSON parsing) and compare in constant time:

    expected = "sha256=" + hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, request.headers["X-Handoff-Signature-256"]):
        reject the request (401)

Delivery is at least once: a retry or a redelivery arrives with the same
X-Handoff-Delivery, on which receivers deduplicate. A 2xx answer within the
provider timeout delivers; anything else (a redirect included: they are not
followed) is retried after each of WEBHOOK_RETRY_DELAYS, then the delivery fails.
A 410 Gone means the receiver is gone for good: the delivery fails at once and
the subscription is deactivated (an admin re-activates it). Every attempt is
recorded in webhook_attempts.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time

import requests

from channels.base import http_failure, transport_failure
from gateway import queues, webhook_targets
from gateway.config import Config
from gateway.db import transaction
from gateway.store import teams, webhooks
from workers import context, mailer

log = logging.getLogger(__name__)

USER_AGENT = "Handoff-Webhooks/1"


class NotificationError(Exception):
    """Slack or email failed; raised so that RQ retries the job."""


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def conversation_url(config: Config, conversation_id: int) -> str:
    return f"{config.public_url}/inbox/conversations/{conversation_id}"


# --- webhooks -----------------------------------------------------------------------------------


def deliver_webhook(delivery_id: int) -> str:
    ctx = context.current()
    with transaction(ctx.pool) as conn:
        claimed = webhooks.claim_delivery(conn, delivery_id)
    if claimed is None:
        log.info("webhook delivery %s is not due (delivered, failed, inactive, or another worker has it)",
                 delivery_id)
        return "not due"
    status, error, duration_ms = _post(claimed, ctx.config)
    attempt, subscription_id = claimed["attempts"], claimed["subscription_id"]
    delays = ctx.config.webhook_retry_delays
    with transaction(ctx.pool) as conn:
        if not webhooks.record_attempt(conn, delivery_id, attempt, status=status, error=error,
                                       duration_ms=duration_ms):
            log.info("webhook delivery %s: its subscription was deleted during the attempt", delivery_id)
            return "deleted"
        if status is not None and 200 <= status < 300:
            webhooks.mark_delivered(conn, delivery_id)
            outcome = "delivered"
        elif status == 410:
            webhooks.mark_failed(conn, delivery_id)
            webhooks.update_subscription(conn, subscription_id, active=False)
            outcome = "gone"
        elif attempt <= len(delays):
            webhooks.schedule_retry(conn, delivery_id, delays[attempt - 1])
            outcome = "retrying"
        else:
            webhooks.mark_failed(conn, delivery_id)
            outcome = "failed"
    # The URL is not logged: receivers often put a token in it.
    where = f"webhook delivery {delivery_id} ({claimed['event']}) to subscription {subscription_id}"
    if outcome == "delivered":
        log.info("%s delivered on attempt %s (HTTP %s, %s ms)", where, attempt, status, duration_ms)
    elif outcome == "gone":
        log.warning("%s: the receiver answered 410 Gone; subscription deactivated", where)
    elif outcome == "retrying":
        log.warning("%s: attempt %s failed (%s); retrying in %ss", where, attempt, _short(status, error),
                    delays[attempt - 1])
        queues.enqueue_webhook_delivery(ctx.redis, delivery_id, delay_seconds=delays[attempt - 1])
    else:
        log.error("%s failed for good after %s attempt(s): %s", where, attempt, _short(status, error))
    return outcome


def _post(claimed: dict, config: Config) -> tuple[int | None, str | None, int]:
    """POST the delivery's envelope, signed: (HTTP status or None, a short
    reason or None, duration in ms). Only to the addresses
    gateway/webhook_targets.py allows; the reason is the status or the kind
    of network failure, never what the receiver answered (it may be an
    internal service's page)."""
    body = json.dumps(claimed["payload"], separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Handoff-Event": claimed["event"],
        "X-Handoff-Delivery": str(claimed["id"]),
        "X-Handoff-Signature-256": signature(claimed["secret"], body),
    }
    started = time.monotonic()
    try:
        with webhook_targets.session(config.webhook_allowed_hosts) as http, \
                http.post(claimed["url"], data=body, headers=headers, timeout=config.provider_timeout,
                          allow_redirects=False, stream=True) as response:  # the body is never read
            status = response.status_code
            error = None if 200 <= status < 300 else http_failure(status)
    except requests.RequestException as exception:
        status, error = None, transport_failure(exception, config.provider_timeout)
    return status, error, round((time.monotonic() - started) * 1000)


def _short(status: int | None, error: str | None) -> str:
    return error or f"HTTP {status}"


# --- people -------------------------------------------------------------------------------------


def slack_escape(text: str) -> str:
    """Slack's mrkdwn escaping of & < > (customer text must not become links or mentions)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def post_to_slack(event: str, conversation_id: int | None, summary: str) -> str:
    config = context.current().config
    if not config.slack_webhook_url:
        return "not configured"
    text = slack_escape(summary)
    if conversation_id is not None:
        text += f"\n<{conversation_url(config, conversation_id)}|Open conversation #{conversation_id}>"
    # SLACK_WEBHOOK_URL is a secret: neither it nor an error naming it is logged.
    try:
        response = requests.post(config.slack_webhook_url, json={"text": text}, timeout=config.provider_timeout,
                                 allow_redirects=False)
    except requests.RequestException as error:
        failure = type(error).__name__
    else:
        failure = None if response.status_code == 200 else f"HTTP {response.status_code}"
    if failure:
        log.warning("Slack notification of %s for conversation %s failed (%s)", event, conversation_id, failure)
        raise NotificationError(f"Slack webhook: {failure}") from None
    log.info("Slack notified of %s for conversation %s", event, conversation_id)
    return "posted"


def email_team(event: str, conversation_id: int | None, team_id: int | None, summary: str) -> str:
    ctx = context.current()
    if team_id is None or not ctx.config.smtp_url:
        return "not configured"
    with ctx.pool.connection() as conn:
        team = teams.get_team(conn, team_id)
    address = team["email"] if team else None
    if not address:
        return "no team email"
    body = summary + "\n"
    if conversation_id is not None:
        body += f"\nOpen the conversation: {conversation_url(ctx.config, conversation_id)}\n"
    try:
        mailer.send_email(ctx.config, address, f"[Handoff] {summary}", body)
    except mailer.MailError as error:
        log.warning("email to team %s about %s for conversation %s failed: %s", team_id, event, conversation_id,
                    error)
        raise NotificationError(str(error)) from None
    log.info("team %s emailed about %s for conversation %s", team_id, event, conversation_id)
    return "sent"
