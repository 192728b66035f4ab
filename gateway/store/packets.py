"""What the handoff packet of a conversation is built from, and its LLM summary.

The packet itself is built by gateway/handoff/packet.py inside the
escalation's transaction, so these reads stay few and indexed: one row of
facts, one batch of messages.
"""

from __future__ import annotations

from psycopg.types.json import Jsonb

# A pasted log can be megabytes; what the packet quotes is short.
TEXT_CHARS = 2000


def packet_facts(conn, conversation_id: int) -> dict | None:
    """The conversation with its channel, team, contact (name, email, phone,
    vip, attributes), identity profile name, number of messages (private
    notes excluded) and number of the contact's other conversations."""
    return conn.execute(
        """
        SELECT cv.id, cv.contact_id, cv.channel_id, cv.status, cv.priority, cv.escalated_at,
               cv.escalation_reason, cv.escalation_detail, cv.collected, cv.last_customer_message_at,
               ch.kind AS channel_kind, ch.name AS channel_name, t.name AS team_name,
               ct.name AS contact_name, ct.email AS contact_email, ct.phone AS contact_phone,
               ct.vip AS contact_vip, ct.attributes AS contact_attributes, i.profile_name,
               (SELECT count(*) FROM messages m
                 WHERE m.conversation_id = cv.id AND NOT m.private) AS message_count,
               (SELECT count(*) FROM conversations o
                 WHERE o.contact_id = cv.contact_id AND o.id <> cv.id) AS other_conversations
          FROM conversations cv
          JOIN channels ch ON ch.id = cv.channel_id
          JOIN contacts ct ON ct.id = cv.contact_id
          JOIN contact_identities i ON i.id = cv.identity_id
          LEFT JOIN teams t ON t.id = cv.team_id
         WHERE cv.id = %(id)s
        """,
        {"id": conversation_id},
    ).fetchone()


def packet_messages(conn, conversation_id: int, *, recent: int = 60, opening: int = 10) -> list[dict]:
    """The customer's and the bot's messages, oldest first: the `recent` last
    ones, and the customer's `opening` first ones (where a long conversation
    states its request), text cut to TEXT_CHARS."""
    columns = f"""id, sender, left(text, {TEXT_CHARS}) AS text, payload, reply_to_id, bot_confidence,
                  coalesce(metadata->'sources', '[]') AS sources"""
    return conn.execute(
        f"""
        (SELECT {columns} FROM messages
          WHERE conversation_id = %(id)s AND sender IN ('customer', 'bot') AND NOT private
          ORDER BY id DESC LIMIT %(recent)s)
        UNION
        (SELECT {columns} FROM messages
          WHERE conversation_id = %(id)s AND sender = 'customer'
          ORDER BY id LIMIT %(opening)s)
        ORDER BY id
        """,
        {"id": conversation_id, "recent": recent, "opening": opening},
    ).fetchall()


def store_packet_summary(conn, conversation_id: int, summary: dict) -> None:
    """Replace the summary of the conversation's stored packet (if it has one)."""
    conn.execute(
        """
        UPDATE conversations SET handoff_packet = jsonb_set(handoff_packet, '{summary}', %(summary)s),
               updated_at = now()
         WHERE id = %(id)s AND handoff_packet IS NOT NULL
        """,
        {"id": conversation_id, "summary": Jsonb(summary)},
    )
