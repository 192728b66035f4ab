"""conversations: one thread between a contact's identity and the business.

Columns: id, channel_id, contact_id, identity_id, status (bot | queued |
assigned | resolved | ticket), mode, team_id, assignee_id, priority,
escalation_reason/detail, handoff_packet, low_confidence_streak, collected,
csat, delivered/read watermarks and timestamps. At most one conversation per
identity is open (status <> 'resolved').
"""

from __future__ import annotations

from psycopg.types.json import Jsonb


def open_conversation_for(conn, *, channel_id: int, contact_id: int, identity_id: int, mode: str,
                          team_id: int | None) -> dict:
    """The identity's open conversation, bumped to now, or a new one."""
    params = {"channel_id": channel_id, "contact_id": contact_id, "identity_id": identity_id,
              "mode": mode, "team_id": team_id}
    bump = """
        UPDATE conversations
           SET last_message_at = now(), updated_at = now(), last_customer_message_at = now()
         WHERE identity_id = %(identity_id)s AND status <> 'resolved'
        RETURNING id, status
    """
    existing = conn.execute(bump, params).fetchone()
    if existing:
        return existing
    created = conn.execute(
        """
        INSERT INTO conversations (channel_id, contact_id, identity_id, mode, team_id, last_customer_message_at)
        VALUES (%(channel_id)s, %(contact_id)s, %(identity_id)s, %(mode)s, %(team_id)s, now())
        ON CONFLICT (identity_id) WHERE status <> 'resolved' DO NOTHING
        RETURNING id, status
        """,
        params,
    ).fetchone()
    # None: another request opened it between our UPDATE and INSERT.
    return created or conn.execute(bump, params).fetchone()


def lock_conversation(conn, conversation_id: int) -> dict | None:
    """The conversation row, locked until the end of the transaction.

    This is what serializes the jobs of one conversation across workers.
    """
    return conn.execute(
        "SELECT * FROM conversations WHERE id = %(id)s FOR UPDATE", {"id": conversation_id}
    ).fetchone()



def record_watermark(conn, identity_id: int, kind: str, watermark: int) -> int | None:
    """Raise the delivered/read watermark of the identity's current conversation
    (the open one, else the latest: the customer may read the closing message
    after it was resolved); returns its id."""
    column = {"delivered": "delivered_watermark", "read": "read_watermark"}[kind]
    row = conn.execute(
        f"""
        UPDATE conversations SET {column} = greatest(coalesce({column}, 0), %(watermark)s), updated_at = now()
         WHERE id = (SELECT id FROM conversations WHERE identity_id = %(identity_id)s
                      ORDER BY status <> 'resolved' DESC, id DESC LIMIT 1)
        RETURNING id
        """,
        {"identity_id": identity_id, "watermark": watermark},
    ).fetchone()
    return row["id"] if row else None



# --- The agent inbox (read-only) -------------------------------------------------------

STATUSES = ("bot", "queued", "assigned", "resolved", "ticket")

# The last message an agent sees in a list: text cut short in SQL (a pasted
# log can be megabytes), private notes left out.
_LAST_MESSAGE = """
    LEFT JOIN LATERAL (
        SELECT left(m.text, 300) AS text, m.sender, m.status, m.created_at,
               jsonb_array_length(m.attachments) AS attachment_count
          FROM messages m
         WHERE m.conversation_id = cv.id AND NOT m.private
         ORDER BY m.id DESC LIMIT 1
    ) last ON true
"""


# The conversations an agent may see (gateway/desk/access.py states the rule,
# Access.sql_params() gives the parameters): all of them, or those of the
# agent's teams, of no team, or assigned to the agent.
VISIBLE_TO = """(%(visible_all)s OR cv.team_id IS NULL OR cv.team_id = ANY(%(visible_team_ids)s::bigint[])
                 OR cv.assignee_id = %(visible_agent_id)s)"""


