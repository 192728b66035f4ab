"""`handoff bench ingest`: how fast Handoff takes in WhatsApp webhooks, against a floor.

Two gunicorn servers run side by side, started exactly as the Procfile's
`web:` line (`gunicorn --config python:gateway.gunicorn_conf APP`, same
worker class, threads and WEB_CONCURRENCY):

- Handoff: `gateway.app:create_app()`, with one seeded WhatsApp channel;
- the floor: `bench.floor_app:create_floor_app()`, one INSERT and one RQ
  enqueue per request, nothing else.

For each concurrency level a load-generator process (bench/load.py) sends
both of them the same kind of signed Twilio webhooks (unique MessageSid,
a handful of senders so conversations are reused), first a warm-up, then a
timed window; it reports requests/s and latency percentiles. While it runs,
the CPU used by each side is read from /proc: the gunicorn processes, the
PostgreSQL backends of the benchmark database, Redis, and the load generator.

Servers: DATABASE_URL / REDIS_URL when set, but a dedicated database
(handoff_bench, dropped and created fresh) and a dedicated Redis db (13);
otherwise embedded PostgreSQL and Valkey in a temporary directory. No RQ
worker runs: the jobs are left queued and flushed at the end, so this
measures the webhook path only.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

import psycopg
from psycopg import sql
from redis import Redis

from bench import load
from bench.floor_app import FLOOR_QUEUE, FLOOR_TABLE, create_table
from bench.services import backing_services, interrupt, number, say

# Overridable (HANDOFF_BENCH_DATABASE, HANDOFF_BENCH_REDIS_DB) so that the benchmark
# never shares state with the test suite (handoff_test, db 15) or development data.
BENCH_DATABASE = "handoff_bench"
BENCH_REDIS_DB = 13
# What Twilio would call; the load generator signs against it, Handoff checks against it.
PUBLIC_URL = "https://handoff-bench.example.com"
HANDOFF_APP = "gateway.app:create_app()"
FLOOR_APP = "bench.floor_app:create_floor_app()"
GUNICORN_CONFIG = "python:gateway.gunicorn_conf"
HANDOFF_QUEUE = "default"  # where gateway.queues.enqueue_inbound puts process_inbound

# Targets from the issue, on a 2-core machine.
TARGET_RPS_RATIO = 0.6   # Handoff req/s >= 0.6 x the floor's at 50 clients
TARGET_RPS_CLIENTS = 50
TARGET_P99_MS = 15.0     # Handoff p99 <= 15 ms at 4 clients
TARGET_P99_CLIENTS = 4
# Above this many cores used by other processes during a window, say the figures are noisy.
NOISY_OTHER_CORES = 0.25


@dataclass
class Options:
    clients: list[int] = field(default_factory=lambda: [4, 50])
    seconds: float = 5.0
    warmup: float = 2.0
    senders: int = 8
    processes: int | None = None  # WEB_CONCURRENCY for both apps; None: $WEB_CONCURRENCY or 2
    max_requests: int | None = None  # pre-built requests per measurement; None: from the durations

    def requests_per_point(self) -> int:
        if self.max_requests:
            return self.max_requests
        # Far above what two cores can serve in warm-up + window (the bound only
        # guards against a runaway); the result says if it was reached.
        return max(2000, int((self.warmup + self.seconds) * 4000))


# --- PostgreSQL and Redis ------------------------------------------------------------------


def seed_channel(database_url: str) -> None:
    """The WhatsApp channel whose number and auth token the load generator signs with."""
    from gateway.db import connect
    from gateway.store.channels import create_channel

    with connect(database_url) as conn:
        create_channel(conn, kind="whatsapp", name="Bench WhatsApp", address=load.CHANNEL_NUMBER,
                       credentials={"account_sid": load.ACCOUNT_SID, "auth_token": load.AUTH_TOKEN})
        conn.commit()


# --- gunicorn -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gunicorn_command(app: str) -> list[str]:
    """The Procfile's web: line, with this interpreter's gunicorn."""
    script = Path(sys.executable).with_name("gunicorn")
    runner = [str(script)] if script.exists() else [sys.executable, "-m", "gunicorn"]
    return runner + ["--config", GUNICORN_CONFIG, app]


class Gunicorn:
    """One gunicorn master (in its own process group) and its workers."""

    def __init__(self, name: str, app: str, env: dict, log_path: Path):
        self.name, self.app, self.log_path = name, app, log_path
        self.port = free_port()
        self.env = {**env, "HOST": "127.0.0.1", "PORT": str(self.port)}
        self.process: subprocess.Popen | None = None

    def start(self) -> "Gunicorn":
        say(f"  starting {self.name}: gunicorn --config {GUNICORN_CONFIG} \"{self.app}\" on 127.0.0.1:{self.port}…")
        log = open(self.log_path, "ab")
        try:
            self.process = subprocess.Popen(
                gunicorn_command(self.app), env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True,  # Ctrl-C goes to us; we stop it (and its workers) ourselves
            )
        finally:
            log.close()
        return self

    def wait_ready(self, processes: int, timeout: float = 60) -> None:
        """Until every worker has booted (a log line each) and /healthz answers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            if len(self.worker_pids()) >= processes and self._healthy():
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not become ready in {timeout:g} s:\n{self.log_tail()}")

    def _healthy(self) -> bool:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
        try:
            connection.request("GET", "/healthz")
            return connection.getresponse().status == 200
        except OSError:
            return False
        finally:
            connection.close()

    def worker_pids(self) -> list[int]:
        return children_of(self.process.pid) if self.process else []

    def pids(self) -> list[int]:
        return ([self.process.pid] + self.worker_pids()) if self.process else []

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """SIGTERM (graceful), then SIGKILL to the whole group if it lingers."""
        if self.process is None:
            return
        pgid = self.process.pid  # start_new_session: the master leads its own group
        if self.process.poll() is None:
            try:
                self.process.send_signal(signal.SIGTERM)
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
            except ProcessLookupError:
                pass
        try:
            os.killpg(pgid, signal.SIGKILL)  # workers orphaned by a killed master, if any
        except (ProcessLookupError, PermissionError):
            pass
        if self.process.poll() is None:
            self.process.wait(timeout=5)


