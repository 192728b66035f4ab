"""analytics: counts for operations (/metrics) — what is waiting, and for whom."""

from __future__ import annotations

from gateway.store.assignment import ONLINE, WAITING


def conversations_by_status(conn) -> list[dict]:
    return conn.execute("SELECT status, count(*) AS n FROM conversations GROUP BY status ORDER BY status").fetchall()


def teams_now(conn) -> list[dict]:
    """Per team: conversations waiting for a person, those of them that were
    missed, open tickets and agents online."""
    return conn.execute(
        f"""
        SELECT t.name,
               (SELECT count(*) FROM conversations c WHERE c.team_id = t.id AND {WAITING}) AS waiting,
               (SELECT count(*) FROM conversations c WHERE c.team_id = t.id AND {WAITING} AND c.missed_stage > 0)
                   AS missed,
               (SELECT count(*) FROM tickets k WHERE k.team_id = t.id AND k.status <> 'closed') AS open_tickets,
               (SELECT count(*) FROM agents a JOIN agent_teams m ON m.agent_id = a.id
                 WHERE m.team_id = t.id AND {ONLINE}) AS agents_online
          FROM teams t ORDER BY t.name
        """
    ).fetchall()


def webhook_backlog(conn) -> dict:
    """Outbound webhook deliveries not yet accepted, and those given up on."""
    return conn.execute(
        """
        SELECT count(*) FILTER (WHERE delivered_at IS NULL AND failed_at IS NULL) AS pending,
               count(*) FILTER (WHERE failed_at IS NOT NULL) AS failed
          FROM webhook_deliveries
        """
    ).fetchone()
