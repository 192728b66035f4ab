"""channels: one configured inbox (kind, address, credentials, mode, team).

Columns: id, kind, name, address (unique per kind), credentials jsonb,
mode, team_id, settings jsonb, created_at, disabled_at (receives and sends
nothing), auth_failed_at and auth_error (the provider refused the
credentials on a send; cleared by new credentials or a successful send).
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
    disabled_at: Any = None
    auth_failed_at: Any = None
    auth_error: str | None = None


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


def set_credentials(conn, channel_id: int, credentials: dict, *, address: str | None = None) -> None:
    """New credentials (and address): the authentication flag goes with the old ones."""
    conn.execute(
        """
        UPDATE channels SET credentials = %(credentials)s, address = coalesce(%(address)s, address),
               auth_failed_at = NULL, auth_error = NULL
         WHERE id = %(id)s
        """,
        {"id": channel_id, "credentials": Jsonb(credentials), "address": address},
    )


def set_team(conn, channel_id: int, team_id: int | None) -> None:
    conn.execute("UPDATE channels SET team_id = %(team)s WHERE id = %(id)s", {"id": channel_id, "team": team_id})


def set_disabled(conn, channel_id: int, disabled: bool) -> None:
    conn.execute(
        "UPDATE channels SET disabled_at = CASE WHEN %(disabled)s THEN coalesce(disabled_at, now()) END "
        "WHERE id = %(id)s",
        {"id": channel_id, "disabled": disabled},
    )


def flag_auth_failure(conn, channel_id: int, error: str) -> None:
    conn.execute("UPDATE channels SET auth_failed_at = coalesce(auth_failed_at, now()), auth_error = %(error)s "
                 "WHERE id = %(id)s", {"id": channel_id, "error": error})


def clear_auth_failure(conn, channel_id: int) -> None:
    conn.execute("UPDATE channels SET auth_failed_at = NULL, auth_error = NULL "
                 "WHERE id = %(id)s AND auth_failed_at IS NOT NULL", {"id": channel_id})


def channel_usage(conn, channel_id: int) -> dict:
    """What deleting the channel deletes with it: {"conversations", "messages", "open"}."""
    return conn.execute(
        """
        SELECT count(*) AS conversations, count(*) FILTER (WHERE status <> 'resolved') AS open,
               (SELECT count(*) FROM messages WHERE channel_id = %(id)s) AS messages
          FROM conversations WHERE channel_id = %(id)s
        """,
        {"id": channel_id},
    ).fetchone()


def delete_channel(conn, channel_id: int) -> bool:
    """Deletes its contacts' identities on it, its conversations and their messages too (cascade)."""
    return conn.execute("DELETE FROM channels WHERE id = %(id)s", {"id": channel_id}).rowcount > 0


def auth_failing_channels(conn) -> list[dict]:
    """Channels whose sends the provider refuses for authentication (the inbox's warning)."""
    return conn.execute("SELECT id, kind, name, auth_failed_at, auth_error FROM channels "
                        "WHERE auth_failed_at IS NOT NULL AND disabled_at IS NULL ORDER BY id").fetchall()


def lock_channel(conn, channel_id: int) -> ChannelRow | None:
    """The channel, locked until the end of the transaction (for a read-modify-write of its settings)."""
    return _row(conn.execute("SELECT * FROM channels WHERE id = %(id)s FOR UPDATE", {"id": channel_id}).fetchone())


def set_channel_settings(conn, channel_id: int, settings: dict) -> None:
    """Set these top-level keys of the channel's settings; the other keys keep their values."""
    conn.execute("UPDATE channels SET settings = settings || %(settings)s WHERE id = %(id)s",
                 {"id": channel_id, "settings": Jsonb(settings)})
