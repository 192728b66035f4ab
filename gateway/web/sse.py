"""Server-sent events: the one loop every stream runs (the widget's, the agents').

A stream subscribes to its live channel first, then sends its start (a
replay from the database, a hello: nothing published after the
subscription is missed), then follows the channel, turning each live event
into frames with its own function (which re-reads what it sends under the
caller's permissions: a payload is never trusted), with keep-alive comments
in the silences, and ends after a bounded lifetime (EventSource reconnects).
With Redis down, the start is sent and the client told to come back later.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator

from flask import Response
from redis import Redis
from redis.exceptions import RedisError

from gateway import live
from gateway.json_encoding import dumps

log = logging.getLogger(__name__)

# A stream ends after this long, so that a server thread is never held for good.
STREAM_SECONDS = 300
HEARTBEAT_SECONDS = 15
# How long EventSource waits before it reconnects; longer while Redis is down
# and a stream is only its start.
RETRY_MS = 2000
DEGRADED_RETRY_MS = 10000


def frame(data, *, event_id: int | None = None) -> str:
    """One event: `data` as JSON, with an id for Last-Event-ID when given."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}data: {dumps(data)}\n\n"


def response(frames: Iterator[str]) -> Response:
    return Response(frames, mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def follow(redis: Redis, channel: str, *, start: Callable[[], Iterable[str]],
           on_event: Callable[[dict], Iterable[str]], heartbeat_seconds: float, stream_seconds: float,
           name: str) -> Iterator[str]:
    """The frames of one stream of `channel` (see the module docstring); `name`
    says whose stream it is in the logs."""
    deadline = time.monotonic() + stream_seconds
    yield f"retry: {RETRY_MS}\n\n"
    updates = live.subscribe(redis, channel, heartbeat_seconds=heartbeat_seconds)
    try:
        first = next(updates)  # returns as soon as Redis confirms the subscription
    except RedisError as error:
        log.warning("%s without live events (Redis: %s)", name, error)
        yield from start()
        yield f"retry: {DEGRADED_RETRY_MS}\n\n"
        return
    try:
        yield from start()
        if first is not None:
            yield from on_event(first)
        while time.monotonic() < deadline:
            update = next(updates)
            if update is None:
                yield ": keep-alive\n\n"
            else:
                yield from on_event(update)
    except RedisError as error:
        log.warning("%s cut (Redis: %s); the client reconnects", name, error)
    finally:
        updates.close()
