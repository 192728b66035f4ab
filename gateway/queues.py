"""Enqueue background jobs by dotted name, so the web process never imports workers.

Queues: high (outbound sends: a customer is waiting), default (inbound
processing), low (housekeeping). Jobs are idempotent, so an occasional
double enqueue (the sweeper racing a slow worker) does no harm.
"""

from __future__ import annotations

from datetime import timedelta

from redis import Redis
from redis.client import Pipeline
from rq import Queue, Retry, SimpleWorker, Worker

QUEUES = ("high", "default", "low")
# A job that crashes (database restarting, a bug fixed by a deploy) is retried
# by RQ; after that, the sweeper still finds its message unprocessed.
CRASH_RETRY = Retry(max=3, interval=[5, 30, 120])
# Bounds a provider call whose client sets no timeout of its own (pymessenger).
SEND_JOB_TIMEOUT = 60


def queue(redis: Redis, name: str) -> Queue:
    return Queue(name, connection=redis)


def enqueue_inbound(redis: Redis, message_id: int, pipeline: Pipeline | None = None) -> None:
    """With a pipeline, the job is saved when the caller executes it."""
    queue(redis, "default").enqueue(
        "workers.inbound.process_inbound", message_id, retry=CRASH_RETRY,
        description=f"process inbound message {message_id}", pipeline=pipeline,
    )


def enqueue_send(redis: Redis, message_id: int, delay_seconds: float = 0, pipeline: Pipeline | None = None) -> None:
    q = queue(redis, "high")
    kwargs = {"retry": CRASH_RETRY, "job_timeout": SEND_JOB_TIMEOUT, "description": f"send message {message_id}",
              "pipeline": pipeline}
    if delay_seconds > 0:
        q.enqueue_in(timedelta(seconds=delay_seconds), "workers.outbound.send_message", message_id, **kwargs)
    else:
        q.enqueue("workers.outbound.send_message", message_id, **kwargs)


def enqueue_webhook_delivery(redis: Redis, delivery_id: int, delay_seconds: float = 0,
                             pipeline: Pipeline | None = None) -> None:
    q = queue(redis, "low")
    kwargs = {"description": f"deliver webhook {delivery_id}", "pipeline": pipeline}
    if delay_seconds > 0:
        q.enqueue_in(timedelta(seconds=delay_seconds), "workers.notify.deliver_webhook", delivery_id, **kwargs)
    else:
        q.enqueue("workers.notify.deliver_webhook", delivery_id, **kwargs)


# RQ's workers listen for commands (stop a job, shut down) on Redis pub/sub in a
# thread that polls every 60 s; stopping a worker waits for that poll to end,
# so each stop could stall for up to a minute (every test's burst worker, every
# Ctrl-C and deploy). A one-second poll costs nothing and stops promptly.
COMMAND_POLL_SECONDS = 1.0


class _PromptStop:
    def subscribe(self):
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(
            sleep_time=COMMAND_POLL_SECONDS, daemon=True, exception_handler=self._pubsub_exception_handler)


class ForkingWorker(_PromptStop, Worker):
    """RQ's worker (a work-horse forked per job), stopping promptly."""


class InlineWorker(_PromptStop, SimpleWorker):
    """RQ's worker that runs jobs in its own process, stopping promptly."""
