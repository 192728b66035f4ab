"""Web widget visitors: a visitor's identity, its conversations, what it may read.

A visitor is a contact_identity on a web channel whose address is the
visitor id from the widget token. What a visitor may read is scoped by that
identity, never by its contact: an email typed into the widget is a claim,
not a proof, so it joins the visitor to a contact (agents then see one
person's history across channels) but never shows the visitor anything the
contact said elsewhere.
"""

from __future__ import annotations

from psycopg.errors import UniqueViolation

from gateway.store import contacts, events

# What the widget may see of a message: no private notes (filtered out),
# no bot confidence, error details or provider ids. client_id is the id the
# widget gave its own message, so it can match the message it shows as sending.
# quick_replies are the buttons a bot answer offers ([{"title", "payload"}], e.g.
# "Talk to an agent"); null on every other message.
WIDGET_COLUMNS = """m.id, m.conversation_id, m.direction, m.sender, a.name AS agent_name, m.text,
    m.attachments, m.status, m.metadata->>'client_id' AS client_id,
    CASE WHEN m.sender = 'bot' AND jsonb_typeof(m.metadata->'quick_replies') = 'array'
         THEN m.metadata->'quick_replies' END AS quick_replies,
    m.created_at"""
WIDGET_FROM = """messages m
    JOIN conversations cv ON cv.id = m.conversation_id
    LEFT JOIN agents a ON a.id = m.agent_id"""


def find_visitor(conn, channel_id: int, visitor_id: str) -> dict | None:
    """The visitor's identity {id, contact_id, conversation_id}, or None for a
    visitor who never wrote nor gave a name or email."""
    identity = conn.execute(
        "SELECT id, contact_id FROM contact_identities WHERE channel_id = %(channel_id)s AND address = %(address)s",
        {"channel_id": channel_id, "address": visitor_id},
    ).fetchone()
    if identity is None:
        return None
    return {**identity, "conversation_id": current_conversation_id(conn, identity["id"])}


def current_conversation_id(conn, identity_id: int) -> int | None:
    """The visitor's open conversation, else their latest one, else None."""
    row = conn.execute(
        """
        SELECT id FROM conversations WHERE identity_id = %(identity_id)s
         ORDER BY (status <> 'resolved') DESC, id DESC LIMIT 1
        """,
        {"identity_id": identity_id},
    ).fetchone()
    return row["id"] if row else None


def visitor_messages(conn, identity_id: int, *, after_id: int = 0, limit: int = 200) -> list[dict]:
    """The visitor's messages in all their conversations on this channel, oldest first."""
    return conn.execute(
        f"""
        SELECT {WIDGET_COLUMNS} FROM {WIDGET_FROM}
         WHERE cv.identity_id = %(identity_id)s AND m.id > %(after_id)s AND NOT m.private
         ORDER BY m.id LIMIT %(limit)s
        """,
        {"identity_id": identity_id, "after_id": after_id, "limit": limit},
    ).fetchall()


def visitor_message(conn, identity_id: int, message_id: int) -> dict | None:
    """One message, if it belongs to this visitor and is not a private note."""
    return conn.execute(
        f"""
        SELECT {WIDGET_COLUMNS} FROM {WIDGET_FROM}
         WHERE m.id = %(id)s AND cv.identity_id = %(identity_id)s AND NOT m.private
        """,
        {"id": message_id, "identity_id": identity_id},
    ).fetchone()


def message_by_provider_id(conn, channel_id: int, provider_message_id: str) -> dict | None:
    """A visitor's message found by the id the widget gave it (a resend)."""
    return conn.execute(
        f"""
        SELECT {WIDGET_COLUMNS} FROM {WIDGET_FROM}
         WHERE m.channel_id = %(channel_id)s AND m.provider_message_id = %(pid)s AND NOT m.private
        """,
        {"channel_id": channel_id, "pid": provider_message_id},
    ).fetchone()


def remember_visitor(conn, channel_id: int, visitor_id: str, *, name: str | None, email: str | None) -> dict:
    """The visitor's identity, created if needed, with the name and email they gave.

    A name fills a contact that has none (ensure_identity does it). An email held by another live
    contact joins the visitor to that contact (with their conversations); a
    free email is recorded on a contact that has none. An email never
    overwrites a different one already on the contact.
    """
    identity = contacts.ensure_identity(conn, channel_id, visitor_id, profile_name=name, email=email)
    if email:
        identity = _claim_email(conn, identity, email)
    return identity


def _claim_email(conn, identity: dict, email: str) -> dict:
    contact = conn.execute("SELECT id, email FROM contacts WHERE id = %(id)s",
                           {"id": identity["contact_id"]}).fetchone()
    if contact["email"] and contact["email"].lower() == email.lower():
        return identity
    holder = _live_contact_with_email(conn, email)
    if holder is None and contact["email"] is None:
        try:
            with conn.transaction():  # a savepoint: another request may take the email first
                conn.execute("UPDATE contacts SET email = %(email)s, updated_at = now() WHERE id = %(id)s",
                             {"id": contact["id"], "email": email})
            return identity
        except UniqueViolation:
            holder = _live_contact_with_email(conn, email)
    if holder is None or holder == contact["id"]:
        return identity  # the contact already has another email: keep it
    return _move_identity(conn, identity, holder)


def _live_contact_with_email(conn, email: str) -> int | None:
    row = conn.execute(
        "SELECT id FROM contacts WHERE lower(email) = lower(%(email)s) AND merged_into_id IS NULL",
        {"email": email},
    ).fetchone()
    return row["id"] if row else None


def _move_identity(conn, identity: dict, contact_id: int) -> dict:
    """Join the identity, its conversations and their tickets to another contact; the
    contact it leaves, if nothing else is left on it, is marked merged."""
    params = {"identity_id": identity["id"], "old": identity["contact_id"], "new": contact_id}
    conn.execute("UPDATE contact_identities SET contact_id = %(new)s WHERE id = %(identity_id)s", params)
    conn.execute(
        """
        WITH moved AS (
            UPDATE conversations SET contact_id = %(new)s, updated_at = now()
             WHERE identity_id = %(identity_id)s
            RETURNING id
        )
        UPDATE tickets SET contact_id = %(new)s, updated_at = now()
         WHERE conversation_id IN (SELECT id FROM moved)
        """,
        params,
    )
    conn.execute(
        """
        UPDATE contacts SET merged_into_id = %(new)s, updated_at = now()
         WHERE id = %(old)s
           AND NOT EXISTS (SELECT 1 FROM contact_identities WHERE contact_id = %(old)s)
           AND NOT EXISTS (SELECT 1 FROM conversations WHERE contact_id = %(old)s)
        """,
        params,
    )
    # Agents can see that this join rests on an email typed into the widget.
    events.record_event(conn, "contact.joined_by_email", conversation_id=current_conversation_id(conn, identity["id"]),
                        detail={"identity_id": identity["id"], "from_contact_id": identity["contact_id"],
                                "to_contact_id": contact_id, "source": "widget"})
    return {"id": identity["id"], "contact_id": contact_id}
