"""webhooks: outbound webhook subscriptions, their deliveries and every attempt.

webhook_subscriptions: id, url, secret (signs the body; returned only by
create_subscription and rotate_secret, to be shown once, and claim_delivery,
to sign), events (names, or '*'), active, description, created_at.
webhook_deliveries: one event for one subscription: the envelope POSTed
(payload), attempts, last_status, last_error, next_attempt_at (when due, or
until when a worker holds the attempt), delivered_at, failed_at.
webhook_attempts: one row per POST: attempt number, HTTP status or error,
duration_ms.

A delivery is pending while neither delivered_at nor failed_at is set.
Deactivating a subscription fails its pending deliveries, so nothing waits
for a receiver that was switched off.
"""

from __future__ import annotations

import secrets

from psycopg.types.json import Jsonb

# How long one attempt may take before the sweeper presumes its worker died.
ATTEMPT_LEASE = "5 minutes"

PUBLIC_COLUMNS = "s.id, s.url, s.events, s.description, s.active, s.created_at"
DELIVERY_COLUMNS = """d.id, d.subscription_id, d.event,
    CASE WHEN d.delivered_at IS NOT NULL THEN 'delivered' WHEN d.failed_at IS NOT NULL THEN 'failed'
         WHEN d.attempts > 0 THEN 'retrying' ELSE 'pending' END AS status,
    d.attempts, d.last_status, d.last_error, d.next_attempt_at, d.delivered_at, d.failed_at, d.created_at"""
# A subscription's most recent delivery, for the admin listing.
LAST_DELIVERY = f"""
    (SELECT to_jsonb(last) FROM (SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d
                                  WHERE d.subscription_id = s.id ORDER BY d.id DESC LIMIT 1) last)
    AS last_delivery"""


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def create_subscription(conn, *, url: str, events: list[str], description: str = "") -> dict:
    """The new subscription, with its generated secret (the only time it is returned, with rotate_secret)."""
    return conn.execute(
        f"""
        INSERT INTO webhook_subscriptions AS s (url, secret, events, description)
        VALUES (%(url)s, %(secret)s, %(events)s, %(description)s)
        RETURNING {PUBLIC_COLUMNS}, s.secret
        """,
        {"url": url, "secret": new_secret(), "events": events, "description": description},
    ).fetchone()


def list_subscriptions(conn) -> list[dict]:
    return conn.execute(f"SELECT {PUBLIC_COLUMNS}, {LAST_DELIVERY} FROM webhook_subscriptions s ORDER BY s.id"
                        ).fetchall()


def get_subscription(conn, subscription_id: int) -> dict | None:
    return conn.execute(
        f"SELECT {PUBLIC_COLUMNS}, {LAST_DELIVERY} FROM webhook_subscriptions s WHERE s.id = %(id)s",
        {"id": subscription_id},
    ).fetchone()


def update_subscription(conn, subscription_id: int, *, url: str | None = None, events: list[str] | None = None,
                        description: str | None = None, active: bool | None = None) -> None:
    """Change what is given (None: unchanged); deactivating fails the pending deliveries."""
    conn.execute(
        """
        UPDATE webhook_subscriptions
           SET url = coalesce(%(url)s, url), events = coalesce(%(events)s, events),
               description = coalesce(%(description)s, description), active = coalesce(%(active)s, active)
         WHERE id = %(id)s
        """,
        {"id": subscription_id, "url": url, "events": events, "description": description, "active": active},
    )
    if active is False:
        fail_pending_deliveries(conn, subscription_id, "the subscription was deactivated")


def delete_subscription(conn, subscription_id: int) -> bool:
    """Deletes its deliveries and attempts too."""
    return conn.execute("DELETE FROM webhook_subscriptions WHERE id = %(id)s", {"id": subscription_id}).rowcount > 0


def rotate_secret(conn, subscription_id: int) -> str | None:
    """A new secret for the subscription (None if there is none); deliveries
    from now on are signed with it, retries of older ones included."""
    row = conn.execute(
        "UPDATE webhook_subscriptions SET secret = %(secret)s WHERE id = %(id)s RETURNING secret",
        {"id": subscription_id, "secret": new_secret()},
    ).fetchone()
    return row["secret"] if row else None


# --- deliveries ---------------------------------------------------------------------------------


def insert_deliveries(conn, event: str, envelope: dict) -> list[int]:
    """One due delivery of `envelope` per active subscription to `event` (or to '*')."""
    rows = conn.execute(
        """
        INSERT INTO webhook_deliveries (subscription_id, event, payload, next_attempt_at)
        SELECT id, %(event)s, %(envelope)s, now() FROM webhook_subscriptions
         WHERE active AND (%(event)s = ANY (events) OR '*' = ANY (events))
         ORDER BY id
        RETURNING id
        """,
        {"event": event, "envelope": Jsonb(envelope)},
    ).fetchall()
    return [row["id"] for row in rows]


def insert_delivery(conn, subscription_id: int, event: str, envelope: dict) -> int:
    """A due delivery to one subscription, whatever events it listens to (the test ping)."""
    return conn.execute(
        """
        INSERT INTO webhook_deliveries (subscription_id, event, payload, next_attempt_at)
        VALUES (%(subscription_id)s, %(event)s, %(envelope)s, now())
        RETURNING id
        """,
        {"subscription_id": subscription_id, "event": event, "envelope": Jsonb(envelope)},
    ).fetchone()["id"]


