"""The long-lived parts a web process shares between requests."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from flask import current_app
from psycopg_pool import ConnectionPool
from redis import Redis

from gateway.config import Config
from gateway.store.channels import ChannelRow, find_channel


class ChannelCache:
    """Channels by (kind, address), kept for a few seconds per process.

    Every webhook needs its channel's credentials before anything else; a
    short cache saves a database round trip on each. A changed channel (a
    rotated auth token) is seen within TTL_SECONDS. Unknown addresses are
    never cached, so a channel added a moment ago works at once.
    """

    TTL_SECONDS = 10.0

    def __init__(self):
        self._entries: dict[tuple[str, str], tuple[float, ChannelRow]] = {}

    def find(self, pool: ConnectionPool, kind: str, address: str) -> ChannelRow | None:
        key = (kind, address)
        entry = self._entries.get(key)
        now = time.monotonic()
        if entry and entry[0] > now:
            return entry[1]
        with pool.connection() as conn:
            channel = find_channel(conn, kind, address)
        if channel is None:
            self._entries.pop(key, None)
        else:
            self._entries[key] = (now + self.TTL_SECONDS, channel)
        return channel


@dataclass
class Services:
    config: Config
    pool: ConnectionPool
    redis: Redis
    channels: ChannelCache = field(default_factory=ChannelCache)


def services() -> Services:
    return current_app.extensions["handoff"]
