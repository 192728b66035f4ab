"""Operations endpoints: liveness, readiness, a few Prometheus metrics."""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, jsonify, request
from psycopg import Error as DatabaseError
from redis.exceptions import RedisError

from gateway.queues import QUEUES, queue
from gateway.services import services
from gateway.store import analytics

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
    """Prometheus metrics; with METRICS_TOKEN set, only for `Authorization: Bearer <token>`."""
    expected = services().config.metrics_token
    if expected:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected.encode()):
            response = jsonify(error="metrics need Authorization: Bearer <METRICS_TOKEN>")
            response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response, 401
    lines = _gauge("handoff_queue_length", "Jobs waiting in each RQ queue.",
                   [({"queue": name}, queue(services().redis, name).count) for name in QUEUES])
    with services().pool.connection() as conn:
        statuses = analytics.conversations_by_status(conn)
        teams = analytics.teams_now(conn)
        webhooks = analytics.webhook_backlog(conn)
    lines += _gauge("handoff_conversations", "Conversations by status.",
                    [({"status": row["status"]}, row["n"]) for row in statuses])
    for column, help_text in (("waiting", "Conversations waiting for a person's first reply, by team."),
                              ("missed", "Waiting conversations that missed the missed-chat timeout, by team."),
                              ("open_tickets", "Tickets not closed, by team."),
                              ("agents_online", "Agents online, by team.")):
        lines += _gauge(f"handoff_team_{column}", help_text, [({"team": row["name"]}, row[column]) for row in teams])
    lines += _gauge("handoff_webhook_deliveries", "Outbound webhook deliveries pending or given up on.",
                    [({"state": state}, webhooks[state]) for state in ("pending", "failed")])
    return Response("\n".join(lines) + "\n", mimetype="text/plain; version=0.0.4")


def _gauge(name: str, help_text: str, samples: list[tuple[dict, int]]) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
    for labels, value in samples:
        rendered = ",".join(f'{key}="{_label_value(value_)}"' for key, value_ in labels.items())
        lines.append(f"{name}{{{rendered}}} {value}")
    return lines


def _label_value(value: str) -> str:
    """Prometheus label values escape backslash, double quote and newline (team names are admin text)."""
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
