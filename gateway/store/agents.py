"""agents and agent_teams: the people who log in to the inbox.

agents: id, email (unique, case-insensitive), name, password_hash (scrypt via
werkzeug), is_admin, api_token_hash (sha256 of a personal API token),
presence, presence_at, presence_expires_at (past it the agent is offline,
whatever presence says), capacity, disabled_at.
"""

from __future__ import annotations

import functools
import hashlib
import secrets

from werkzeug.security import check_password_hash, generate_password_hash

MIN_PASSWORD_LENGTH = 8
PRESENCES = ("online", "away", "offline")
# What `presence` says only holds until it expires (the heartbeat stopped).
EFFECTIVE_PRESENCE = "CASE WHEN presence_expires_at > now() THEN presence ELSE 'offline' END"
PUBLIC_COLUMNS = ("id, email, name, is_admin, " + EFFECTIVE_PRESENCE + " AS presence, presence_at, "
                  "presence_expires_at, capacity, disabled_at, created_at")


class AgentExists(ValueError):
    pass


def create_agent(conn, *, email: str, name: str, password: str, is_admin: bool = False) -> dict:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    row = conn.execute(
        f"""
        INSERT INTO agents (email, name, password_hash, is_admin)
        VALUES (%(email)s, %(name)s, %(password_hash)s, %(is_admin)s)
        ON CONFLICT (lower(email)) DO NOTHING
        RETURNING {PUBLIC_COLUMNS}
        """,
        {"email": email.strip(), "name": name.strip(), "password_hash": generate_password_hash(password),
         "is_admin": is_admin},
    ).fetchone()
    if row is None:
        raise AgentExists(f"an agent with email {email} already exists")
    return row


@functools.cache
def _dummy_hash() -> str:
    """Checked when the email is unknown, so that a wrong email takes as long as
    a wrong password and response times do not reveal which agents exist."""
    return generate_password_hash(secrets.token_hex(16))


def agent_id_by_email(conn, email: str) -> int | None:
    row = conn.execute("SELECT id FROM agents WHERE lower(email) = lower(%(email)s)",
                       {"email": email.strip()}).fetchone()
    return row["id"] if row else None


