"""Periodic housekeeping: the sweeper that makes Redis losses harmless.

PostgreSQL is the source of truth. A message committed while Redis was down
(or whose job vanished with a Redis restart, or whose worker died) is still
unprocessed or unsent in the database; the sweeper finds it and enqueues it
again. Jobs are idempotent, so a re-enqueue of a job that was merely slow
does no harm.
"""

from __future__ import annotations

import logging
import threading

from redis import Redis
from redis.exceptions import RedisError

from gateway import jobs
from gateway.db import transaction
from gateway.store import messages
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
    for message_id in inbound:
        jobs.enqueue_inbound(ctx.redis, message_id)
    for message_id in outbound:
        jobs.enqueue_send(ctx.redis, message_id)
    if inbound or outbound:
        log.warning("sweeper re-enqueued %s inbound and %s outbound message(s)", len(inbound), len(outbound))
    return {"inbound": inbound, "outbound": outbound, "early_receipts_forgotten": forgotten}


def run_sweeper_clock(redis: Redis, stop: threading.Event, every_seconds: float = 30.0) -> None:
    """Enqueue sweep() every `every_seconds`, once per period across all workers
    (whichever worker takes the Redis lock for the period does it)."""
    while not stop.wait(every_seconds):
        try:
            if redis.set(SWEEP_LOCK, "1", nx=True, ex=max(1, int(every_seconds) - 1)):
                jobs.queue(redis, "low").enqueue("workers.schedule.sweep", description="sweep unsent messages")
        except RedisError as error:
            log.warning("sweeper clock: Redis unavailable (%s); will try again", error)
