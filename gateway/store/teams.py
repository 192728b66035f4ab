"""teams: groups of agents that conversations are routed to.

Columns: id, name (unique), hours (business hours document), auto_assign (round-robin
to online agents, or a queue agents claim from), email (notifications),
last_assigned_agent_id (the round-robin pointer), created_at.
"""

from __future__ import annotations

from psycopg.types.json import Jsonb


def ensure_team(conn, name: str) -> int:
    """The team's id, creating the team if routing names one that does not exist yet
    (routing rules are admin data: a new team name in them must just work).
    Names are matched ignoring case: "billing" in a rule is the Billing team."""
    found = team_by_name(conn, name)
    if found:  # the usual case: no write (an upsert would lock and rewrite the row)
        return found["id"]
    row = conn.execute(
        """
        INSERT INTO teams (name) VALUES (%(name)s)
        ON CONFLICT ((lower(name))) DO UPDATE SET name = teams.name
        RETURNING id
        """,
        {"name": name.strip()},
    ).fetchone()
    return row["id"]


TEAM_COLUMNS = "id, name, hours, auto_assign, email, created_at"


def get_team(conn, team_id: int) -> dict | None:
    return conn.execute(f"SELECT {TEAM_COLUMNS} FROM teams WHERE id = %(id)s", {"id": team_id}).fetchone()


def team_by_name(conn, name: str) -> dict | None:
    return conn.execute(f"SELECT {TEAM_COLUMNS} FROM teams WHERE lower(name) = lower(%(name)s)",
                        {"name": name.strip()}).fetchone()


def list_teams(conn) -> list[dict]:
    """Every team with its members' ids."""
    return conn.execute(
        f"""
        SELECT {", ".join("t." + c for c in TEAM_COLUMNS.split(", "))},
               coalesce(array_agg(m.agent_id ORDER BY m.agent_id) FILTER (WHERE m.agent_id IS NOT NULL), '{{}}')
                   AS agent_ids
          FROM teams t LEFT JOIN agent_teams m ON m.team_id = t.id
         GROUP BY t.id ORDER BY t.name
        """
    ).fetchall()


def update_team(conn, team_id: int, *, hours: dict | None = None, auto_assign: bool | None = None,
                email: str | None = None, clear_email: bool = False) -> dict | None:
    return conn.execute(
        f"""
        UPDATE teams SET hours = coalesce(%(hours)s, hours), auto_assign = coalesce(%(auto_assign)s, auto_assign),
               email = CASE WHEN %(clear_email)s THEN NULL ELSE coalesce(%(email)s, email) END
         WHERE id = %(id)s
        RETURNING {TEAM_COLUMNS}
        """,
        {"id": team_id, "hours": Jsonb(hours) if hours is not None else None, "auto_assign": auto_assign,
         "email": email, "clear_email": clear_email},
    ).fetchone()


def add_member(conn, team_id: int, agent_id: int) -> None:
    conn.execute("INSERT INTO agent_teams (agent_id, team_id) VALUES (%(agent)s, %(team)s) ON CONFLICT DO NOTHING",
                 {"agent": agent_id, "team": team_id})


def remove_member(conn, team_id: int, agent_id: int) -> None:
    conn.execute("DELETE FROM agent_teams WHERE agent_id = %(agent)s AND team_id = %(team)s",
                 {"agent": agent_id, "team": team_id})


def team_ids_of(conn, agent_id: int) -> list[int]:
    return [row["team_id"] for row in conn.execute(
        "SELECT team_id FROM agent_teams WHERE agent_id = %(agent)s ORDER BY team_id", {"agent": agent_id})]


# --- administration: creating, renaming and staffing teams ---------------------------------


def _lock_team_names(conn) -> None:
    """Team names are unique whatever their case (routing finds "billing" as
    "Billing"): serializes the check-then-write of concurrent creates and
    renames until the caller's transaction ends."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtext('handoff:team-names'))")


def create_team(conn, name: str, *, hours: dict | None = None, auto_assign: bool = True,
                email: str | None = None) -> dict | None:
    """The new team; None when a team already has this name in any case. In a transaction."""
    _lock_team_names(conn)
    if team_by_name(conn, name) is not None:
        return None
    return conn.execute(
        f"""
        INSERT INTO teams (name, hours, auto_assign, email) VALUES (%(name)s, %(hours)s, %(auto_assign)s, %(email)s)
        RETURNING {TEAM_COLUMNS}
        """,
        {"name": name.strip(), "hours": Jsonb(hours or {}), "auto_assign": auto_assign, "email": email},
    ).fetchone()


def rename_team(conn, team_id: int, name: str) -> bool:
    """False when another team already has this name in any case. In a transaction."""
    _lock_team_names(conn)
    taken = team_by_name(conn, name)
    if taken is not None and taken["id"] != team_id:
        return False
    conn.execute("UPDATE teams SET name = %(name)s WHERE id = %(id)s", {"id": team_id, "name": name.strip()})
    return True


def _replace_links(conn, *, own: str, own_id: int, other: str, other_ids: list[int]) -> tuple[list[int], list[int]]:
    """Make `own_id`'s links in agent_teams exactly `other_ids`: (added, removed)."""
    removed = conn.execute(
        f"DELETE FROM agent_teams WHERE {own} = %(id)s AND NOT ({other} = ANY(%(others)s)) RETURNING {other}",
        {"id": own_id, "others": other_ids}).fetchall()
    added = conn.execute(
        f"""
        INSERT INTO agent_teams ({own}, {other}) SELECT %(id)s, unnest(%(others)s::bigint[])
        ON CONFLICT DO NOTHING RETURNING {other}
        """,
        {"id": own_id, "others": other_ids}).fetchall()
    return sorted(row[other] for row in added), sorted(row[other] for row in removed)


def set_members(conn, team_id: int, agent_ids: list[int]) -> tuple[list[int], list[int]]:
    """The team's members become exactly these agents: (added, removed) agent ids."""
    return _replace_links(conn, own="team_id", own_id=team_id, other="agent_id", other_ids=agent_ids)


def set_agent_teams(conn, agent_id: int, team_ids: list[int]) -> tuple[list[int], list[int]]:
    """The agent's teams become exactly these: (added, removed) team ids."""
    return _replace_links(conn, own="agent_id", own_id=agent_id, other="team_id", other_ids=team_ids)


def all_team_ids(conn) -> list[int]:
    """Every team's id, in id order (what an admin sees)."""
    return [row["id"] for row in conn.execute("SELECT id FROM teams ORDER BY id")]
