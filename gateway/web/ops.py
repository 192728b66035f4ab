"""Operations endpoints: liveness, readiness, a few Prometheus metrics."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from psycopg import Error as DatabaseError
from redis.exceptions import RedisError

from gateway.jobs import QUEUES, queue
from gateway.services import services

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    checks = {}
    try:
        with services().pool.connection(timeout=2) as conn:
            conn.execute("SELECT 1")
        checks["database"] = "ok"
    except DatabaseError as error:
        checks["database"] = f"unavailable: {error.__class__.__name__}"
    try:
        services().redis.ping()
        checks["redis"] = "ok"
    except RedisError as error:
        checks["redis"] = f"unavailable: {error.__class__.__name__}"
    ready = all(value == "ok" for value in checks.values())
    return jsonify(status="ready" if ready else "not ready", checks=checks), 200 if ready else 503


@bp.get("/metrics")
def metrics():
    lines = ["# HELP handoff_queue_length Jobs waiting in each RQ queue.", "# TYPE handoff_queue_length gauge"]
    for name in QUEUES:
        lines.append(f'handoff_queue_length{{queue="{name}"}} {queue(services().redis, name).count}')
    with services().pool.connection() as conn:
        rows = conn.execute("SELECT status, count(*) AS n FROM conversations GROUP BY status ORDER BY status").fetchall()
    lines += ["# HELP handoff_conversations Conversations by status.", "# TYPE handoff_conversations gauge"]
    lines += [f'handoff_conversations{{status="{row["status"]}"}} {row["n"]}' for row in rows]
    return Response("\n".join(lines) + "\n", mimetype="text/plain; version=0.0.4")
