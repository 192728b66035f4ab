"""tickets: an escalation nobody could take live, to be answered later.

Columns: id, number (customer-facing, from 1001), conversation_id, contact_id,
team_id, assignee_id, subject, reason, email (where a reply goes when the
channel cannot carry it), status (open | pending | closed), due_at,
created_at, updated_at, first_reply_at, closed_at. A conversation has at most
one ticket that is not closed.
"""

from __future__ import annotations

TICKET_STATUSES = ("open", "pending", "closed")

_SELECT = """
    SELECT k.*, t.name AS team, c.channel_id, ch.kind AS channel_kind, c.status AS conversation_status,
           c.last_customer_message_at, coalesce(ct.name, ci.profile_name) AS contact_name,
           coalesce(k.email, ct.email) AS reply_email
      FROM tickets k
      JOIN contacts ct ON ct.id = k.contact_id
      LEFT JOIN conversations c ON c.id = k.conversation_id
      LEFT JOIN contact_identities ci ON ci.id = c.identity_id
      LEFT JOIN channels ch ON ch.id = c.channel_id
      LEFT JOIN teams t ON t.id = k.team_id
"""


def open_ticket(conn, *, conversation_id: int, contact_id: int, team_id: int | None, subject: str,
                reason: str, due_at, email: str | None) -> tuple[dict, bool]:
    """(the conversation's open ticket, whether it was created now): a second
    escalation of the same conversation finds the first ticket."""
    created = conn.execute(
        """
        INSERT INTO tickets (conversation_id, contact_id, team_id, subject, reason, due_at, email)
        VALUES (%(conversation_id)s, %(contact_id)s, %(team_id)s, %(subject)s, %(reason)s, %(due_at)s, %(email)s)
        ON CONFLICT (conversation_id) WHERE conversation_id IS NOT NULL AND status <> 'closed' DO NOTHING
        RETURNING *
        """,
        {"conversation_id": conversation_id, "contact_id": contact_id, "team_id": team_id,
         "subject": subject[:200], "reason": reason, "due_at": due_at, "email": email},
    ).fetchone()
    if created:
        return created, True
    return conn.execute("SELECT * FROM tickets WHERE conversation_id = %(id)s AND status <> 'closed'",
                        {"id": conversation_id}).fetchone(), False


def get_ticket(conn, number: int) -> dict | None:
    return conn.execute(_SELECT + " WHERE k.number = %(number)s", {"number": number}).fetchone()


def ticket_of_conversation(conn, conversation_id: int) -> dict | None:
    return conn.execute(_SELECT + " WHERE k.conversation_id = %(id)s ORDER BY k.id DESC LIMIT 1",
                        {"id": conversation_id}).fetchone()


def list_tickets(conn, team_ids: list[int], *, status: str | None = None, limit: int = 100) -> list[dict]:
    """Tickets of these teams (and those of no team), due first; closed ones only when asked."""
    return conn.execute(
        _SELECT + """
         WHERE (k.team_id = ANY(%(teams)s) OR k.team_id IS NULL)
           AND (k.status = %(status)s OR (%(status)s IS NULL AND k.status <> 'closed'))
         ORDER BY k.due_at NULLS LAST, k.number
         LIMIT %(limit)s
        """,
        {"teams": team_ids, "status": status, "limit": limit},
    ).fetchall()


def set_ticket_status(conn, ticket_id: int, status: str) -> None:
    conn.execute(
        """
        UPDATE tickets SET status = %(status)s, updated_at = now(),
               closed_at = CASE WHEN %(status)s = 'closed' THEN now() END
         WHERE id = %(id)s
        """,
        {"id": ticket_id, "status": status},
    )


def record_ticket_reply(conn, ticket_id: int, agent_id: int) -> None:
    """An agent answered: the ticket waits on the customer now."""
    conn.execute(
        """
        UPDATE tickets SET status = 'pending', assignee_id = coalesce(assignee_id, %(agent)s),
               first_reply_at = coalesce(first_reply_at, now()), updated_at = now()
         WHERE id = %(id)s AND status <> 'closed'
        """,
        {"id": ticket_id, "agent": agent_id},
    )


def set_ticket_email(conn, conversation_id: int, email: str) -> None:
    """The customer left an address for the reply (asked for on the web when none was known)."""
    conn.execute("UPDATE tickets SET email = %(email)s, updated_at = now() "
                 "WHERE conversation_id = %(id)s AND status <> 'closed' AND email IS NULL",
                 {"id": conversation_id, "email": email})


def move_open_ticket(conn, conversation_id: int, team_id: int) -> None:
    """The conversation's ticket that is not closed becomes the team's (a transfer)."""
    conn.execute("UPDATE tickets SET team_id = %(team)s, updated_at = now() "
                 "WHERE conversation_id = %(id)s AND status <> 'closed'", {"id": conversation_id, "team": team_id})
