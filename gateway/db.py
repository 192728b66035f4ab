"""PostgreSQL access: one connection pool per process, and a transaction helper.

Connections are never shared across a fork (psycopg connections are not
process-safe), so gunicorn workers and RQ work-horses each open their own pool
after they start.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool


def open_pool(database_url: str, *, size: int = 10, name: str = "handoff") -> ConnectionPool:
    pool = ConnectionPool(
        database_url,
        min_size=1,
        max_size=max(1, size),
        # Autocommit: a lone statement is its own transaction (one round trip,
        # no BEGIN/COMMIT); several statements go in transaction() below.
        kwargs={"row_factory": dict_row, "autocommit": True},
        # A request waits this long for a connection: while PostgreSQL is down
        # a webhook answers 503 within Twilio's 15 s, instead of hanging.
        timeout=5,
        name=name,
        open=False,
    )
    pool.open(wait=True, timeout=15)
    return pool


@contextmanager
def transaction(pool: ConnectionPool) -> Iterator[psycopg.Connection]:
    """A connection in a transaction (BEGIN ... COMMIT): committed on success,
    rolled back on error."""
    with pool.connection() as conn:
        with conn.transaction():
            yield conn


def connect(database_url: str, **kwargs) -> psycopg.Connection:
    """A single connection, for the CLI and migrations."""
    return psycopg.connect(database_url, row_factory=dict_row, **kwargs)
