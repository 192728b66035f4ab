"""reports: the SQL behind the figures of /reports, `handoff report` and
/api/admin/reports (gateway/reporting/figures.py puts them together).

Every query takes a Scope: a window [start, end) and optionally a team and a
channel. Two clocks, each said where it is used:
- conversation figures (volume, bot resolution, handoff rate, CSAT) count
  the conversations created in the window;
- event figures (handoffs by rule, first response, resolution time, missed
  chats, repeats) count what happened in the window, from the audit trail.

The indexes of migrations/0003_admin_console.sql keep each of these an
index scan over the window (bench/reports.py measures them at 100 000
conversations and 1 000 000 messages).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Scope:
    start: datetime
    end: datetime
    team_id: int | None = None
    channel_id: int | None = None

    def params(self, **more) -> dict:
        return {"start": self.start, "end": self.end, "team_id": self.team_id, "channel_id": self.channel_id, **more}

    def conversation_filter(self, alias: str = "c") -> str:
        """Team and channel conditions on a conversations alias (only those asked for, so plans stay simple)."""
        conditions = []
        if self.team_id is not None:
            conditions.append(f"{alias}.team_id = %(team_id)s")
        if self.channel_id is not None:
            conditions.append(f"{alias}.channel_id = %(channel_id)s")
        return "".join(f" AND {condition}" for condition in conditions)


def conversation_buckets(conn, scope: Scope) -> list[dict]:
    """Conversations created in the window, counted per hour (UTC) and channel,
    in one scan: the totals, the channels, the days and the heatmap add these up."""
    return conn.execute(
        f"""
        SELECT date_trunc('hour', c.created_at AT TIME ZONE 'UTC') AS hour, c.channel_id,
               count(*) AS conversations,
               count(*) FILTER (WHERE c.escalated_at IS NOT NULL) AS escalated,
               count(*) FILTER (WHERE c.escalated_at IS NULL AND c.first_agent_reply_at IS NULL) AS bot_only,
               count(*) FILTER (WHERE c.status = 'resolved' OR c.csat IS NOT NULL) AS resolved,
               count(*) FILTER (WHERE c.csat = 1) AS csat_1, count(*) FILTER (WHERE c.csat = 2) AS csat_2,
               count(*) FILTER (WHERE c.csat = 3) AS csat_3, count(*) FILTER (WHERE c.csat = 4) AS csat_4,
               count(*) FILTER (WHERE c.csat = 5) AS csat_5,
               count(c.csat) FILTER (WHERE c.escalated_at IS NOT NULL) AS csat_post_handoff_responses,
               coalesce(sum(c.csat) FILTER (WHERE c.escalated_at IS NOT NULL), 0) AS csat_post_handoff_sum
          FROM conversations c
         WHERE c.created_at >= %(start)s AND c.created_at < %(end)s{scope.conversation_filter()}
         GROUP BY 1, 2
        """,
        scope.params(),
    ).fetchall()


def customer_messages_by_channel(conn, scope: Scope) -> list[dict]:
    """Customer messages sent in the window, per channel."""
    team = ("AND m.conversation_id IN (SELECT id FROM conversations WHERE team_id = %(team_id)s)"
            if scope.team_id is not None else "")
    channel = "AND m.channel_id = %(channel_id)s" if scope.channel_id is not None else ""
    return conn.execute(
        f"""
        SELECT m.channel_id, count(*) AS messages FROM messages m
         WHERE m.sender = 'customer' AND m.created_at >= %(start)s AND m.created_at < %(end)s {team} {channel}
         GROUP BY m.channel_id
        """,
        scope.params(),
    ).fetchall()


def escalations(conn, scope: Scope) -> list[dict]:
    """Every escalation in the window: its rule, team, the first public agent
    reply after it (when and by whom), and whether the same contact had been
    escalated in the 7 days before (the root cause was not solved). Set-based
    (a window function over the contacts' escalations, one join for the
    replies), so the cost grows with the escalations, not per escalation."""
    return conn.execute(
        f"""
        WITH escalated AS (
            SELECT e.id, e.conversation_id, e.created_at, e.detail->>'rule' AS rule, c.team_id,
                   c.channel_id, c.contact_id,
                   lag(e.created_at) OVER (PARTITION BY c.contact_id ORDER BY e.created_at, e.id) AS previous
              FROM events e JOIN conversations c ON c.id = e.conversation_id
             WHERE e.kind = 'conversation.escalated'
               AND e.created_at >= %(start)s - interval '7 days' AND e.created_at < %(end)s
        ), in_window AS (
            SELECT * FROM escalated c WHERE c.created_at >= %(start)s{scope.conversation_filter()}
        )
        SELECT DISTINCT ON (e.id) e.conversation_id, e.created_at AS escalated_at, e.rule, e.team_id,
               m.created_at AS replied_at, m.agent_id AS replied_by,
               coalesce(e.previous >= e.created_at - interval '7 days', false) AS repeat
          FROM in_window e
          LEFT JOIN messages m ON m.conversation_id = e.conversation_id AND m.sender = 'agent' AND NOT m.private
                              AND m.created_at >= e.created_at
         ORDER BY e.id, m.created_at
        """,
        scope.params(),
    ).fetchall()


def resolutions(conn, scope: Scope) -> dict:
    """Resolutions in the window and how long each took: from the conversation's
    start, or from its last reopening before it (p50, p90 seconds). Reopenings
    are rare: they are gathered once per conversation, not looked up per resolution."""
    return conn.execute(
        f"""
        WITH reopened AS (
            SELECT conversation_id, array_agg(created_at) AS times FROM events
             WHERE kind = 'conversation.reopened' AND created_at < %(end)s GROUP BY conversation_id
        )
        SELECT count(*) AS resolutions,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) AS p50,
               percentile_cont(0.9) WITHIN GROUP (ORDER BY seconds) AS p90
          FROM (SELECT extract(epoch FROM e.created_at - CASE WHEN r.times IS NULL THEN c.created_at ELSE coalesce(
                           (SELECT max(t) FROM unnest(r.times) t WHERE t < e.created_at), c.created_at) END) AS seconds
                  FROM events e JOIN conversations c ON c.id = e.conversation_id
                  LEFT JOIN reopened r ON r.conversation_id = e.conversation_id
                 WHERE e.kind = 'conversation.resolved' AND e.created_at >= %(start)s AND e.created_at < %(end)s
                       {scope.conversation_filter()}) resolved
        """,
        scope.params(),
    ).fetchone()


def missed_chats(conn, scope: Scope) -> int:
    """Conversations that became missed chats in the window (each once, however many ladder steps)."""
    return conn.execute(
        f"""
        SELECT count(DISTINCT e.conversation_id) AS n FROM events e JOIN conversations c ON c.id = e.conversation_id
         WHERE e.kind = 'conversation.missed' AND e.created_at >= %(start)s AND e.created_at < %(end)s
               {scope.conversation_filter()}
        """,
        scope.params(),
    ).fetchone()["n"]


def ticket_totals(conn, scope: Scope, now: datetime) -> dict:
    """Tickets opened in the window, those of them that missed their due time
    (closed late, or still open past it), and tickets closed in the window."""
    channel = ("AND k.conversation_id IN (SELECT id FROM conversations WHERE channel_id = %(channel_id)s)"
               if scope.channel_id is not None else "")
    team = "AND k.team_id = %(team_id)s" if scope.team_id is not None else ""
    return conn.execute(
        f"""
        SELECT count(*) FILTER (WHERE k.created_at >= %(start)s AND k.created_at < %(end)s) AS opened,
               count(*) FILTER (WHERE k.created_at >= %(start)s AND k.created_at < %(end)s
                                  AND k.due_at < coalesce(k.closed_at, %(now)s)) AS overdue,
               count(*) FILTER (WHERE k.closed_at >= %(start)s AND k.closed_at < %(end)s) AS closed
          FROM tickets k
         WHERE (k.created_at >= %(start)s AND k.created_at < %(end)s
                OR k.closed_at >= %(start)s AND k.closed_at < %(end)s) {team} {channel}
        """,
        scope.params(now=now),
    ).fetchone()


def agent_activity(conn, scope: Scope) -> list[dict]:
    """Per agent: public replies sent in the window, conversations replied to, resolutions."""
    team_and_channel = (f"AND m.conversation_id IN (SELECT c.id FROM conversations c WHERE true"
                        f"{scope.conversation_filter()})" if scope.team_id or scope.channel_id else "")
    return conn.execute(
        f"""
        WITH replies AS (
            SELECT m.agent_id, count(*) AS replies, count(DISTINCT m.conversation_id) AS conversations
              FROM messages m
             WHERE m.sender = 'agent' AND NOT m.private AND m.created_at >= %(start)s AND m.created_at < %(end)s
                   {team_and_channel}
             GROUP BY m.agent_id),
        resolved AS (
            SELECT e.agent_id, count(*) AS resolved FROM events e JOIN conversations c ON c.id = e.conversation_id
             WHERE e.kind = 'conversation.resolved' AND e.created_at >= %(start)s AND e.created_at < %(end)s
                   {scope.conversation_filter()}
             GROUP BY e.agent_id)
        SELECT a.id, a.name, coalesce(r.replies, 0) AS replies, coalesce(r.conversations, 0) AS conversations,
               coalesce(s.resolved, 0) AS resolved
          FROM agents a LEFT JOIN replies r ON r.agent_id = a.id LEFT JOIN resolved s ON s.agent_id = a.id
         WHERE r.agent_id IS NOT NULL OR s.agent_id IS NOT NULL
         ORDER BY a.name
        """,
        scope.params(),
    ).fetchall()


# The rules that fire because the bot could not answer (not because the customer asked for a person).
FAILURE_RULES = ("low_confidence", "model_needs_human", "repeated_question")


def unanswered_questions(conn, scope: Scope, *, threshold: float, limit: int = 1000) -> list[dict]:
    """The newest `limit` customer questions in the window the bot could not
    answer: answered below `threshold` (small talk aside), answered by a
    failed responder, or escalated by a failure rule. Questions marked handled
    are left out. Each source is read newest first and stops at `limit`."""
    channel = "AND q.channel_id = %(channel_id)s" if scope.channel_id is not None else ""
    team = ("AND q.conversation_id IN (SELECT id FROM conversations WHERE team_id = %(team_id)s)"
            if scope.team_id is not None else "")
    question = f"""JOIN messages q ON q.id = {{column}} AND q.sender = 'customer' AND q.text <> '' {channel} {team}
                   AND NOT EXISTS (SELECT 1 FROM kb_gaps_handled h WHERE h.message_id = q.id)"""
    return conn.execute(
        f"""
        SELECT DISTINCT ON (created_at, id) * FROM (
            (SELECT q.id, q.text, q.created_at,
                    CASE WHEN b.metadata ? 'responder_error' THEN 'failed' ELSE 'low confidence' END AS reason
               FROM messages b {question.format(column="b.reply_to_id")}
              WHERE b.sender = 'bot' AND b.created_at >= %(start)s AND b.created_at < %(end)s
                AND NOT b.metadata ? 'small_talk'
                AND (b.bot_confidence < %(threshold)s OR b.metadata ? 'responder_error')
              ORDER BY b.created_at DESC LIMIT %(limit)s)
            UNION ALL
            (SELECT q.id, q.text, q.created_at, replace(e.detail->>'rule', '_', ' ')
               FROM events e {question.format(column="e.message_id")}
              WHERE e.kind = 'conversation.escalated' AND e.created_at >= %(start)s AND e.created_at < %(end)s
                AND e.detail->>'rule' = ANY(%(rules)s)
              ORDER BY e.created_at DESC LIMIT %(limit)s)
        ) found
        ORDER BY created_at DESC, id DESC LIMIT %(limit)s
        """,
        scope.params(threshold=threshold, rules=list(FAILURE_RULES), limit=limit),
    ).fetchall()


def articles_before_escalations(conn, scope: Scope, limit: int = 10) -> list[dict]:
    """Knowledge-base articles the bot's last answer before an escalation in the
    window came from: it answered, and the customer still needed a person."""
    return conn.execute(
        f"""
        SELECT source.title, count(DISTINCT e.conversation_id) AS conversations,
               (SELECT min(id) FROM kb_articles a WHERE a.title = source.title) AS article_id
          FROM events e
          JOIN conversations c ON c.id = e.conversation_id
          -- The bot answers before the customer's message that was handed over: from that message back.
          CROSS JOIN LATERAL (SELECT m.metadata FROM messages m
                               WHERE m.conversation_id = e.conversation_id AND m.id < e.message_id
                                 AND m.sender = 'bot'
                               ORDER BY m.conversation_id, m.id DESC LIMIT 1) last_answer
          CROSS JOIN LATERAL jsonb_array_elements_text(coalesce(last_answer.metadata->'sources', '[]')) AS source(title)
         WHERE e.kind = 'conversation.escalated' AND e.created_at >= %(start)s AND e.created_at < %(end)s
           AND e.message_id IS NOT NULL {scope.conversation_filter()}
         GROUP BY source.title ORDER BY 2 DESC, 1 LIMIT %(limit)s
        """,
        scope.params(limit=limit),
    ).fetchall()


def mark_handled(conn, message_ids: list[int], agent_id: int | None) -> int:
    return conn.execute(
        """
        INSERT INTO kb_gaps_handled (message_id, agent_id)
        SELECT id, %(agent_id)s FROM messages WHERE id = ANY(%(ids)s) AND sender = 'customer'
        ON CONFLICT DO NOTHING
        """,
        {"ids": message_ids, "agent_id": agent_id},
    ).rowcount


def conversations_in_window(conn, scope: Scope):
    """The conversations behind the figures (CSV export), oldest first, as a stream of rows."""
    with conn.cursor(name="report_conversations") as cursor:
        cursor.itersize = 2000
        cursor.execute(
            f"""
            SELECT c.id, c.created_at, ch.kind AS channel_kind, ch.name AS channel, t.name AS team, c.status,
                   c.escalated_at, c.escalation_reason AS rule, c.first_agent_reply_at, c.resolved_at, c.csat,
                   (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id AND m.sender = 'customer')
                       AS customer_messages
              FROM conversations c JOIN channels ch ON ch.id = c.channel_id LEFT JOIN teams t ON t.id = c.team_id
             WHERE c.created_at >= %(start)s AND c.created_at < %(end)s{scope.conversation_filter()}
             ORDER BY c.created_at, c.id
            """,
            scope.params(),
        )
        yield from cursor
