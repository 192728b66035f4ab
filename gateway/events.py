"""Domain facts: every event name, and emit(), which writes what a fact
leaves behind in one call, in the caller's transaction:

- its audit row (the events table: who did what to which conversation, and
  the detail — the rule that fired, the reason, the previous assignee...);
- its live event, after commit (through the caller's Effects): the name and
  ids only (conversation, team, agent, message), since every listener
  re-reads what it shows under its own permissions;
- its webhook deliveries, one durable row per subscription that wants it
  (a Redis outage delays a webhook, never loses it), posted after commit by
  workers/notify.py with the envelope {id, event, created_at, data}; data is
  the conversation id and the detail, unless the fact has a richer payload
  (the escalation's handoff packet, a message);
- its alerts for people (Slack, the team's email), when configured.

EVENTS says which of these each name has.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from redis import Redis
from redis.client import Pipeline
from redis.exceptions import RedisError

from gateway import queues
from gateway.json_encoding import plain
from gateway.store import events as audit
from gateway.store import webhooks

if TYPE_CHECKING:
    from gateway.effects import Effects

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Kind:
    audit: bool = True      # an events row
    live: bool = True       # a live event (needs a conversation)
    webhook: bool = False   # deliveries to outbound webhooks subscribed to it
    alert: bool = False     # Slack and the team's email, when configured


EVENTS = {
    "conversation.escalated": Kind(webhook=True, alert=True),
    "conversation.assigned": Kind(webhook=True, alert=True),
    "conversation.missed": Kind(webhook=True, alert=True),
    "conversation.resolved": Kind(webhook=True),
    "ticket.created": Kind(webhook=True, alert=True),
    # A message's live event goes with the message itself (Effects.send, the
    # webhooks' intake), when it is stored or sent; this is its webhook.
    "message.created": Kind(audit=False, live=False, webhook=True),
    "conversation.reassigned": Kind(live=False),
    "conversation.unassigned": Kind(audit=False),
    "conversation.transferred": Kind(),
    "conversation.reopened": Kind(),
    "ticket.closed": Kind(),
    # Its live event is message.status, published with the new status.
    "message.failed": Kind(live=False),
    "agent.replied": Kind(live=False),
    "agent.presence": Kind(live=False),
    "trigger.offered_human": Kind(live=False),
    "settings.changed": Kind(live=False),
    "contact.joined_by_email": Kind(live=False),
    # An item of a signed provider webhook acknowledged but not used, and why.
    "webhook.item_skipped": Kind(live=False),
}
# Live notices that record no fact: a delivery status, a summary written, a read receipt.
LIVE_ONLY = ("message.status", "conversation.packet", "conversation.watermark")

WEBHOOK_EVENTS = tuple(name for name, kind in EVENTS.items() if kind.webhook)
# What a person should hear about on Slack or by email.
ALERT_EVENTS = frozenset(name for name, kind in EVENTS.items() if kind.alert)


def emit(conn, effects: Effects | None, name: str, *, conversation_id: int | None = None,
         message_id: int | None = None, agent_id: int | None = None, team_id: int | None = None,
         assignee_id: int | None = None, from_team_id: int | None = None, detail: dict | None = None,
         data: dict | None = None, summary: str = "") -> None:
    """Record the fact `name` (see the module docstring). `agent_id`: the
    agent who did it; `assignee_id`: the agent it gave the conversation to;
    `from_team_id`: the team it left (a transfer), whose agents hear it too;
    `data`: the webhook payload when it is not {conversation_id, **detail};
    `summary`: the alert's sentence. `effects` may be None only for a fact
    with no live event, webhook or alert."""
    kind = EVENTS[name]
    detail = detail or {}
    if kind.audit:
        audit.record_event(conn, name, conversation_id=conversation_id, message_id=message_id, agent_id=agent_id,
                           detail=detail)
    if kind.live and conversation_id is not None:
        ids = {"message_id": message_id, "agent_id": agent_id, "team_id": team_id, "assignee_id": assignee_id,
               "from_team_id": from_team_id}
        effects.publish(name, **{key: value for key, value in ids.items() if value is not None})
    if kind.webhook:
        payload = data if data is not None else {"conversation_id": conversation_id, **detail}
        effects.notify(record(conn, name, payload, summary=summary, conversation_id=conversation_id,
                              team_id=team_id))


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
