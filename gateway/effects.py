"""What a change does once it is committed: send messages, tell the live
inbox, notify people and systems.

Code that changes a conversation inside a transaction collects its effects
here and applies them after commit, in one Redis round trip, so that nothing
is announced that was rolled back. If Redis is down, nothing is lost: unsent
messages and undelivered webhooks are in PostgreSQL, where the sweeper finds
them; only live events (which the inbox reloads anyway) are missed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from redis import Redis
from redis.exceptions import RedisError

from gateway import events, live, queues
from gateway.config import Config

log = logging.getLogger(__name__)


@dataclass
class Effects:
    """The effects of one conversation's change."""

    conversation_id: int
    sends: list[int] = field(default_factory=list)
    events: list[tuple[str, dict]] = field(default_factory=list)
    notifications: list[events.Pending] = field(default_factory=list)
    # (job by dotted name, its arguments, seconds from now): RQ's scheduler runs them.
    scheduled: list[tuple[str, tuple, float]] = field(default_factory=list)

    def send(self, message_id: int | None) -> None:
        """Send a stored outbound message (and show it in the inbox)."""
        if message_id is not None:
            self.sends.append(message_id)
            self.publish("message.created", message_id=message_id)

    def publish(self, event_type: str, **data) -> None:
        self.events.append((event_type, data))

    def notify(self, pending: events.Pending | None) -> None:
        if pending is not None:
            self.notifications.append(pending)

    def merge(self, other: "Effects") -> None:
        """Take on the effects another step recorded for the same conversation."""
        self.sends += other.sends
        self.events += other.events
        self.notifications += other.notifications
        self.scheduled += other.scheduled

    def schedule(self, job: str, *args, delay_seconds: float = 0) -> None:
        """Run a job after commit: now, or later through RQ's scheduler."""
        self.scheduled.append((job, args, delay_seconds))

    def apply(self, redis: Redis, config: Config) -> None:
        try:
            with redis.pipeline(transaction=False) as pipe:
                # RQ's enqueue WATCHes keys, which a pipeline allows only before any
                # other command: every enqueue first, then the scheduled jobs and events.
                for message_id in self.sends:
                    queues.enqueue_send(redis, message_id, pipeline=pipe)
                for job, args, delay in self.scheduled:
                    if delay <= 0:
                        queues.queue(redis, "default").enqueue(job, *args, pipeline=pipe, retry=queues.CRASH_RETRY)
                for pending in self.notifications:
                    events.dispatch(redis, pending, slack=bool(config.slack_webhook_url),
                                           email=bool(config.smtp_url), pipeline=pipe)
                for job, args, delay in self.scheduled:
                    if delay > 0:
                        queues.queue(redis, "low").enqueue_in(timedelta(seconds=delay), job, *args, pipeline=pipe,
                                                            retry=queues.CRASH_RETRY)
                for event_type, data in self.events:
                    live.add_publish(pipe, event_type, self.conversation_id, **data)
                pipe.execute()
        except RedisError as error:
            log.warning("conversation %s: effects not enqueued (Redis: %s); the sweeper sends the messages and "
                        "webhooks", self.conversation_id, error)
