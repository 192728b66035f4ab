"""teams: groups of agents that conversations are routed to.

Columns: id, name (unique), hours (business hours document), created_at.
"""

from __future__ import annotations


def ensure_team(conn, name: str) -> int:
    """The team's id, creating the team if routing names one that does not exist yet
    (routing rules are admin data: a new team name in them must just work)."""
    row = conn.execute(
        """
        INSERT INTO teams (name) VALUES (%(name)s)
        ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name
        RETURNING id
        """,
        {"name": name},
    ).fetchone()
    return row["id"]
