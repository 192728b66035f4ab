"""Periodic housekeeping: the sweeper that makes Redis losses harmless, and
the care of conversations waiting for a person.

PostgreSQL is the source of truth. A message committed while Redis was down
(or whose job vanished with a Redis restart, or whose worker died) is still
unprocessed or unsent in the database, a webhook still undelivered; the
sweeper finds it and enqueues it again. Jobs are idempotent, so a re-enqueue
of a job that was merely slow does no harm.

Waiting conversations are tended (gateway/handoff/ladder.py) by
check_missed_chat, scheduled through RQ's scheduler at each step of the
missed-chat ladder, and by tend_waiting every sweep, which catches what a
lost schedule missed.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone

from redis import Redis
from redis.exceptions import RedisError

from gateway import queues
from gateway.bot.settings import load_bot_settings
from gateway.db import transaction
from gateway.handoff.ladder import tend_conversation
from gateway.store import assignment, conversations, messages, webhooks
from workers import context

log = logging.getLogger(__name__)

SWEEP_LOCK = "handoff:sweeper:lock"


def sweep() -> dict:
    ctx = context.current()
    age = ctx.config.sweep_after_seconds
    with transaction(ctx.pool) as conn:
        inbound = messages.unprocessed_inbound(conn, age)
        outbound = messages.due_outbound(conn, age)
        forgotten = messages.forget_stale_early_receipts(conn)
        deliveries = webhooks.due_deliveries(conn)
    for message_id in inbound:
        queues.enqueue_inbound(ctx.redis, message_id)
    for message_id in outbound:
        queues.enqueue_send(ctx.redis, message_id)
    for delivery_id in deliveries:
        queues.enqueue_webhook_delivery(ctx.redis, delivery_id)
    if inbound or outbound or deliveries:
        log.warning("sweeper re-enqueued %s inbound message(s), %s outbound message(s), %s webhook delivery(ies)",
                    len(inbound), len(outbound), len(deliveries))
    return {"inbound": inbound, "outbound": outbound, "webhook_deliveries": deliveries,
            "early_receipts_forgotten": forgotten}


def run_sweeper_clock(redis: Redis, stop: threading.Event, every_seconds: float = 30.0) -> None:
    """Enqueue sweep() every `every_seconds`, once per period across all workers
    (whichever worker takes the Redis lock for the period does it)."""
    while not stop.wait(every_seconds):
        try:
            if redis.set(SWEEP_LOCK, "1", nx=True, ex=max(1, int(every_seconds) - 1)):
                low = queues.queue(redis, "low")
                low.enqueue("workers.schedule.sweep", description="sweep unsent messages")
                low.enqueue("workers.schedule.tend_waiting", description="tend conversations waiting for a person")
        except RedisError as error:
            log.warning("sweeper clock: Redis unavailable (%s); will try again", error)


# --- conversations waiting for a person ----------------------------------------------------


def check_missed_chat(conversation_id: int, now_iso: str | None = None) -> str:
    """Scheduled through RQ's scheduler a missed-chat timeout after an
    escalation (and again for the next step of the ladder). `now_iso` lets a
    test or an operator run it as of a given time."""
    ctx = context.current()
    now = datetime.fromisoformat(now_iso) if now_iso else datetime.now(timezone.utc)
    with transaction(ctx.pool) as conn:
        conversation = conversations.lock_conversation(conn, conversation_id)
        if conversation is None:
            return "missing"
        effects, outcome = tend_conversation(conn, conversation, load_bot_settings(conn), now)
    effects.apply(ctx.redis, ctx.config)
    return outcome


def tend_waiting(now_iso: str | None = None) -> dict:
    """Every sweep: each conversation waiting for a person climbs the
    missed-chat ladder when due, is taken from an agent who went offline,
    auto-assigned when someone became free, and hears its place in line when
    it moved or after a while. Catches what the scheduled checks missed
    (e.g. a Redis restart lost them)."""
    ctx = context.current()
    now = datetime.fromisoformat(now_iso) if now_iso else datetime.now(timezone.utc)
    outcomes: dict[str, int] = {}
    with ctx.pool.connection() as conn:
        waiting = assignment.waiting_conversation_ids(conn)
        settings = load_bot_settings(conn)
    for conversation_id in waiting:
        with transaction(ctx.pool) as conn:
            conversation = conversations.lock_conversation(conn, conversation_id)
            effects, outcome = tend_conversation(conn, conversation, settings, now)
        effects.apply(ctx.redis, ctx.config)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes
