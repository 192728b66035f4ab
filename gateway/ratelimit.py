"""Rate limits shared by every web process, counted in Redis.

A limit is a name from config.RATE_LIMITS (its Rate: so many per so many
seconds) and a subject (a visitor, an address, a channel, an account, or
"all"). Each (name, subject) is a fixed-window counter: the window starts at
the first event and lasts `seconds`; past `count` events the caller is told
how many seconds remain (the Retry-After). One Redis round trip per call.

- take(): a request that must pass every check (widget sessions and
  messages). A request refused by one check counts against none, so one
  address over its limit cannot spend a whole channel's allowance.
- exceeded() and record(): events counted after the fact (failed logins):
  is any check at its limit now, and count one more.

If Redis is down, nothing is limited (the request still goes to PostgreSQL,
which is the source of truth): refusing every visitor and agent during an
outage would be worse than an unlimited minute.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Mapping, Sequence

from redis import Redis
from redis.exceptions import RedisError

from gateway.config import Rate

log = logging.getLogger(__name__)

PREFIX = "handoff:rate"
Check = tuple[str, str]  # (limit name, subject)

# KEYS: the counters; ARGV: count and seconds of each. Refused (the longest
# wait) if any counter is at its count, else every counter is incremented.
TAKE = """
local wait = 0
for i, key in ipairs(KEYS) do
    if tonumber(redis.call('GET', key) or '0') >= tonumber(ARGV[2 * i - 1]) then
        wait = math.max(wait, redis.call('TTL', key), 1)
    end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
    if redis.call('INCR', key) == 1 then redis.call('EXPIRE', key, ARGV[2 * i]) end
end
return 0
"""


def subject_key(name: str, subject: str) -> str:
    # Subjects are untrusted text (an email, an address): hashed, they make
    # short keys that cannot collide with other keys.
    return f"{PREFIX}:{name}:{hashlib.sha256(subject.encode('utf-8', 'replace')).hexdigest()[:32]}"


def take(redis: Redis, rates: Mapping[str, Rate], checks: Sequence[Check]) -> int:
    """One event, if every check allows it: 0, and it is counted; else the
    seconds to wait, and nothing is counted."""
    arguments = [value for name, _ in checks for value in (rates[name].count, rates[name].seconds)]
    try:
        return int(redis.eval(TAKE, len(checks), *(subject_key(*check) for check in checks), *arguments))
    except RedisError as error:
        log.warning("rate limits not checked (Redis: %s)", error)
        return 0


def exceeded(redis: Redis, rates: Mapping[str, Rate], checks: Sequence[Check]) -> int:
    """The seconds to wait if any check is at its limit, else 0 (nothing counted)."""
    try:
        with redis.pipeline(transaction=False) as pipe:
            for check in checks:
                pipe.get(subject_key(*check))
                pipe.ttl(subject_key(*check))
            replies = pipe.execute()
    except RedisError as error:
        log.warning("rate limits not checked (Redis: %s)", error)
        return 0
    waits = [max(int(ttl), 1) for (name, _), count, ttl in zip(checks, replies[::2], replies[1::2])
             if int(count or 0) >= rates[name].count]
    return max(waits, default=0)


def record(redis: Redis, rates: Mapping[str, Rate], checks: Sequence[Check]) -> None:
    """Count one event against every check."""
    try:
        with redis.pipeline(transaction=False) as pipe:
            for name, subject in checks:
                key = subject_key(name, subject)
                pipe.set(key, 0, ex=rates[name].seconds, nx=True)  # the window starts at the first event
                pipe.incr(key)
            pipe.execute()
    except RedisError as error:
        log.warning("rate limits not counted (Redis: %s)", error)
