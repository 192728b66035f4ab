"""settings: admin-editable configuration documents, key -> JSON.

Columns: key (primary key), value jsonb, updated_at. Keys in use: "bot"
(gateway/bot/settings.py), "demo" (gateway/local/demo.py).
"""

from __future__ import annotations

from psycopg.types.json import Jsonb


def get_setting(conn, key: str) -> dict | None:
    row = conn.execute("SELECT value FROM settings WHERE key = %(key)s", {"key": key}).fetchone()
    return row["value"] if row else None


def put_setting(conn, key: str, value: dict) -> None:
    conn.execute(
        """
        INSERT INTO settings (key, value, updated_at) VALUES (%(key)s, %(value)s, now())
        ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()
        """,
        {"key": key, "value": Jsonb(value)},
    )