def set_password(conn, agent_id: int, password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    conn.execute("UPDATE agents SET password_hash = %(hash)s WHERE id = %(id)s",
                 {"hash": generate_password_hash(password), "id": agent_id})


def authenticate(conn, email: str, password: str) -> dict | None:
    """The agent with this email and password, or None (also for disabled agents)."""
    row = conn.execute(
        f"SELECT {PUBLIC_COLUMNS}, password_hash FROM agents WHERE lower(email) = lower(%(email)s)",
        {"email": email.strip()},
    ).fetchone()
    password_ok = check_password_hash(row.pop("password_hash") if row else _dummy_hash(), password)
    if row is None or row["disabled_at"] is not None or not password_ok:
        return None
    return row


def get_agent(conn, agent_id: int) -> dict | None:
    return conn.execute(
        f"SELECT {PUBLIC_COLUMNS} FROM agents WHERE id = %(id)s AND disabled_at IS NULL", {"id": agent_id}
    ).fetchone()


def issue_api_token(conn, agent_id: int) -> str:
    """A new personal API token (shown once; only its hash is stored)."""
    token = "hat_" + secrets.token_urlsafe(32)
    conn.execute(
        "UPDATE agents SET api_token_hash = %(hash)s WHERE id = %(id)s",
        {"hash": hashlib.sha256(token.encode()).hexdigest(), "id": agent_id},
    )
    return token


def agent_by_api_token(conn, token: str) -> dict | None:
    return conn.execute(
        f"SELECT {PUBLIC_COLUMNS} FROM agents WHERE api_token_hash = %(hash)s AND disabled_at IS NULL",
        {"hash": hashlib.sha256(token.encode()).hexdigest()},
    ).fetchone()


def set_presence(conn, agent_id: int, presence: str, *, ttl_seconds: float) -> dict | None:
    """online/away for ttl_seconds (renewed by each heartbeat), or offline now."""
    return conn.execute(
        f"""
        UPDATE agents SET presence = %(presence)s, presence_at = now(),
               presence_expires_at = CASE WHEN %(presence)s = 'offline' THEN NULL
                                          ELSE now() + make_interval(secs => %(ttl)s) END
         WHERE id = %(id)s AND disabled_at IS NULL
        RETURNING {PUBLIC_COLUMNS}
        """,
        {"id": agent_id, "presence": presence, "ttl": ttl_seconds},
    ).fetchone()


def set_capacity(conn, agent_id: int, capacity: int) -> None:
    conn.execute("UPDATE agents SET capacity = %(capacity)s WHERE id = %(id)s", {"id": agent_id, "capacity": capacity})


def list_agents(conn) -> list[dict]:
    """Every active agent with their teams' names and how many conversations they hold."""
    return conn.execute(
        f"""
        SELECT {PUBLIC_COLUMNS},
               (SELECT coalesce(array_agg(t.name ORDER BY t.name), '{{}}') FROM agent_teams m
                  JOIN teams t ON t.id = m.team_id WHERE m.agent_id = agents.id) AS teams,
               (SELECT count(*) FROM conversations c WHERE c.assignee_id = agents.id AND c.status = 'assigned')
                   AS open_conversations
          FROM agents WHERE disabled_at IS NULL ORDER BY lower(email)
        """
    ).fetchall()


def update_agent(conn, agent_id: int, *, name: str | None = None, is_admin: bool | None = None) -> None:
    """Change what is given (None keeps it)."""
    conn.execute(
        "UPDATE agents SET name = coalesce(%(name)s, name), is_admin = coalesce(%(is_admin)s, is_admin) "
        "WHERE id = %(id)s",
        {"id": agent_id, "name": name, "is_admin": is_admin},
    )


def agent_name(conn, agent_id: int) -> str | None:
    """The agent's name, disabled or not (get_agent only finds active agents)."""
    row = conn.execute("SELECT name FROM agents WHERE id = %(id)s", {"id": agent_id}).fetchone()
    return row["name"] if row else None


def lock_presence(conn, agent_id: int) -> dict | None:
    """{"presence": as stored, "effective": once expiry is applied} of the agent,
    whose row stays locked until commit: presence changes of one agent take
    turns, so each sees the state the previous one left."""
    return conn.execute(
        f"SELECT presence, {EFFECTIVE_PRESENCE} AS effective FROM agents WHERE id = %(id)s FOR UPDATE",
        {"id": agent_id},
    ).fetchone()


def deactivate(conn, agent_id: int) -> list[int]:
    """The agent can no longer log in (authenticate and get_agent skip them),
    their API token is void and they are offline; the conversations they held
    wait in their team's queue again. Returns those conversations' ids."""
    conn.execute(
        """
        UPDATE agents SET disabled_at = coalesce(disabled_at, now()), api_token_hash = NULL,
               presence = 'offline', presence_expires_at = NULL
         WHERE id = %(id)s
        """,
        {"id": agent_id},
    )
    rows = conn.execute(
        """
        UPDATE conversations SET status = 'queued', assignee_id = NULL, assigned_at = NULL, updated_at = now()
         WHERE assignee_id = %(id)s AND status = 'assigned'
        RETURNING id
        """,
        {"id": agent_id},
    ).fetchall()
    return sorted(row["id"] for row in rows)


def reactivate(conn, email: str) -> dict | None:
    """A deactivated agent may log in again (with a password an admin sets)."""
    return conn.execute(
        f"UPDATE agents SET disabled_at = NULL WHERE lower(email) = lower(%(email)s) AND disabled_at IS NOT NULL "
        f"RETURNING {PUBLIC_COLUMNS}",
        {"email": email.strip()},
    ).fetchone()


def deactivated_agents(conn) -> list[dict]:
    return conn.execute(f"SELECT {PUBLIC_COLUMNS} FROM agents WHERE disabled_at IS NOT NULL ORDER BY lower(email)"
                        ).fetchall()
