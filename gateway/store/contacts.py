"""contacts and contact_identities: a person, and their address on each channel.

contacts: id, name, email, phone (E.164), vip, attributes, merged_into_id;
unique live phone and unique live lower(email), which is what joins one
person's conversations across channels.
contact_identities: id, contact_id, channel_id, address, profile_name,
last_seen_at; unique (channel_id, address).
"""

from __future__ import annotations


def touch_identity(conn, channel_id: int, address: str, profile_name: str | None) -> dict | None:
    """The known identity at this address (seen now), or None."""
    return conn.execute(
        """
        UPDATE contact_identities
           SET last_seen_at = now(), profile_name = coalesce(%(profile_name)s, profile_name)
         WHERE channel_id = %(channel_id)s AND address = %(address)s
        RETURNING id, contact_id
        """,
        {"channel_id": channel_id, "address": address, "profile_name": profile_name},
    ).fetchone()


def ensure_identity(conn, channel_id: int, address: str, *, profile_name: str | None = None,
                    phone: str | None = None, email: str | None = None) -> dict:
    """The identity at this address, creating it and its contact if needed.

    A new identity joins the live contact with the same phone or email, so one
    person's WhatsApp and web conversations share a contact. Race-safe: two
    first messages from the same person at once end on one contact.
    """
    known = touch_identity(conn, channel_id, address, profile_name)
    if known:
        if profile_name:  # a contact first seen without a name takes the first one offered
            conn.execute(
                "UPDATE contacts SET name = %(name)s, updated_at = now() WHERE id = %(id)s AND name IS NULL",
                {"name": profile_name, "id": known["contact_id"]},
            )
        return known
    contact_id = find_or_create_contact(conn, name=profile_name, phone=phone, email=email)
    return conn.execute(
        """
        INSERT INTO contact_identities (contact_id, channel_id, address, profile_name)
        VALUES (%(contact_id)s, %(channel_id)s, %(address)s, %(profile_name)s)
        ON CONFLICT (channel_id, address) DO UPDATE SET last_seen_at = now()
        RETURNING id, contact_id
        """,
        {"contact_id": contact_id, "channel_id": channel_id, "address": address, "profile_name": profile_name},
    ).fetchone()


def find_or_create_contact(conn, *, name: str | None, phone: str | None, email: str | None) -> int:
    params = {"name": name, "phone": phone, "email": email.strip() if email else None}
    if phone:
        row = conn.execute(
            """
            INSERT INTO contacts (name, phone, email) VALUES (%(name)s, %(phone)s, NULL)
            ON CONFLICT (phone) WHERE phone IS NOT NULL AND merged_into_id IS NULL
            DO UPDATE SET name = coalesce(contacts.name, EXCLUDED.name), updated_at = now()
            RETURNING id
            """,
            params,
        ).fetchone()
    elif params["email"]:
        row = conn.execute(
            """
            INSERT INTO contacts (name, email) VALUES (%(name)s, %(email)s)
            ON CONFLICT (lower(email)) WHERE email IS NOT NULL AND merged_into_id IS NULL
            DO UPDATE SET name = coalesce(contacts.name, EXCLUDED.name), updated_at = now()
            RETURNING id
            """,
            params,
        ).fetchone()
    else:
        row = conn.execute("INSERT INTO contacts (name) VALUES (%(name)s) RETURNING id", params).fetchone()
    return row["id"]


def get_contact(conn, contact_id: int) -> dict | None:
    return conn.execute("SELECT * FROM contacts WHERE id = %(id)s", {"id": contact_id}).fetchone()


def identities_of(conn, contact_id: int) -> list[dict]:
    return conn.execute(
        """
        SELECT i.*, c.kind AS channel_kind, c.name AS channel_name
          FROM contact_identities i JOIN channels c ON c.id = i.channel_id
         WHERE i.contact_id = %(contact_id)s ORDER BY i.id
        """,
        {"contact_id": contact_id},
    ).fetchall()
