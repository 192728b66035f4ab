"""What every inbound surface shares: finding the channel a request is for,
and handing stored messages to the workers and the live inbox after commit.

Used by the provider webhooks and the widget API.
"""

from __future__ import annotations

import logging

from redis.exceptions import RedisError

from gateway import live, queues
from gateway.conversations import intake
from gateway.services import services
from gateway.store.channels import ChannelRow
from gateway.web.errors import ApiError

log = logging.getLogger(__name__)


def channel_or_404(kind: str, address: str) -> ChannelRow:
    channel = services().channels.find(services().pool, kind, address)
    if channel is None:
        raise ApiError(404, f"no {kind} channel is configured for {address}",
                       {"hint": "add it with `handoff channel add " + kind + "`"})
    if channel.disabled_at is not None:  # it takes nothing in, until an admin enables it again
        raise ApiError(404, f"the {kind} channel for {address} is disabled")
    return channel


def after_commit(stored: list[intake.StoredMessage]) -> None:
    """Hand the stored messages to the workers and the live inbox, in one
    Redis round trip.

    If Redis is down the messages are safe in PostgreSQL: the sweeper
    enqueues them once it is back, so the provider still gets its 200.
    """
    if not stored:
        return
    redis = services().redis
    try:
        with redis.pipeline(transaction=False) as pipe:
            for item in stored:
                queues.enqueue_inbound(redis, item.message_id, pipeline=pipe)
                live.add_publish(pipe, "message.created", item.conversation_id, message_id=item.message_id)
            pipe.execute()
    except RedisError as error:
        log.warning("message(s) %s stored but not enqueued (Redis: %s); the sweeper will pick them up",
                    ", ".join(str(item.message_id) for item in stored), error)
