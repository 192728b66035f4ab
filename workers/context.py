"""What a job needs: the config, a database pool and Redis, per process.

RQ forks a work-horse per job, and psycopg connections must not cross a fork,
so the pool is (re)opened lazily in whichever process first asks for it.
`handoff worker` and the tests call configure(); a bare RQ worker falls back
to the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from psycopg_pool import ConnectionPool
from redis import Redis

from gateway.config import Config
from gateway.db import open_pool


@dataclass
class JobContext:
    config: Config
    pid: int
    _pool: ConnectionPool | None = None
    _redis: Redis | None = None

    @property
    def pool(self) -> ConnectionPool:
        if self._pool is None:
            self._pool = open_pool(self.config.database_url, size=2, name="handoff-worker")
        return self._pool

    @property
    def redis(self) -> Redis:
        if self._redis is None:
            self._redis = Redis.from_url(self.config.redis_url)
        return self._redis

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None


_config: Config | None = None
_context: JobContext | None = None


def configure(config: Config) -> None:
    global _config, _context
    if _context is not None and _context.pid == os.getpid():
        _context.close()
    _config, _context = config.require_services(), None


def current() -> JobContext:
    global _context, _config
    if _context is None or _context.pid != os.getpid():
        if _config is None:
            _config = Config.from_env().require_services()
        _context = JobContext(config=_config, pid=os.getpid())
    return _context
