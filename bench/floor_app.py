"""The floor of `handoff bench ingest`: the cheapest possible "store and enqueue" webhook.

Per request: parse the form, one INSERT in its own transaction, one RQ
enqueue, an empty TwiML answer. No signature check, no lookups, no live
event, no logging. It runs under the same gunicorn settings as Handoff
(`gunicorn --config python:gateway.gunicorn_conf "bench.floor_app:create_floor_app()"`),
with the same libraries (Flask, the psycopg pool of gateway.db, RQ) and the
same pool size, so the gap between the two is what Handoff's own code costs.

Environment: DATABASE_URL, REDIS_URL (the benchmark's database and Redis db),
DB_POOL_SIZE (as Handoff's, default 10).
"""

from __future__ import annotations

import os

from flask import Flask, Response, jsonify, request
from redis import Redis
from rq import Queue

from gateway.db import open_pool, transaction

FLOOR_TABLE = "bench_floor_messages"
FLOOR_QUEUE = "bench-floor"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'

CREATE_TABLE = f"""
CREATE TABLE IF NOT EXISTS {FLOOR_TABLE} (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider_message_id  text NOT NULL,
    sender               text NOT NULL,
    text                 text NOT NULL,
    created_at           timestamptz NOT NULL DEFAULT now()
)
"""


def create_table(conn) -> None:
    """The floor's table, in the benchmark database (called by the benchmark, not at start-up)."""
    conn.execute(CREATE_TABLE)


def process_floor_message(row_id: int) -> None:
    """The job the floor enqueues. The benchmark runs no workers: it is never called."""


def create_floor_app() -> Flask:
    app = Flask(__name__)
    pool = open_pool(os.environ["DATABASE_URL"], size=int(float(os.environ.get("DB_POOL_SIZE") or 10)),
                     name="bench-floor")
    queue = Queue(FLOOR_QUEUE, connection=Redis.from_url(os.environ["REDIS_URL"], socket_timeout=5,
                                                         socket_connect_timeout=2))

    @app.post("/webhooks/twilio/whatsapp")
    def store_and_enqueue():
        form = request.form
        with transaction(pool) as conn:
            row_id = conn.execute(
                f"INSERT INTO {FLOOR_TABLE} (provider_message_id, sender, text)"
                " VALUES (%(sid)s, %(sender)s, %(text)s) RETURNING id",
                {"sid": form.get("MessageSid", ""), "sender": form.get("From", ""), "text": form.get("Body", "")},
            ).fetchone()["id"]
        queue.enqueue("bench.floor_app.process_floor_message", row_id)
        return Response(EMPTY_TWIML, mimetype="text/xml")

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    return app