def claim_delivery(conn, delivery_id: int) -> dict | None:
    """Take the delivery for one attempt: the delivery with its subscription's
    url and secret, or None if it is not due (delivered, failed, not yet time,
    its subscription inactive, or another worker holds the attempt). The
    attempt's lease (ATTEMPT_LEASE) outlives a worker that dies mid-POST."""
    return conn.execute(
        f"""
        UPDATE webhook_deliveries d
           SET attempts = d.attempts + 1, next_attempt_at = now() + interval '{ATTEMPT_LEASE}'
          FROM webhook_subscriptions s
         WHERE d.id = %(id)s AND s.id = d.subscription_id AND s.active
           AND d.delivered_at IS NULL AND d.failed_at IS NULL
           -- The slack absorbs clock skew between the RQ scheduler's host and the database.
           AND d.next_attempt_at <= now() + interval '2 seconds'
        RETURNING d.id, d.subscription_id, d.event, d.payload, d.attempts, s.url, s.secret
        """,
        {"id": delivery_id},
    ).fetchone()


def record_attempt(conn, delivery_id: int, attempt: int, *, status: int | None, error: str | None,
                   duration_ms: int) -> bool:
    """Record one attempt; False if the delivery is gone (its subscription was
    deleted meanwhile). The delivery stays locked until commit, so a deletion
    waits for the rest of the caller's transaction."""
    if conn.execute("SELECT 1 FROM webhook_deliveries WHERE id = %(id)s FOR UPDATE", {"id": delivery_id}
                    ).fetchone() is None:
        return False
    conn.execute(
        """
        WITH attempt AS (
            INSERT INTO webhook_attempts (delivery_id, attempt, status, error, duration_ms)
            VALUES (%(delivery_id)s, %(attempt)s, %(status)s, %(error)s, %(duration_ms)s)
        )
        UPDATE webhook_deliveries SET last_status = %(status)s, last_error = %(error)s WHERE id = %(delivery_id)s
        """,
        {"delivery_id": delivery_id, "attempt": attempt, "status": status, "error": error,
         "duration_ms": duration_ms},
    )
    return True


def mark_delivered(conn, delivery_id: int) -> None:
    conn.execute("UPDATE webhook_deliveries SET delivered_at = now(), next_attempt_at = NULL WHERE id = %(id)s",
                 {"id": delivery_id})


def schedule_retry(conn, delivery_id: int, delay_seconds: float) -> None:
    conn.execute(
        "UPDATE webhook_deliveries SET next_attempt_at = now() + make_interval(secs => %(delay)s) WHERE id = %(id)s",
        {"id": delivery_id, "delay": delay_seconds},
    )


def mark_failed(conn, delivery_id: int) -> None:
    conn.execute("UPDATE webhook_deliveries SET failed_at = now(), next_attempt_at = NULL WHERE id = %(id)s",
                 {"id": delivery_id})


def fail_pending_deliveries(conn, subscription_id: int, reason: str) -> int:
    return conn.execute(
        """
        UPDATE webhook_deliveries SET failed_at = now(), next_attempt_at = NULL, last_error = %(reason)s
         WHERE subscription_id = %(id)s AND delivered_at IS NULL AND failed_at IS NULL
        """,
        {"id": subscription_id, "reason": reason},
    ).rowcount


def reset_delivery(conn, subscription_id: int, delivery_id: int) -> bool:
    """Make a delivery of this subscription due now, whatever became of it
    before: one more attempt, retried only while its retries last (a
    delivery that had used them all gets that one attempt)."""
    return conn.execute(
        """
        UPDATE webhook_deliveries
           SET delivered_at = NULL, failed_at = NULL, next_attempt_at = now()
         WHERE id = %(id)s AND subscription_id = %(subscription_id)s
        """,
        {"id": delivery_id, "subscription_id": subscription_id},
    ).rowcount > 0


def recent_deliveries(conn, subscription_id: int, limit: int = 20) -> list[dict]:
    """The subscription's latest deliveries, newest first, each with its
    envelope (payload) and its attempts (oldest first)."""
    return conn.execute(
        f"""
        SELECT {DELIVERY_COLUMNS}, d.payload,
               coalesce((SELECT jsonb_agg(jsonb_build_object(
                                    'attempt', a.attempt, 'status', a.status, 'error', a.error,
                                    'duration_ms', a.duration_ms, 'created_at', a.created_at) ORDER BY a.id)
                           FROM webhook_attempts a WHERE a.delivery_id = d.id), '[]') AS attempt_log
          FROM webhook_deliveries d
         WHERE d.subscription_id = %(id)s
         ORDER BY d.id DESC LIMIT %(limit)s
        """,
        {"id": subscription_id, "limit": limit},
    ).fetchall()


def due_deliveries(conn, limit: int = 500) -> list[int]:
    """Pending deliveries whose job was lost: due (or their attempt's lease
    expired) more than 30 seconds ago. For the sweeper."""
    rows = conn.execute(
        """
        SELECT d.id FROM webhook_deliveries d JOIN webhook_subscriptions s ON s.id = d.subscription_id
         WHERE d.delivered_at IS NULL AND d.failed_at IS NULL AND s.active
           AND d.next_attempt_at <= now() - interval '30 seconds'
         ORDER BY d.next_attempt_at LIMIT %(limit)s
        """,
        {"limit": limit},
    ).fetchall()
    return [row["id"] for row in rows]

