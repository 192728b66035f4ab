"""Who is available, who gets a conversation, and where it waits.

A conversation *waits* from its escalation until a person first replies:
status queued (in the team queue) or assigned (to an agent who has not
answered yet). Agents count as online only while their presence has not
expired (the inbox's heartbeat keeps it alive).

Assignments are single UPDATEs guarded by the status and assignee they
expect, so two agents claiming at once cannot both win; round-robin takes the
team row's lock, so two workers auto-assigning at once respect capacity.
"""

from __future__ import annotations

ONLINE = "a.presence = 'online' AND a.presence_expires_at > now() AND a.disabled_at IS NULL"
WAITING = "c.status IN ('queued', 'assigned') AND c.first_agent_reply_at IS NULL"
PRIORITY_RANK = "CASE {0} WHEN 'urgent' THEN 3 WHEN 'high' THEN 2 WHEN 'normal' THEN 1 ELSE 0 END"
# Conversations an agent is busy with: assigned and not resolved.
OPEN_LOAD = "(SELECT count(*) FROM conversations o WHERE o.assignee_id = a.id AND o.status = 'assigned')"


def team_availability(conn, team_id: int) -> dict:
    """{"online": agents online in the team, "free": those with capacity left}."""
    return conn.execute(
        f"""
        SELECT count(*) AS online, count(*) FILTER (WHERE {OPEN_LOAD} < a.capacity) AS free
          FROM agents a JOIN agent_teams t ON t.agent_id = a.id
         WHERE t.team_id = %(team_id)s AND {ONLINE}
        """,
        {"team_id": team_id},
    ).fetchone()


def pick_agent(conn, team_id: int, *, exclude_agent_id: int | None = None) -> dict | None:
    """The next online agent of the team with free capacity, round-robin, and
    moves the team's pointer to them. Locks the team row until commit."""
    team = conn.execute("SELECT last_assigned_agent_id FROM teams WHERE id = %(id)s FOR UPDATE",
                        {"id": team_id}).fetchone()
    if team is None:
        return None
    agent = conn.execute(
        f"""
        SELECT a.id, a.name, a.email
          FROM agents a JOIN agent_teams t ON t.agent_id = a.id
         WHERE t.team_id = %(team_id)s AND {ONLINE} AND {OPEN_LOAD} < a.capacity
           AND a.id IS DISTINCT FROM %(exclude)s
         -- Agents after the last one served first, then from the start again.
         ORDER BY a.id <= coalesce(%(last)s, 0), a.id
         LIMIT 1
        """,
        {"team_id": team_id, "exclude": exclude_agent_id, "last": team["last_assigned_agent_id"]},
    ).fetchone()
    if agent:
        conn.execute("UPDATE teams SET last_assigned_agent_id = %(agent)s WHERE id = %(id)s",
                     {"agent": agent["id"], "id": team_id})
    return agent


def assign(conn, conversation_id: int, agent_id: int, *, from_statuses: tuple[str, ...],
           from_assignee: int | None) -> dict | None:
    """Give the conversation to the agent if it is still as the caller saw it
    (status in from_statuses, assigned to from_assignee); None otherwise."""
    return conn.execute(
        """
        UPDATE conversations c
           SET status = 'assigned', assignee_id = %(agent)s, assigned_at = now(), updated_at = now()
         WHERE c.id = %(id)s AND c.status = ANY(%(statuses)s)
           AND c.assignee_id IS NOT DISTINCT FROM %(from_assignee)s
        RETURNING c.*
        """,
        {"id": conversation_id, "agent": agent_id, "statuses": list(from_statuses),
         "from_assignee": from_assignee},
    ).fetchone()


def unassign(conn, conversation_id: int) -> dict | None:
    """Back to the team queue, nobody assigned."""
    return conn.execute(
        """
        UPDATE conversations
           SET status = 'queued', assignee_id = NULL, assigned_at = NULL, updated_at = now()
         WHERE id = %(id)s AND status IN ('queued', 'assigned')
        RETURNING *
        """,
        {"id": conversation_id},
    ).fetchone()


def queue_position(conn, conversation_id: int) -> int:
    """1 + the conversations of the same team waiting ahead of this one
    (higher priority first, then earlier escalation)."""
    rank = PRIORITY_RANK.format("c.priority")
    mine_rank = PRIORITY_RANK.format("me.priority")
    return conn.execute(
        f"""
        SELECT 1 + count(c.id) AS position
          FROM conversations me
          LEFT JOIN conversations c
            ON c.team_id IS NOT DISTINCT FROM me.team_id AND c.id <> me.id AND {WAITING}
           AND ({rank} > {mine_rank} OR ({rank} = {mine_rank} AND c.escalated_at < me.escalated_at))
         WHERE me.id = %(id)s
        """,
        {"id": conversation_id},
    ).fetchone()["position"]


