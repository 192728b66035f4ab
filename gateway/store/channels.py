"""channels: one configured inbox (kind, address, credentials, mode, team).

Columns: id, kind, name, address (unique per kind), credentials jsonb,
mode, team_id, settings jsonb, created_at.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from psycopg.types.json import Jsonb

KINDS = ("whatsapp", "messenger", "web")


@dataclass(frozen=True)
class ChannelRow:
    id: int
    kind: str
    name: str
    address: str
    credentials: dict = field(repr=False)  # secrets: never printed
    mode: str
    team_id: int | None
    settings: dict
    created_at: Any = None


def _row(record: dict | None) -> ChannelRow | None:
    return ChannelRow(**record) if record else None


def create_channel(conn, *, kind: str, name: str, address: str, credentials: dict, mode: str = "bot_only",
                   team_id: int | None = None, settings: dict | None = None) -> ChannelRow:
    record = conn.execute(
        """
        INSERT INTO channels (kind, name, address, credentials, mode, team_id, settings)
        VALUES (%(kind)s, %(name)s, %(address)s, %(credentials)s, %(mode)s, %(team_id)s, %(settings)s)
        RETURNING *
        """,
        {"kind": kind, "name": name, "address": address, "credentials": Jsonb(credentials),
         "mode": mode, "team_id": team_id, "settings": Jsonb(settings or {})},
    ).fetchone()
    return _row(record)


def find_channel(conn, kind: str, address: str) -> ChannelRow | None:
    return _row(conn.execute(
        "SELECT * FROM channels WHERE kind = %(kind)s AND address = %(address)s",
        {"kind": kind, "address": address},
    ).fetchone())


def get_channel(conn, channel_id: int) -> ChannelRow | None:
    return _row(conn.execute("SELECT * FROM channels WHERE id = %(id)s", {"id": channel_id}).fetchone())


def list_channels(conn, kind: str | None = None) -> list[ChannelRow]:
    rows = conn.execute(
        "SELECT * FROM channels WHERE %(kind)s::text IS NULL OR kind = %(kind)s ORDER BY id",
        {"kind": kind},
    ).fetchall()
    return [ChannelRow(**r) for r in rows]


def update_channel(conn, channel_id: int, *, name: str | None = None, mode: str | None = None) -> None:
    """Rename a channel or change its mode (None leaves a field as it is)."""
    conn.execute(
        "UPDATE channels SET name = coalesce(%(name)s, name), mode = coalesce(%(mode)s, mode) WHERE id = %(id)s",
        {"id": channel_id, "name": name, "mode": mode},
    )


def lock_channel(conn, channel_id: int) -> ChannelRow | None:
    """The channel, locked until the end of the transaction (for a read-modify-write of its settings)."""
    return _row(conn.execute("SELECT * FROM channels WHERE id = %(id)s FOR UPDATE", {"id": channel_id}).fetchone())


def set_channel_settings(conn, channel_id: int, settings: dict) -> None:
    """Set these top-level keys of the channel's settings; the other keys keep their values."""
    conn.execute("UPDATE channels SET settings = settings || %(settings)s WHERE id = %(id)s",
                 {"id": channel_id, "settings": Jsonb(settings)})
