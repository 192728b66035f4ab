"""The PostgreSQL and Redis a benchmark runs against: a fresh, migrated
database and an empty Redis db on the configured servers (DATABASE_URL,
REDIS_URL), or embedded servers in a temporary directory; removed afterwards.
Shared by `handoff bench ingest` and `handoff bench brain`."""

from __future__ import annotations

import os
import sys
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql
from redis import Redis


def say(message: str) -> None:
    """A progress line (stderr, so that --json output stays clean)."""
    print(message, file=sys.stderr, flush=True)


@dataclass
class Backing:
    database_url: str
    redis_url: str
    database_kind: str  # "external" | "embedded"
    redis_kind: str


def with_path(url: str, path: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=path))


def redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        parts = parts._replace(netloc=parts.netloc.replace(":" + parts.password + "@", ":***@"))
    return urlunsplit(parts)


@contextmanager
def backing_services(workdir: Path, *, database_name: str, redis_db: int,
                     prepare: Callable[[psycopg.Connection], None] | None = None) -> Iterator[Backing]:
    """A fresh, migrated benchmark database (then `prepare`d) and an empty Redis db."""
    from gateway.local import embedded
    from gateway.migrate import apply_migrations

    with ExitStack() as stack:
        configured_db = os.environ.get("DATABASE_URL")
        if configured_db:
            say(f"  database: {redacted(with_path(configured_db, '/' + database_name))} (created fresh)")
            _recreate_database(configured_db, database_name)
            stack.callback(_drop_database, configured_db, database_name)
            database_url, database_kind = with_path(configured_db, "/" + database_name), "external"
        else:
            say("  database: starting embedded PostgreSQL in a temporary directory…")
            server = embedded.start_postgres(workdir / "postgres" / "data")
            stack.callback(server.stop)
            database_url, database_kind = server.ensure_database(database_name), "embedded"
        apply_migrations(database_url)
        if prepare is not None:
            with psycopg.connect(database_url, autocommit=True) as conn:
                prepare(conn)

        configured_redis = os.environ.get("REDIS_URL")
        if configured_redis:
            redis_url, redis_kind = with_path(configured_redis, f"/{redis_db}"), "external"
            say(f"  redis: {redacted(redis_url)} (db {redis_db}, flushed)")
        else:
            say("  redis: starting embedded Valkey in a temporary directory…")
            valkey = embedded.start_redis(workdir / "redis", persist=False)
            stack.callback(valkey.stop)
            redis_url, redis_kind = valkey.url, "embedded"
        with Redis.from_url(redis_url) as redis:
            redis.flushdb()
            stack.callback(_flush_redis, redis_url)
        yield Backing(database_url, redis_url, database_kind, redis_kind)


def _recreate_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _drop_database(admin_url: str, name: str) -> None:
    try:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    except psycopg.Error as error:
        say(f"  (could not drop the benchmark database {name}: {error})")


def _flush_redis(redis_url: str) -> None:
    try:
        with Redis.from_url(redis_url) as redis:
            redis.flushdb()
    except Exception as error:  # cleanup must go on
        say(f"  (could not flush the benchmark Redis db: {error})")


# --- shared by the benchmarks' runs and reports --------------------------------------------


def load_average() -> float | None:
    """The 1-minute load average (None where the system has none)."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def interrupt(signum, frame):
    """A SIGTERM handler: stop like Ctrl-C, so that everything started is stopped."""
    raise KeyboardInterrupt()


def number(value, fmt: str) -> str:
    """A figure for a report, "n/a" when it could not be measured."""
    return "n/a" if value is None else format(value, fmt)
