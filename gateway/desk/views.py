"""What agents read, under both the inbox pages and the agent API."""

from __future__ import annotations

from gateway.store import assignment


def queue_of(conn, team_ids: list[int]) -> list[dict]:
    """The conversations waiting in these teams, in serving order, each with its place in its team's line."""
    places: dict[int, int] = {}
    waiting = assignment.team_queue(conn, team_ids)
    for row in waiting:
        places[row["team_id"]] = row["position"] = places.get(row["team_id"], 0) + 1
    return waiting
