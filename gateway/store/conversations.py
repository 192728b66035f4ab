"""conversations: one thread between a contact's identity and the business.

Columns: id, channel_id, contact_id, identity_id, status (bot | queued |
assigned | resolved | ticket), mode, team_id, assignee_id, priority,
escalation_reason/detail, handoff_packet, low_confidence_streak, collected,
csat, delivered/read watermarks and timestamps. At most one conversation per
identity is open (status <> 'resolved').
"""

from __future__ import annotations


def open_conversation_for(conn, *, channel_id: int, contact_id: int, identity_id: int, mode: str,
                          team_id: int | None, customer_message: bool = True) -> dict:
    """The identity's open conversation, bumped to now, or a new one."""
    params = {"channel_id": channel_id, "contact_id": contact_id, "identity_id": identity_id,
              "mode": mode, "team_id": team_id, "customer": customer_message}
    bump = """
        UPDATE conversations
           SET last_message_at = now(), updated_at = now(),
               last_customer_message_at = CASE WHEN %(customer)s THEN now() ELSE last_customer_message_at END
         WHERE identity_id = %(identity_id)s AND status <> 'resolved'
        RETURNING id, status
    """
    existing = conn.execute(bump, params).fetchone()
    if existing:
        return existing
    created = conn.execute(
        """
        INSERT INTO conversations (channel_id, contact_id, identity_id, mode, team_id, last_customer_message_at)
        VALUES (%(channel_id)s, %(contact_id)s, %(identity_id)s, %(mode)s, %(team_id)s,
                CASE WHEN %(customer)s THEN now() END)
        ON CONFLICT (identity_id) WHERE status <> 'resolved' DO NOTHING
        RETURNING id, status
        """,
        params,
    ).fetchone()
    # None: another request opened it between our UPDATE and INSERT.
    return created or conn.execute(bump, params).fetchone()


def lock_conversation(conn, conversation_id: int) -> dict | None:
    """The conversation row, locked until the end of the transaction.

    This is what serializes the jobs of one conversation across workers.
    """
    return conn.execute(
        "SELECT * FROM conversations WHERE id = %(id)s FOR UPDATE", {"id": conversation_id}
    ).fetchone()


def get_conversation(conn, conversation_id: int) -> dict | None:
    return conn.execute("SELECT * FROM conversations WHERE id = %(id)s", {"id": conversation_id}).fetchone()


def record_watermark(conn, identity_id: int, kind: str, watermark: int) -> int | None:
    """Raise the open conversation's delivered/read watermark; returns its id."""
    column = {"delivered": "delivered_watermark", "read": "read_watermark"}[kind]
    row = conn.execute(
        f"""
        UPDATE conversations SET {column} = greatest(coalesce({column}, 0), %(watermark)s), updated_at = now()
         WHERE identity_id = %(identity_id)s AND status <> 'resolved'
        RETURNING id
        """,
        {"identity_id": identity_id, "watermark": watermark},
    ).fetchone()
    return row["id"] if row else None


def list_recent(conn, limit: int = 50) -> list[dict]:
    return conn.execute(
        """
        SELECT cv.*, ch.kind AS channel_kind, ch.name AS channel_name,
               ct.name AS contact_name, ct.phone AS contact_phone, ct.email AS contact_email
          FROM conversations cv
          JOIN channels ch ON ch.id = cv.channel_id
          JOIN contacts ct ON ct.id = cv.contact_id
         ORDER BY cv.last_message_at DESC
         LIMIT %(limit)s
        """,
        {"limit": limit},
    ).fetchall()