def team_wait_stats(conn, team_id: int | None, *, sample: int = 50) -> dict:
    """The median seconds from escalation to a person's first reply over the
    team's recent conversations (last 7 days), and how many that is based on."""
    return conn.execute(
        """
        SELECT count(*) AS samples,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) AS median_seconds
          FROM (SELECT extract(epoch FROM first_agent_reply_at - escalated_at) AS seconds
                  FROM conversations
                 WHERE team_id IS NOT DISTINCT FROM %(team_id)s AND first_agent_reply_at IS NOT NULL
                   AND escalated_at IS NOT NULL AND first_agent_reply_at > now() - interval '7 days'
                 ORDER BY first_agent_reply_at DESC
                 LIMIT %(sample)s) recent
        """,
        {"team_id": team_id, "sample": sample},
    ).fetchone()


def team_queue(conn, team_ids: list[int], *, limit: int = 100) -> list[dict]:
    """Conversations waiting for a person in these teams, in the order they will be served."""
    rank = PRIORITY_RANK.format("c.priority")
    return conn.execute(
        f"""
        SELECT c.id, c.status, c.team_id, t.name AS team, c.assignee_id, a.name AS assignee, c.priority,
               c.escalation_reason, c.escalated_at, c.assigned_at, c.missed_stage, c.last_message_at,
               ch.kind AS channel_kind, coalesce(ct.name, ci.profile_name) AS contact_name, ct.vip
          FROM conversations c
          JOIN channels ch ON ch.id = c.channel_id
          JOIN contacts ct ON ct.id = c.contact_id
          JOIN contact_identities ci ON ci.id = c.identity_id
          LEFT JOIN teams t ON t.id = c.team_id
          LEFT JOIN agents a ON a.id = c.assignee_id
         WHERE {WAITING} AND c.team_id = ANY(%(teams)s)
         ORDER BY {rank} DESC, c.escalated_at
         LIMIT %(limit)s
        """,
        {"teams": team_ids, "limit": limit},
    ).fetchall()


def waiting_conversation_ids(conn, *, limit: int = 1000) -> list[int]:
    """Every conversation waiting for a person, longest waiting first (what
    the missed-chat ladder and the queue updates go through)."""
    rows = conn.execute(
        f"SELECT c.id FROM conversations c WHERE {WAITING} ORDER BY c.escalated_at LIMIT %(limit)s",
        {"limit": limit},
    ).fetchall()
    return [row["id"] for row in rows]



def queued_for_agent(conn, agent_id: int, *, limit: int) -> list[dict]:
    """[{id, team_id}] of the conversations queued, unassigned, in the agent's
    auto-assign teams, in serving order (highest priority, then oldest):
    what an agent coming online may take."""
    return conn.execute(
        f"""
        SELECT c.id, c.team_id FROM conversations c
          JOIN teams t ON t.id = c.team_id AND t.auto_assign
          JOIN agent_teams m ON m.team_id = c.team_id AND m.agent_id = %(agent)s
         WHERE c.status = 'queued' AND c.assignee_id IS NULL
         ORDER BY {PRIORITY_RANK.format("c.priority")} DESC, c.escalated_at
         LIMIT %(limit)s
        """,
        {"agent": agent_id, "limit": limit},
    ).fetchall()


def open_load(conn, agent_id: int) -> int:
    """How many conversations the agent holds (assigned and not resolved): OPEN_LOAD for one agent."""
    return conn.execute(
        "SELECT count(*) AS n FROM conversations WHERE assignee_id = %(agent)s AND status = 'assigned'",
        {"agent": agent_id}).fetchone()["n"]


def unanswered_of_agent(conn, agent_id: int) -> list[int]:
    """Ids of the agent's conversations still waiting for a first answer, in id order."""
    return [row["id"] for row in conn.execute(
        "SELECT id FROM conversations WHERE assignee_id = %(agent)s AND status = 'assigned' "
        "AND first_agent_reply_at IS NULL ORDER BY id", {"agent": agent_id})]


def assigned_to_agent(conn, agent_id: int) -> list[dict]:
    """The agent's conversations (assigned and not resolved), latest activity
    first, with the team, channel and contact an inbox list shows."""
    return conn.execute(
        """
        SELECT c.id, c.status, c.team_id, t.name AS team, c.priority, c.mode, c.escalation_reason, c.escalated_at,
               c.assigned_at, c.first_agent_reply_at, c.last_message_at, c.last_customer_message_at,
               ch.kind AS channel_kind, coalesce(ct.name, ci.profile_name) AS contact_name, ct.vip,
               c.first_agent_reply_at IS NULL AS awaiting_first_reply
          FROM conversations c
          JOIN channels ch ON ch.id = c.channel_id
          JOIN contacts ct ON ct.id = c.contact_id
          JOIN contact_identities ci ON ci.id = c.identity_id
          LEFT JOIN teams t ON t.id = c.team_id
         WHERE c.assignee_id = %(agent)s AND c.status = 'assigned'
         ORDER BY c.last_message_at DESC, c.id DESC
        """,
        {"agent": agent_id},
    ).fetchall()


def waiting_counts(conn, team_ids: list[int]) -> list[dict]:
    """[{id, name, waiting}] for these teams, by name: how many conversations wait for a person in each."""
    return conn.execute(
        f"""
        SELECT t.id, t.name, count(c.id) AS waiting
          FROM teams t LEFT JOIN conversations c ON c.team_id = t.id AND {WAITING}
         WHERE t.id = ANY(%(teams)s)
         GROUP BY t.id ORDER BY t.name
        """,
        {"teams": team_ids},
    ).fetchall()