# --- CPU accounting from /proc -------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def children_of(pid: int) -> list[int]:
    try:
        found = []
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(p) for p in f.read().split()]
        return found
    except OSError:
        return []


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU of one process (all its threads), or None if unreadable."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    except (OSError, IndexError, ValueError):
        return None


def machine_busy() -> tuple[float, float] | None:
    """(busy seconds, total seconds) of all CPUs since boot, from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    total = sum(values[:8])
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS


class CpuProbe:
    """CPU used, over one window, by named groups of processes and by the whole machine."""

    def __init__(self, groups: dict[str, Callable[[], list[int]]]):
        self.groups = groups
        self.before: dict[str, dict[int, float]] = {}
        self.machine_before = None

    def _sample(self) -> dict[str, dict[int, float]]:
        sample = {}
        for name, pids in self.groups.items():
            readings = {pid: cpu_seconds(pid) for pid in pids()}
            sample[name] = {pid: value for pid, value in readings.items() if value is not None}
        return sample

    def start(self) -> None:
        self.before = self._sample()
        self.machine_before = machine_busy()

    def stop(self) -> dict:
        after = self._sample()
        machine_after = machine_busy()
        used = {}
        for name, readings in after.items():
            if not readings:
                used[name] = None  # not readable here (a remote server, another container)
                continue
            # A process that appeared during the window (a new pool connection) counts whole.
            used[name] = sum(value - self.before.get(name, {}).get(pid, 0.0) for pid, value in readings.items())
        result = {"seconds": used}
        if self.machine_before and machine_after:
            busy = machine_after[0] - self.machine_before[0]
            total = machine_after[1] - self.machine_before[1]
            result["machine_busy_percent"] = 100.0 * busy / total if total > 0 else None
            result["machine_busy_seconds"] = busy
        return result


def connections_per_process(port: int, pids: list[int]) -> list[int] | None:
    """How many established client connections to 127.0.0.1:port each process holds.

    gunicorn's workers each accept on the shared socket, so with few keep-alive
    clients one process may hold most of them (and its one GIL serves them all):
    a cause of run-to-run variance worth showing.
    """
    try:
        inodes = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                with open(table) as f:
                    next(f)
                    for line in f:
                        fields = line.split()
                        local_port = int(fields[1].rsplit(":", 1)[1], 16)
                        if local_port == port and fields[3] == "01":  # ESTABLISHED
                            inodes.add(fields[9])
            except FileNotFoundError:
                continue
        counts = []
        for pid in pids:
            held = 0
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    held += 1
            counts.append(held)
        return counts
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def postgres_backend_pids(database_url: str) -> Callable[[], list[int]]:
    def pids() -> list[int]:
        try:
            with psycopg.connect(database_url, autocommit=True) as conn:
                rows = conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    " AND backend_type = 'client backend'"
                ).fetchall()
            return [row[0] for row in rows]
        except psycopg.Error:
            return []
    return pids


def redis_server_pids(redis_url: str) -> Callable[[], list[int]]:
    def pids() -> list[int]:
        host = urlsplit(redis_url).hostname or ""
        if host not in ("127.0.0.1", "localhost", "::1"):
            return []
        try:
            with Redis.from_url(redis_url) as redis:
                return [int(redis.info("server")["process_id"])]
        except Exception:
            return []
    return pids


# --- one measurement ---------------------------------------------------------------------


def measure(*, label: str, server: Gunicorn, clients: int, options: Options, run_tag: int, point_tag: int,
            probe: CpuProbe) -> dict:
    """Run the load generator against one server; returns its figures and CPU use."""
    spec = {
        "label": label, "port": server.port, "clients": clients, "seconds": options.seconds,
        "warmup": options.warmup, "senders": options.senders, "max_requests": options.requests_per_point(),
        "public_url": PUBLIC_URL, "auth_token": load.AUTH_TOKEN, "run_tag": run_tag, "point_tag": point_tag,
    }
    generator = subprocess.Popen(
        [sys.executable, "-m", "bench.load"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace",
        cwd=str(Path(__file__).resolve().parent.parent), env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    output: list[str] = []
    spread = None
    reader = threading.Thread(target=lambda: output.append(generator.stdout.read()), daemon=True)
    cpu = None
    try:
        reader.start()
        generator.stdin.write(json.dumps(spec))
        generator.stdin.close()
        loadgen_pids = lambda: [generator.pid]  # noqa: E731
        probe.groups["loadgen"] = loadgen_pids
        for line in generator.stderr:
            line = line.rstrip("\n")
            if line == load.WINDOW_START:
                probe.start()
                spread = connections_per_process(server.port, server.worker_pids())
            elif line == load.WINDOW_END:
                cpu = probe.stop()
            else:
                say(line)
        generator.wait()
        reader.join()
    finally:
        if generator.poll() is None:
            generator.kill()
            generator.wait()
    if generator.returncode != 0:
        raise RuntimeError(f"the load generator failed (exit {generator.returncode}) against {label}")
    result = json.loads(output[0])
    result["cpu"] = _cpu_per_request(cpu, result["requests"], result["window_seconds"]) if cpu else None
    result["connections_per_process"] = spread
    return result


def _cpu_per_request(cpu: dict, requests: int, window_seconds: float) -> dict:
    per_request = {}
    for name, seconds in cpu["seconds"].items():
        per_request[name] = (1000.0 * seconds / requests) if (seconds is not None and requests) else None
    accounted = sum(s for s in cpu["seconds"].values() if s is not None)
    busy = cpu.get("machine_busy_seconds")
    return {
        "ms_per_request": per_request,
        "cores_used": {name: (s / window_seconds if s is not None else None) for name, s in cpu["seconds"].items()},
        "machine_busy_percent": cpu.get("machine_busy_percent"),
        # Everything else on the machine: other PostgreSQL processes (WAL writer,
        # other databases), other users' work. Noise, when it is large.
        "other_cores": ((busy - accounted) / window_seconds) if busy is not None else None,
    }


# --- the whole run ----------------------------------------------------------------------------


def run_ingest(options: Options) -> dict:
    """Start everything, measure every concurrency level, stop everything; returns the report."""
    processes = options.processes or int(os.environ.get("WEB_CONCURRENCY") or 2)
    threads = int(os.environ.get("WEB_THREADS") or 32)
    run_tag = secrets.randbits(32)
    workdir = Path(tempfile.mkdtemp(prefix="handoff-bench-"))
    previous_sigterm = signal.signal(signal.SIGTERM, interrupt)
    say(f"handoff bench ingest: POST /webhooks/twilio/whatsapp, {options.senders} senders, "
        f"clients {','.join(map(str, options.clients))}, warm-up {options.warmup:g} s, window {options.seconds:g} s")
    try:
        with backing_services(workdir, database_name=os.environ.get("HANDOFF_BENCH_DATABASE") or BENCH_DATABASE,
                              redis_db=int(os.environ.get("HANDOFF_BENCH_REDIS_DB") or BENCH_REDIS_DB),
                              prepare=create_table) as backing, ExitStack() as servers:
            seed_channel(backing.database_url)
            env = {key: value for key, value in os.environ.items()}
            env.update({
                "DATABASE_URL": backing.database_url,
                "REDIS_URL": backing.redis_url,
                "PUBLIC_URL": PUBLIC_URL,
                "SECRET_KEY": secrets.token_hex(32),
                "WEB_CONCURRENCY": str(processes),
                "PYTHONUNBUFFERED": "1",
            })
            say(f"  gunicorn: {processes} process(es) x {threads} threads (gthread) for each app; "
                f"logs in {workdir} (removed at the end)")
            handoff = Gunicorn("Handoff", HANDOFF_APP, env, workdir / "handoff.log")
            floor = Gunicorn("floor", FLOOR_APP, env, workdir / "floor.log")
            for server in (handoff, floor):
                servers.callback(server.stop)
                server.start()
            for server in (handoff, floor):
                server.wait_ready(processes)
            say("  both servers ready")

            points = []
            point_tag = 0
            for level_index, clients in enumerate(options.clients):
                say(f"  {clients} concurrent client(s):")
                order = [("handoff", handoff), ("floor", floor)]
                if level_index % 2:  # alternate who goes first, so neither always gets the fresher machine
                    order.reverse()
                point = {"clients": clients}
                for key, server in order:
                    point_tag += 1
                    probe = CpuProbe({
                        "app": server.pids,
                        "postgres": postgres_backend_pids(backing.database_url),
                        "redis": redis_server_pids(backing.redis_url),
                    })
                    figures = measure(label=f"{server.name} x{clients}", server=server, clients=clients,
                                      options=options, run_tag=run_tag, point_tag=point_tag, probe=probe)
                    say(f"    {server.name} x{clients}: {figures['rps']:.0f} req/s, p50 {_ms(figures['p50_ms'])}, "
                        f"p99 {_ms(figures['p99_ms'])}")
                    point[key] = figures
                point["ratio"] = _ratios(point["handoff"], point["floor"])
                points.append(point)

            log_tails = {
                key: server.log_tail(20) for key, server in (("handoff", handoff), ("floor", floor))
                if any(p[key]["non_200"] or p[key]["errors"] for p in points)
            }
            stored = _stored_counts(backing.database_url)
            queued = _queued_jobs(backing.redis_url)
            say("  stopping servers, dropping the benchmark database, flushing the benchmark Redis db…")
    finally:
        signal.signal(signal.SIGTERM, previous_sigterm)
        shutil.rmtree(workdir, ignore_errors=True)
    return {
        "benchmark": "ingest",
        "settings": {
            "clients": options.clients, "seconds": options.seconds, "warmup": options.warmup,
            "senders": options.senders, "processes": processes, "threads": threads, "worker_class": "gthread",
            "max_requests_per_point": options.requests_per_point(),
            "database": backing.database_kind, "redis": backing.redis_kind, "public_url": PUBLIC_URL,
            "cpus": os.cpu_count(),
        },
        "points": points,
        "targets": _targets(points),
        "stored": stored,
        "server_log_tails": log_tails,
        "queued_jobs": {**queued, "flushed": True,
                        "note": "no RQ worker runs: the jobs were left queued and flushed at the end; "
                                "this measures the webhook path only"},
    }




def _total_cpu(figures: dict) -> float | None:
    """CPU ms per request of the server side: app + PostgreSQL backends + Redis (None if unreadable)."""
    per = (figures.get("cpu") or {}).get("ms_per_request") or {}
    parts = [per.get("app"), per.get("postgres"), per.get("redis")]
    return None if any(p is None for p in parts) else sum(parts)


def _ratios(handoff: dict, floor: dict) -> dict:
    def ratio(a, b):
        return (a / b) if (a is not None and b) else None

    def cpu(figures, name):
        return ((figures.get("cpu") or {}).get("ms_per_request") or {}).get(name)

    return {
        "rps": ratio(handoff["rps"], floor["rps"]),
        "p50": ratio(handoff["p50_ms"], floor["p50_ms"]),
        "p99": ratio(handoff["p99_ms"], floor["p99_ms"]),
        # CPU per request, Handoff / floor. When the machine is saturated, the
        # throughput ratio is about 1 / cpu["total"], and this is far less
        # sensitive to other work on the machine than req/s.
        "cpu": {
            "app": ratio(cpu(handoff, "app"), cpu(floor, "app")),
            "postgres": ratio(cpu(handoff, "postgres"), cpu(floor, "postgres")),
            "redis": ratio(cpu(handoff, "redis"), cpu(floor, "redis")),
            "total": ratio(_total_cpu(handoff), _total_cpu(floor)),
        },
    }


def _targets(points: list[dict]) -> list[dict]:
    targets = []
    by_clients = {p["clients"]: p for p in points}
    if TARGET_RPS_CLIENTS in by_clients:
        value = by_clients[TARGET_RPS_CLIENTS]["ratio"]["rps"]
        targets.append({"name": f"Handoff req/s >= {TARGET_RPS_RATIO} x floor at {TARGET_RPS_CLIENTS} clients",
                        "value": value, "limit": TARGET_RPS_RATIO, "met": value is not None and value >= TARGET_RPS_RATIO})
    if TARGET_P99_CLIENTS in by_clients:
        value = by_clients[TARGET_P99_CLIENTS]["handoff"]["p99_ms"]
        targets.append({"name": f"Handoff p99 <= {TARGET_P99_MS:g} ms at {TARGET_P99_CLIENTS} clients",
                        "value": value, "limit": TARGET_P99_MS, "met": value is not None and value <= TARGET_P99_MS})
    return targets


def _stored_counts(database_url: str) -> dict:
    with psycopg.connect(database_url) as conn:
        messages = conn.execute("SELECT count(*) FROM messages WHERE direction = 'inbound'").fetchone()[0]
        conversations = conn.execute("SELECT count(*) FROM conversations").fetchone()[0]
        floor_rows = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(FLOOR_TABLE))).fetchone()[0]
    return {"handoff_messages": messages, "handoff_conversations": conversations, "floor_rows": floor_rows}


def _queued_jobs(redis_url: str) -> dict:
    from rq import Queue

    with Redis.from_url(redis_url) as redis:
        return {"handoff": Queue(HANDOFF_QUEUE, connection=redis).count,
                "floor": Queue(FLOOR_QUEUE, connection=redis).count}


# --- output -----------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} ms"




def format_report(report: dict) -> str:
    s = report["settings"]
    lines = [
        f"Ingest benchmark: POST /webhooks/twilio/whatsapp (signed), {s['senders']} senders; gunicorn "
        f"{s['worker_class']} {s['processes']} process(es) x {s['threads']} threads per app; "
        f"warm-up {s['warmup']:g} s, window {s['seconds']:g} s; {s['cpus']} CPUs; "
        f"PostgreSQL {s['database']}, Redis {s['redis']}",
        "",
        f"{'clients':>7}  {'app':<8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'non-200':>7}"
        f"   CPU ms/req: {'app':>5} {'pg':>5} {'redis':>5} {'load':>5} {'total':>5}   {'busy':>5} {'other':>6}  conns",
    ]
    for point in report["points"]:
        for key, name in (("handoff", "Handoff"), ("floor", "floor")):
            f = point[key]
            cpu = f.get("cpu") or {}
            per = cpu.get("ms_per_request", {})
            lines.append(
                f"{point['clients']:>7}  {name:<8} {f['rps']:>8.0f} {number(f['p50_ms'], '.2f'):>8} "
                f"{number(f['p99_ms'], '.2f'):>8} {number(f['max_ms'], '.1f'):>8} {f['non_200'] + len(f['errors']):>7}"
                f"               {number(per.get('app'), '.2f'):>5} {number(per.get('postgres'), '.2f'):>5} "
                f"{number(per.get('redis'), '.2f'):>5} {number(per.get('loadgen'), '.2f'):>5} "
                f"{number(_total_cpu(f), '.2f'):>5}   "
                f"{number(cpu.get('machine_busy_percent'), '.0f'):>4}% {number(cpu.get('other_cores'), '.2f'):>6}  "
                f"{'+'.join(map(str, f.get('connections_per_process') or [])) or 'n/a'}"
            )
        r = point["ratio"]
        lines.append(f"{point['clients']:>7}  {'ratio':<8} {number(r['rps'], '.2f'):>7}x {number(r['p50'], '.2f'):>7}x "
                     f"{number(r['p99'], '.2f'):>7}x {'':>8} {'':>7}               "
                     f"{number(r['cpu']['app'], '.2f'):>4}x {number(r['cpu']['postgres'], '.2f'):>4}x "
                     f"{number(r['cpu']['redis'], '.2f'):>4}x {'':>5} {number(r['cpu']['total'], '.2f'):>4}x   (Handoff / floor)")
    lines += [
        "",
        "CPU ms/req: CPU time per request in the window of the gunicorn processes (app), the PostgreSQL",
        "backends of the benchmark database (pg), the Redis server (redis) and the load generator (load);",
        "total: app + pg + redis. busy: the whole machine's CPU use; other: cores used by everything else",
        "(noise: other work on the machine, PostgreSQL's own background processes). On a saturated machine",
        "the req/s ratio tends to 1 / (total CPU ratio), which is steadier than req/s when other is large.",
        "conns: the clients' keep-alive connections held by each gunicorn worker process.",
    ]
    warnings = []
    for point in report["points"]:
        for key in ("handoff", "floor"):
            f = point[key]
            if f["errors"]:
                warnings.append(f"{key} x{point['clients']}: client errors: {'; '.join(f['errors'][:3])}")
            if f["reconnects"]:
                warnings.append(f"{key} x{point['clients']}: {f['reconnects']} keep-alive connection(s) closed by the "
                                "server and reopened")
            if f["non_200"]:
                warnings.append(f"{key} x{point['clients']}: non-200 answers {f['statuses']}")
            if f["request_bound_reached"]:
                warnings.append(f"{key} x{point['clients']}: the {s['max_requests_per_point']} pre-built requests ran "
                                f"out; the window was shortened to {f['window_seconds']:.2f} s (raise --max-requests)")
    noisiest = max(((p[key].get("cpu") or {}).get("other_cores") or 0.0)
                   for p in report["points"] for key in ("handoff", "floor"))
    if noisiest > NOISY_OTHER_CORES:
        warnings.append(f"other work used up to {noisiest:.2f} of {s['cpus']} cores during the windows: req/s and p99 "
                        "are noisy; compare the CPU ms/req columns, or rerun on a quiet machine")
    for key, stored_key in (("handoff", "handoff_messages"), ("floor", "floor_rows")):
        answered = sum(p[key]["statuses"].get("200", 0) for p in report["points"])
        if answered != report["stored"][stored_key]:
            warnings.append(f"{key}: {answered} requests answered 200 but {report['stored'][stored_key]} rows stored")
    if report["targets"]:
        lines.append("")
        lines.append("Targets:")
        for target in report["targets"]:
            value = number(target["value"], ".2f")
            lines.append(f"  {'met    ' if target['met'] else 'MISSED '} {target['name']}: {value}")
    stored, queued = report["stored"], report["queued_jobs"]
    lines += [
        "",
        f"Stored: {stored['handoff_messages']} Handoff messages in {stored['handoff_conversations']} conversations; "
        f"{stored['floor_rows']} floor rows.",
        f"Jobs: {queued['handoff']} process_inbound jobs (Handoff) and {queued['floor']} floor jobs were left queued "
        "and flushed: no RQ worker runs, this measures the webhook path only.",
    ]
    if warnings:
        lines += ["", "Warnings:"] + [f"  {w}" for w in warnings]
    for key, tail in report.get("server_log_tails", {}).items():
        lines += ["", f"Last lines of the {key} server's log:"] + [f"  {line}" for line in tail.splitlines()]
    return "\n".join(lines)


def print_report(report: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report, indent=2))
    else:
        print(format_report(report))
