"""Live events over Redis pub/sub: published after commit, read by SSE streams.

Every event goes to its conversation's channel (what a widget visitor
follows) and to the inbox channel (what agents follow). Redis only carries
them; PostgreSQL holds the truth, so a stream that missed events reloads.
"""

from __future__ import annotations

import json
from typing import Iterator

from redis import Redis
from redis.client import Pipeline

from gateway.json_encoding import dumps


def _namespace(redis: Redis | Pipeline) -> str:
    """Pub/sub channels are server-wide, not per Redis database: two
    deployments (or test runs) on one server each keep to their own db's."""
    return f"handoff:{redis.connection_pool.connection_kwargs.get('db', 0)}:live"


def inbox_channel(redis: Redis | Pipeline) -> str:
    return f"{_namespace(redis)}:inbox"


def conversation_channel(redis: Redis | Pipeline, conversation_id: int) -> str:
    return f"{_namespace(redis)}:conversation:{conversation_id}"


def publish(redis: Redis, event_type: str, conversation_id: int, **data) -> None:
    with redis.pipeline(transaction=False) as pipe:
        add_publish(pipe, event_type, conversation_id, **data)
        pipe.execute()


def add_publish(pipe: Pipeline, event_type: str, conversation_id: int, **data) -> None:
    """Queue the event on a pipeline the caller executes (one round trip for many events)."""
    payload = dumps({"type": event_type, "conversation_id": conversation_id, **data})
    pipe.publish(conversation_channel(pipe, conversation_id), payload)
    pipe.publish(inbox_channel(pipe), payload)


def subscribe(redis: Redis, channel: str, *, heartbeat_seconds: float = 15.0) -> Iterator[dict | None]:
    """Yields each event on `channel`, and None every heartbeat_seconds of silence
    (so an SSE stream can send a keep-alive and notice a closed client)."""
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(channel)
    try:
        while True:
            message = pubsub.get_message(timeout=heartbeat_seconds)
            if message is None:
                yield None
            elif message["type"] == "message":
                yield json.loads(message["data"])
    finally:
        pubsub.close()