def inbox_list(conn, visible_to: dict, *, status: str | None = None, before_id: int | None = None,
               limit: int = 50) -> list[dict]:
    """Conversations for the inbox that an agent may see (`visible_to`:
    Access.sql_params()), most recent first, with their contact, channel,
    assignee and last message (last_text, last_sender, ...).

    status: only those in this status. before_id: the page after the
    conversation with this id (keyset pagination on last_message_at, id).
    """
    return conn.execute(
        f"""
        SELECT cv.id, cv.status, cv.priority, cv.escalation_reason, cv.created_at, cv.last_message_at,
               ch.kind AS channel_kind, ch.name AS channel_name,
               ct.id AS contact_id, ct.name AS contact_name, ct.phone AS contact_phone,
               ct.email AS contact_email, ct.vip AS contact_vip,
               i.address AS identity_address, i.profile_name AS identity_profile_name,
               ag.name AS assignee_name,
               last.text AS last_text, last.sender AS last_sender, last.status AS last_status,
               last.attachment_count AS last_attachment_count
          FROM conversations cv
          JOIN channels ch ON ch.id = cv.channel_id
          JOIN contacts ct ON ct.id = cv.contact_id
          JOIN contact_identities i ON i.id = cv.identity_id
          LEFT JOIN agents ag ON ag.id = cv.assignee_id
          {_LAST_MESSAGE}
         WHERE (%(status)s::text IS NULL OR cv.status = %(status)s::text) AND {VISIBLE_TO}
           AND (%(before_id)s::bigint IS NULL OR (cv.last_message_at, cv.id) <
                (SELECT b.last_message_at, b.id FROM conversations b WHERE b.id = %(before_id)s::bigint))
         ORDER BY cv.last_message_at DESC, cv.id DESC
         LIMIT %(limit)s
        """,
        {"status": status, "before_id": before_id, "limit": limit, **visible_to},
    ).fetchall()


def count_by_status(conn, visible_to: dict) -> dict[str, int]:
    """{status: number of conversations the agent may see} for every status (zeros included)."""
    rows = conn.execute(f"SELECT status, count(*) AS n FROM conversations cv WHERE {VISIBLE_TO} GROUP BY status",
                        visible_to).fetchall()
    counts = dict.fromkeys(STATUSES, 0)
    counts.update({row["status"]: row["n"] for row in rows})
    return counts


def conversation_detail(conn, conversation_id: int) -> dict | None:
    """The conversation with its channel, identity, team and assignee names."""
    return conn.execute(
        """
        SELECT cv.*, ch.kind AS channel_kind, ch.name AS channel_name,
               i.address AS identity_address, i.profile_name AS identity_profile_name,
               t.name AS team_name, ag.name AS assignee_name, ag.email AS assignee_email
          FROM conversations cv
          JOIN channels ch ON ch.id = cv.channel_id
          JOIN contact_identities i ON i.id = cv.identity_id
          LEFT JOIN teams t ON t.id = cv.team_id
          LEFT JOIN agents ag ON ag.id = cv.assignee_id
         WHERE cv.id = %(id)s
        """,
        {"id": conversation_id},
    ).fetchone()


def transcript_tail(conn, conversation_id: int, *, limit: int = 300) -> tuple[list[dict], int]:
    """The conversation's last `limit` messages, oldest first, private notes
    and delivery details included (what an agent sees), and the total count."""
    rows = conn.execute(
        """
        SELECT * FROM (
            SELECT m.id, m.direction, m.sender, m.agent_id, ag.name AS agent_name, m.text, m.attachments,
                   m.payload, m.status, m.error_code, m.error_message, m.attempts, m.private,
                   m.bot_confidence, m.created_at, m.sent_at, m.delivered_at, m.read_at,
                   count(*) OVER () AS total
              FROM messages m
              LEFT JOIN agents ag ON ag.id = m.agent_id
             WHERE m.conversation_id = %(id)s
             ORDER BY m.id DESC LIMIT %(limit)s
        ) recent ORDER BY id
        """,
        {"id": conversation_id, "limit": limit},
    ).fetchall()
    return rows, (rows[0]["total"] if rows else 0)


def conversations_of_contact(conn, contact_id: int, visible_to: dict, *, exclude_id: int | None = None,
                             limit: int = 20) -> list[dict]:
    """The contact's conversations on every channel that the agent may see
    (`visible_to`: Access.sql_params()), most recent first, with their last
    message: the cross-channel history beside a conversation."""
    return conn.execute(
        f"""
        SELECT cv.id, cv.status, cv.created_at, cv.last_message_at,
               ch.kind AS channel_kind, ch.name AS channel_name,
               last.text AS last_text, last.sender AS last_sender
          FROM conversations cv
          JOIN channels ch ON ch.id = cv.channel_id
          {_LAST_MESSAGE}
         WHERE cv.contact_id = %(contact_id)s AND cv.id IS DISTINCT FROM %(exclude_id)s::bigint AND {VISIBLE_TO}
         ORDER BY cv.last_message_at DESC, cv.id DESC
         LIMIT %(limit)s
        """,
        {"contact_id": contact_id, "exclude_id": exclude_id, "limit": limit, **visible_to},
    ).fetchall()


