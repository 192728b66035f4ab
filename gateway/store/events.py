"""events: the audit trail (a trigger fired, a send failed, an assignment).

Columns: id, kind, conversation_id, message_id, agent_id, detail jsonb, created_at.
"""

from __future__ import annotations

from psycopg.types.json import Jsonb


def record_event(conn, kind: str, *, conversation_id: int | None = None, message_id: int | None = None,
                 agent_id: int | None = None, detail: dict | None = None) -> int:
    return conn.execute(
        """
        INSERT INTO events (kind, conversation_id, message_id, agent_id, detail)
        VALUES (%(kind)s, %(conversation_id)s, %(message_id)s, %(agent_id)s, %(detail)s)
        RETURNING id
        """,
        {"kind": kind, "conversation_id": conversation_id, "message_id": message_id,
         "agent_id": agent_id, "detail": Jsonb(detail or {})},
    ).fetchone()["id"]


def events_of(conn, conversation_id: int) -> list[dict]:
    return conn.execute(
        "SELECT * FROM events WHERE conversation_id = %(id)s ORDER BY id", {"id": conversation_id}
    ).fetchall()
