"""What every inbound surface shares: finding the channel a request is for,
and handing stored messages to the workers and the live inbox after commit.

Used by the provider webhooks and the widget API.
"""

from __future__ import annotations

import logging

from redis.exceptions import RedisError

from gateway import ingest, jobs, live
from gateway.services import services
from gateway.store.channels import ChannelRow, find_channel
from gateway.web.errors import ApiError

log = logging.getLogger(__name__)


def channel_or_404(kind: str, address: str) -> ChannelRow:
    with services().pool.connection() as conn:
        channel = find_channel(conn, kind, address)
    if channel is None:
        raise ApiError(404, f"no {kind} channel is configured for {address}",
                       {"hint": "add it with `handoff channel add " + kind + "`"})
    return channel


def after_commit(stored: list[ingest.StoredMessage]) -> None:
    """Hand the stored messages to the workers and the live inbox.

    If Redis is down the messages are safe in PostgreSQL: the sweeper
    enqueues them once it is back, so the provider still gets its 200.
    """
    redis = services().redis
    for item in stored:
        try:
            jobs.enqueue_inbound(redis, item.message_id)
            live.publish(redis, "message.created", item.conversation_id, message_id=item.message_id)
        except RedisError as error:
            log.warning("message %s stored but not enqueued (Redis: %s); the sweeper will pick it up",
                        item.message_id, error)
