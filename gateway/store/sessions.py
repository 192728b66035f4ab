"""agent_sessions: who is logged in, on the server (the cookie holds only a
token), so that a session can be ended before it expires.

agent_sessions: id (sha256 of the cookie's token), agent_id, created_at,
expires_at. Ending an agent's credentials (end_credentials) deletes their
sessions and clears their personal API token.
"""

from __future__ import annotations

import hashlib
import secrets

from gateway.store.agents import PUBLIC_COLUMNS


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def open_session(conn, agent_id: int, *, max_age_seconds: int) -> str:
    """A new session for the agent; its token, for the cookie."""
    token = secrets.token_urlsafe(32)
    conn.execute(
        """
        WITH expired AS (DELETE FROM agent_sessions WHERE agent_id = %(agent_id)s AND expires_at <= now())
        INSERT INTO agent_sessions (id, agent_id, expires_at)
        VALUES (%(id)s, %(agent_id)s, now() + make_interval(secs => %(max_age)s))
        """,
        {"id": _hash(token), "agent_id": agent_id, "max_age": max_age_seconds},
    )
    return token


def agent_of_session(conn, token: str) -> dict | None:
    """The active agent whose unexpired session this is, or None."""
    return conn.execute(
        f"""
        SELECT {PUBLIC_COLUMNS} FROM agents
         WHERE disabled_at IS NULL
           AND id = (SELECT agent_id FROM agent_sessions WHERE id = %(id)s AND expires_at > now())
        """,
        {"id": _hash(token)},
    ).fetchone()


def end_session(conn, token: str) -> None:
    conn.execute("DELETE FROM agent_sessions WHERE id = %(id)s", {"id": _hash(token)})


def end_credentials(conn, agent_id: int) -> int:
    """End every session of the agent and their personal API token (a password
    reset, a deactivation, a change of role); how many sessions ended."""
    conn.execute("UPDATE agents SET api_token_hash = NULL WHERE id = %(id)s", {"id": agent_id})
    return conn.execute("DELETE FROM agent_sessions WHERE agent_id = %(id)s", {"id": agent_id}).rowcount
