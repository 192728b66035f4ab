"""Rate limits shared by every web process, counted in Redis.

A limit is a name from config.RATE_LIMITS (its Rate: so many per so many
seconds) and a subject (a visitor, an address, a channel, an account, or
"all"). Each (name, subject) is a fixed-window counter: the window starts at
the first event and lasts `seconds`; past `count` events the caller is told
how many seconds remain (the Retry-After). One Redis round trip per check.

If Redis is down, nothing is limited (the request still goes to PostgreSQL,
which is the source of truth): refusing every visitor and agent during an
outage would be worse than an unlimited minute.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Iterable, Mapping

from redis import Redis
from redis.exceptions import RedisError

from gateway.config import Rate

log = logging.getLogger(__name__)

PREFIX = "handoff:rate"
Check = tuple[str, str]  # (limit name, subject)


def subject_key(name: str, subject: str) -> str:
    # Subjects are untrusted text (an email, an address): hashed, they make
    # short keys that cannot collide with other keys.
    return f"{PREFIX}:{name}:{hashlib.sha256(subject.encode('utf-8', 'replace')).hexdigest()[:32]}"


def hit(redis: Redis, rates: Mapping[str, Rate], checks: Iterable[Check]) -> int:
    """Count one event against every check; the seconds to wait if any of
    them is now over its limit, else 0."""
    checks = list(checks)
    try:
        with redis.pipeline(transaction=False) as pipe:
            for name, subject in checks:
                key = subject_key(name, subject)
                pipe.set(key, 0, ex=rates[name].seconds, nx=True)  # the window starts at the first event
                pipe.incr(key)
                pipe.ttl(key)
            replies = pipe.execute()
    except RedisError as error:
        log.warning("rate limits not counted (Redis: %s)", error)
        return 0
    waits = [max(int(ttl), 1) for (name, _), (_, count, ttl) in zip(checks, _triples(replies))
             if count > rates[name].count]
    return max(waits, default=0)


def exceeded(redis: Redis, rates: Mapping[str, Rate], checks: Iterable[Check]) -> int:
    """Like hit, without counting: the seconds to wait if any check already
    reached its limit, else 0."""
    checks = list(checks)
    try:
        with redis.pipeline(transaction=False) as pipe:
            for name, subject in checks:
                key = subject_key(name, subject)
                pipe.get(key)
                pipe.ttl(key)
            replies = pipe.execute()
    except RedisError as error:
        log.warning("rate limits not checked (Redis: %s)", error)
        return 0
    waits = [max(int(ttl), 1) for (name, _), (count, ttl) in zip(checks, zip(replies[::2], replies[1::2]))
             if int(count or 0) >= rates[name].count]
    return max(waits, default=0)


def _triples(replies: list) -> Iterable[tuple]:
    return zip(replies[::3], replies[1::3], replies[2::3])