def conversation_events(conn, conversation_id: int, *, limit: int = 200) -> list[dict]:
    """The conversation's audit trail (events_of) with agent names, oldest first."""
    return conn.execute(
        """
        SELECT * FROM (
            SELECT e.id, e.kind, e.message_id, e.agent_id, ag.name AS agent_name, e.detail, e.created_at
              FROM events e LEFT JOIN agents ag ON ag.id = e.agent_id
             WHERE e.conversation_id = %(id)s
             ORDER BY e.id DESC LIMIT %(limit)s
        ) recent ORDER BY id
        """,
        {"id": conversation_id, "limit": limit},
    ).fetchall()


# --- what the bot brain needs -------------------------------------------------------------

def brain_context(conn, conversation_id: int, before_message_id: int, history_limit: int = 20) -> dict:
    """What the trigger engine and the responder know of a conversation before
    the message `before_message_id`: the customer's earlier texts, how many
    answers the bot gave, whether its last one offered a person, the contact's
    VIP flag and attributes, the channel kind, and the recent exchange."""
    row = conn.execute(
        """
        SELECT ch.kind AS channel_kind, ct.vip AS contact_vip, ct.attributes AS contact_attributes,
               (SELECT count(*) FROM messages m
                 WHERE m.conversation_id = cv.id AND m.sender = 'bot') AS bot_answer_count,
               coalesce((SELECT (m.metadata->>'offered_human')::boolean FROM messages m
                          WHERE m.conversation_id = cv.id AND m.sender = 'bot'
                          ORDER BY m.id DESC LIMIT 1), false) AS human_offered
          FROM conversations cv
          JOIN channels ch ON ch.id = cv.channel_id
          JOIN contacts ct ON ct.id = cv.contact_id
         WHERE cv.id = %(id)s
        """,
        {"id": conversation_id},
    ).fetchone()
    recent = conn.execute(
        """
        SELECT sender, text FROM messages
         WHERE conversation_id = %(id)s AND id < %(before)s AND NOT private
         ORDER BY id DESC LIMIT %(limit)s
        """,
        {"id": conversation_id, "before": before_message_id, "limit": history_limit},
    ).fetchall()[::-1]
    row["history"] = recent
    row["previous_customer_texts"] = tuple(m["text"] for m in recent if m["sender"] == "customer" and m["text"])
    return row


def record_bot_turn(conn, conversation_id: int, *, low_confidence_streak: int, collected: dict) -> None:
    conn.execute(
        """
        UPDATE conversations
           SET low_confidence_streak = %(streak)s, collected = %(collected)s, updated_at = now()
         WHERE id = %(id)s
        """,
        {"id": conversation_id, "streak": low_confidence_streak, "collected": Jsonb(collected)},
    )


def mark_escalated(conn, conversation_id: int, *, team_id: int | None, priority: str, reason: str,
                   detail: dict) -> None:
    """The bot steps aside: the conversation waits in its team's queue."""
    conn.execute(
        """
        UPDATE conversations
           SET status = 'queued', team_id = coalesce(%(team_id)s, team_id), priority = %(priority)s,
               escalation_reason = %(reason)s, escalation_detail = %(detail)s,
               escalated_at = now(), updated_at = now()
         WHERE id = %(id)s
        """,
        {"id": conversation_id, "team_id": team_id, "priority": priority, "reason": reason, "detail": Jsonb(detail)},
    )


def store_handoff_packet(conn, conversation_id: int, packet: dict) -> None:
    conn.execute("UPDATE conversations SET handoff_packet = %(packet)s WHERE id = %(id)s",
                 {"id": conversation_id, "packet": Jsonb(packet)})


# --- what agents do to a conversation (gateway.desk.actions) ------------------------------


def get_conversation(conn, conversation_id: int) -> dict | None:
    """The conversation row as it is, without a lock (lock_conversation takes one)."""
    return conn.execute("SELECT * FROM conversations WHERE id = %(id)s", {"id": conversation_id}).fetchone()


def team_of_conversation(conn, conversation_id: int) -> dict | None:
    """{"team_id": ...} of the conversation (None inside when it has no team),
    None if there is no such conversation."""
    return conn.execute("SELECT team_id FROM conversations WHERE id = %(id)s", {"id": conversation_id}).fetchone()


