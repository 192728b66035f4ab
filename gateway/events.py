"""Telling people and systems what happened: outbound webhooks, Slack, email.

Recorded in the caller's transaction (one webhook_deliveries row per
subscription that wants the event: durable, so a Redis outage delays a
webhook but never loses it), dispatched after commit as jobs of
workers/notify.py. Slack and email are best-effort alerts for people.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

from redis import Redis
from redis.client import Pipeline
from redis.exceptions import RedisError

from gateway import queues
from gateway.json_encoding import plain
from gateway.store import webhooks

log = logging.getLogger(__name__)

WEBHOOK_EVENTS = ("conversation.escalated", "conversation.assigned", "conversation.missed",
                  "conversation.resolved", "ticket.created", "message.created")
# What a person should hear about on Slack or by email.
ALERT_EVENTS = frozenset({"conversation.escalated", "conversation.assigned", "conversation.missed",
                          "ticket.created"})


@dataclass(frozen=True)
class Pending:
    event: str
    summary: str
    conversation_id: int | None = None
    team_id: int | None = None
    delivery_ids: tuple[int, ...] = field(default=())


def envelope(event: str, data: dict) -> dict:
    """What a webhook receiver gets: a unique id to deduplicate on, the event and its data."""
    return {"id": str(uuid.uuid4()), "event": event,
            "created_at": datetime.now(timezone.utc).isoformat(), "data": data}


def record(conn, event: str, payload: dict, *, summary: str = "", conversation_id: int | None = None,
           team_id: int | None = None) -> Pending:
    """A delivery per active subscription to `event` (or to every event, '*'), due now."""
    # Through JSON and back: payloads carry datetimes and decimals.
    body = plain(envelope(event, payload))
    delivery_ids = webhooks.insert_deliveries(conn, event, body)
    return Pending(event=event, summary=summary, conversation_id=conversation_id, team_id=team_id,
                   delivery_ids=tuple(delivery_ids))


def dispatch(redis: Redis, pending: Pending, *, slack: bool, email: bool, pipeline: Pipeline | None = None) -> None:
    """Enqueue the deliveries and the alerts (`slack`, `email`: whether those
    are configured). With a pipeline, they go in the caller's round trip and
    the caller handles Redis errors; alone, a Redis error is logged, not
    raised: the sweeper re-enqueues due deliveries."""
    if pipeline is not None:
        _enqueue(redis, pipeline, pending, slack=slack, email=email)
        return
    try:
        with redis.pipeline(transaction=False) as pipe:
            _enqueue(redis, pipe, pending, slack=slack, email=email)
            pipe.execute()
    except RedisError as error:
        log.warning("%s: notifications not enqueued (Redis: %s); webhooks will be swept", pending.event, error)


def _enqueue(redis: Redis, pipe: Pipeline, pending: Pending, *, slack: bool, email: bool) -> None:
    low = queues.queue(redis, "low")
    for delivery_id in pending.delivery_ids:
        queues.enqueue_webhook_delivery(redis, delivery_id, pipeline=pipe)
    if pending.event in ALERT_EVENTS and slack:
        low.enqueue("workers.notify.post_to_slack", pending.event, pending.conversation_id, pending.summary,
                    retry=queues.CRASH_RETRY, pipeline=pipe, description=f"Slack: {pending.event}")
    if pending.event in ALERT_EVENTS and email and pending.team_id is not None:
        low.enqueue("workers.notify.email_team", pending.event, pending.conversation_id, pending.team_id,
                    pending.summary, retry=queues.CRASH_RETRY, pipeline=pipe,
                    description=f"email the team: {pending.event}")