def open_conversation_of_identity(conn, identity_id: int) -> int | None:
    """The id of the identity's open (not resolved) conversation: there is at most one."""
    row = conn.execute("SELECT id FROM conversations WHERE identity_id = %(id)s AND status <> 'resolved'",
                       {"id": identity_id}).fetchone()
    return row["id"] if row else None


def move_to_team(conn, conversation_id: int, team_id: int, *, keep_ticket: bool) -> dict:
    """The conversation waits anew in the team's queue: nobody assigned, the
    missed-chat clock and the first-reply measure restarted for the new team.
    keep_ticket: a ticket stays a ticket (its escalation and first reply kept),
    now of the new team; the ticket row itself is tickets.move_open_ticket's."""
    return conn.execute(
        """
        UPDATE conversations
           SET team_id = %(team)s, assignee_id = NULL, assigned_at = NULL, updated_at = now(),
               status = CASE WHEN %(keep_ticket)s THEN status ELSE 'queued' END,
               escalated_at = CASE WHEN %(keep_ticket)s THEN escalated_at ELSE now() END,
               first_agent_reply_at = CASE WHEN %(keep_ticket)s THEN first_agent_reply_at END,
               missed_stage = 0, queue_notice_position = NULL, queue_notice_at = NULL, bot_fallback = false
         WHERE id = %(id)s
        RETURNING *
        """,
        {"id": conversation_id, "team": team_id, "keep_ticket": keep_ticket},
    ).fetchone()


def record_agent_reply(conn, conversation_id: int) -> None:
    """A person answered: the bot stays silent from now on (first_agent_reply_at)."""
    conn.execute(
        """
        UPDATE conversations SET first_agent_reply_at = coalesce(first_agent_reply_at, now()),
               last_message_at = now(), updated_at = now()
         WHERE id = %(id)s
        """,
        {"id": conversation_id},
    )


def resolve_conversation(conn, conversation_id: int) -> None:
    """Resolved now; the bot's fallback for a waiting customer ends with it."""
    conn.execute(
        """
        UPDATE conversations SET status = 'resolved', resolved_at = now(), updated_at = now(), bot_fallback = false
         WHERE id = %(id)s
        """,
        {"id": conversation_id},
    )


def reopen_conversation(conn, conversation_id: int, *, agent_id: int) -> None:
    """A resolved conversation back, assigned to the agent. A person has dealt
    with it (resolving it counts), so first_agent_reply_at is set: the bot stays
    silent and the missed-chat ladder leaves it alone, the agent follows up.
    Raises UniqueViolation when the identity has opened another conversation
    meanwhile (one open conversation per identity): run it in a savepoint."""
    conn.execute(
        """
        UPDATE conversations SET status = 'assigned', assignee_id = %(agent)s, assigned_at = now(),
               first_agent_reply_at = coalesce(first_agent_reply_at, resolved_at, now()),
               resolved_at = NULL, updated_at = now()
         WHERE id = %(id)s
        """,
        {"id": conversation_id, "agent": agent_id},
    )


def record_queue_notice(conn, conversation_id: int, position: int) -> None:
    """The customer was just told this place in line (queue updates compare with it)."""
    conn.execute(
        "UPDATE conversations SET queue_notice_position = %(position)s, queue_notice_at = now() WHERE id = %(id)s",
        {"id": conversation_id, "position": position},
    )


def mark_ticket(conn, conversation_id: int, *, bot_fallback: bool) -> None:
    """Nobody could take it live: it waits on its ticket, nobody assigned (and
    the bot may help meanwhile)."""
    conn.execute(
        """
        UPDATE conversations SET status = 'ticket', assignee_id = NULL, bot_fallback = %(bot)s, updated_at = now()
         WHERE id = %(id)s
        """,
        {"id": conversation_id, "bot": bot_fallback},
    )


def set_missed_stage(conn, conversation_id: int, stage: int) -> None:
    conn.execute("UPDATE conversations SET missed_stage = %(stage)s, updated_at = now() WHERE id = %(id)s",
                 {"id": conversation_id, "stage": stage})


def set_bot_fallback(conn, conversation_id: int) -> None:
    """The bot helps the waiting customer until a person replies."""
    conn.execute("UPDATE conversations SET bot_fallback = true, updated_at = now() WHERE id = %(id)s",
                 {"id": conversation_id})
