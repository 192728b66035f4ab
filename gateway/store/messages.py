"""messages: every message of every conversation, in and out.

Columns: id, conversation_id, channel_id, direction, sender (customer | bot |
agent | system), agent_id, text, attachments, payload, provider_message_id
(unique per channel: provider retries never duplicate), status, error_code,
error_message, attempts, next_attempt_at (for outbound: when to retry, or when
a claimed send is presumed lost), bot_confidence, private, reply_to_id (one
bot reply per inbound message), processed_at, metadata, timestamps.
Status only moves forward: see message_status_rank() in 0001_init.sql.
"""

from __future__ import annotations

from psycopg.types.json import Jsonb

# How long a send may take before the sweeper presumes the worker died: twice
# the send job's timeout (queues.SEND_JOB_TIMEOUT), after which RQ has killed it.
SEND_LEASE = "2 minutes"

PUBLIC_COLUMNS = """id, conversation_id, direction, sender, agent_id, text, attachments, payload,
    status, error_code, private, bot_confidence, created_at"""


def insert_inbound(conn, *, channel_id: int, sender_address: str, profile_name: str | None,
                   provider_message_id: str, text: str, attachments: list, payload: str | None,
                   metadata: dict) -> dict:
    """Store a customer's message on the open conversation of a known sender,
    in one statement (this is the webhook's hot path).

    Returns {"duplicate", "message_id", "conversation_id"}: duplicate when this
    provider id was stored already (nothing is changed then); message_id None
    when the sender or their open conversation does not exist yet, so the
    caller creates them and calls again.
    """
    row = conn.execute(
        """
        WITH duplicate AS (
            SELECT 1 FROM messages WHERE channel_id = %(channel_id)s AND provider_message_id = %(pid)s
        ), identity AS (
            UPDATE contact_identities
               SET last_seen_at = now(), profile_name = coalesce(%(profile_name)s, profile_name)
             WHERE channel_id = %(channel_id)s AND address = %(address)s AND NOT EXISTS (SELECT 1 FROM duplicate)
            RETURNING id, contact_id
        ), named AS (
            -- A contact first seen without a name takes the first one offered.
            UPDATE contacts c SET name = %(profile_name)s, updated_at = now()
              FROM identity
             WHERE c.id = identity.contact_id AND c.name IS NULL AND %(profile_name)s::text IS NOT NULL
        ), conversation AS (
            UPDATE conversations cv
               SET last_message_at = now(), last_customer_message_at = now(), updated_at = now()
              FROM identity
             WHERE cv.identity_id = identity.id AND cv.status <> 'resolved'
            RETURNING cv.id
        ), inserted AS (
            INSERT INTO messages (conversation_id, channel_id, direction, sender, text, attachments, payload,
                                  provider_message_id, status, metadata)
            SELECT conversation.id, %(channel_id)s, 'inbound', 'customer', %(text)s, %(attachments)s,
                   %(payload)s, %(pid)s, 'received', %(metadata)s
              FROM conversation
            ON CONFLICT (channel_id, provider_message_id) WHERE provider_message_id IS NOT NULL DO NOTHING
            RETURNING id, conversation_id
        )
        SELECT EXISTS (SELECT 1 FROM duplicate) AS duplicate,
               (SELECT id FROM inserted) AS message_id,
               (SELECT id FROM conversation) AS conversation_id
        """,
        {"channel_id": channel_id, "address": sender_address, "profile_name": profile_name,
         "pid": provider_message_id, "text": text, "attachments": Jsonb(attachments), "payload": payload,
         "metadata": Jsonb(metadata)},
    ).fetchone()
    if row["conversation_id"] is not None and row["message_id"] is None:
        row["duplicate"] = True  # a concurrent retry of the same message won the insert
    return row


def insert_outbound(conn, *, conversation_id: int, channel_id: int, sender: str, text: str,
                    reply_to_id: int | None = None, bot_confidence: float | None = None,
                    agent_id: int | None = None, metadata: dict | None = None) -> int | None:
    """Queue a message for sending (status pending). For a bot reply, None if
    that inbound message already has its reply."""
    row = conn.execute(
        """
        INSERT INTO messages (conversation_id, channel_id, direction, sender, agent_id, text, status,
                              reply_to_id, bot_confidence, metadata)
        VALUES (%(conversation_id)s, %(channel_id)s, 'outbound', %(sender)s, %(agent_id)s, %(text)s, 'pending',
                %(reply_to_id)s, %(bot_confidence)s, %(metadata)s)
        ON CONFLICT (reply_to_id) WHERE sender = 'bot' DO NOTHING
        RETURNING id
        """,
        {"conversation_id": conversation_id, "channel_id": channel_id, "sender": sender, "agent_id": agent_id,
         "text": text, "reply_to_id": reply_to_id, "bot_confidence": bot_confidence,
         "metadata": Jsonb(metadata or {})},
    ).fetchone()
    return row["id"] if row else None


def get_message(conn, message_id: int) -> dict | None:
    return conn.execute("SELECT * FROM messages WHERE id = %(id)s", {"id": message_id}).fetchone()


def mark_processed(conn, message_id: int) -> None:
    conn.execute("UPDATE messages SET processed_at = now() WHERE id = %(id)s", {"id": message_id})


def claim_for_sending(conn, message_id: int) -> dict | None:
    """Take the message for one send attempt, with what sending needs.

    None if it is not due: already sent or failed, another worker holds a
    live claim, or an earlier message of the conversation is still unsent
    (messages reach the customer in order: that one's send enqueues this
    one when it is done, see next_unsent). A claim left by a dead worker
    expires after SEND_LEASE.
    """
    return conn.execute(
        f"""
        UPDATE messages m
           SET status = 'sending', attempts = attempts + 1, next_attempt_at = now() + interval '{SEND_LEASE}'
          FROM conversations cv, contact_identities i
         WHERE m.id = %(id)s AND cv.id = m.conversation_id AND i.id = cv.identity_id
           AND m.direction = 'outbound'
           AND (m.status = 'pending'
                -- A retry is due at next_attempt_at; the slack absorbs clock skew
                -- between the RQ scheduler's host and the database.
                OR (m.status = 'retrying' AND m.next_attempt_at <= now() + interval '2 seconds')
                OR (m.status = 'sending' AND m.next_attempt_at < now()))
           AND NOT EXISTS (SELECT 1 FROM messages e
                            WHERE e.conversation_id = m.conversation_id AND e.direction = 'outbound'
                              AND e.id < m.id AND e.status IN ('pending', 'retrying', 'sending'))
        RETURNING m.*, i.address AS recipient_address, cv.last_customer_message_at
        """,
        {"id": message_id},
    ).fetchone()


def next_unsent(conn, conversation_id: int) -> int | None:
    """The conversation's earliest outbound message still to send, if any."""
    row = conn.execute(
        "SELECT id FROM messages WHERE conversation_id = %(id)s AND direction = 'outbound' "
        "AND status IN ('pending', 'retrying', 'sending') ORDER BY id LIMIT 1", {"id": conversation_id},
    ).fetchone()
    return row["id"] if row else None


def unprocessed_before(conn, message_id: int, limit: int = 50) -> list[int]:
    """The inbound messages of this message's conversation that came before it
    and are not processed yet, oldest first."""
    rows = conn.execute(
        """
        SELECT e.id FROM messages m JOIN messages e ON e.conversation_id = m.conversation_id
         WHERE m.id = %(id)s AND e.direction = 'inbound' AND e.processed_at IS NULL AND e.id < m.id
         ORDER BY e.id LIMIT %(limit)s
        """,
        {"id": message_id, "limit": limit},
    ).fetchall()
    return [row["id"] for row in rows]


def mark_sent(conn, message_id: int, provider_message_id: str, status: str) -> dict:
    """Record the provider's id, and any receipt that arrived before it.

    Returns the message's resulting status, error_code, error_message and
    conversation_id: an early receipt may already have moved it on (delivered,
    read) or failed it. A status message_status_rank() does not know counts
    as queued: the provider has the message.
    """
    return conn.execute(
        """
        WITH early AS (
            DELETE FROM early_receipts r USING messages m
             WHERE m.id = %(id)s AND r.channel_id = m.channel_id AND r.provider_message_id = %(pid)s
            RETURNING r.status, r.error_code, r.error_message
        ), best AS (
            SELECT s.status, s.error_code, s.error_message FROM (
                SELECT status, error_code, error_message FROM early
                 WHERE message_status_rank(status) IS NOT NULL
                UNION ALL SELECT CASE WHEN message_status_rank(%(status)s) IS NULL THEN 'queued'
                                      ELSE %(status)s END, NULL, NULL
            ) s ORDER BY message_status_rank(s.status) DESC LIMIT 1
        )
        UPDATE messages m
           SET provider_message_id = %(pid)s, status = best.status, error_code = best.error_code,
               error_message = best.error_message, next_attempt_at = NULL, sent_at = now(),
               delivered_at = CASE WHEN best.status IN ('delivered', 'read') THEN coalesce(m.delivered_at, now())
                                   ELSE m.delivered_at END,
               read_at = CASE WHEN best.status = 'read' THEN coalesce(m.read_at, now()) ELSE m.read_at END
          FROM best
         WHERE m.id = %(id)s
        RETURNING m.status, m.error_code, m.error_message, m.conversation_id
        """,
        {"id": message_id, "pid": provider_message_id, "status": status},
    ).fetchone()


def mark_retrying(conn, message_id: int, error: str, code: str | None, delay_seconds: float) -> None:
    conn.execute(
        """
        UPDATE messages SET status = 'retrying', error_code = %(code)s, error_message = %(error)s,
               next_attempt_at = now() + make_interval(secs => %(delay)s)
         WHERE id = %(id)s
        """,
        {"id": message_id, "error": error, "code": code, "delay": delay_seconds},
    )


def mark_failed(conn, message_id: int, error: str, code: str | None, *, for_auth: bool = False) -> None:
    """Failed for good; `for_auth`: the provider refused the channel's
    credentials, and the message is sent again when they are fixed."""
    conn.execute(
        """
        UPDATE messages SET status = 'failed', error_code = %(code)s, error_message = %(error)s,
               next_attempt_at = NULL, failed_for_auth = %(for_auth)s
         WHERE id = %(id)s
        """,
        {"id": message_id, "error": error, "code": code, "for_auth": for_auth},
    )


def requeue_auth_failures(conn, channel_id: int, within_hours: int = 72) -> list[int]:
    """The channel's messages that failed for authentication (in the last
    `within_hours`: older ones are stale news), pending again; their ids, to
    enqueue after commit. The messaging window is checked again at send time."""
    rows = conn.execute(
        """
        UPDATE messages SET status = 'pending', failed_for_auth = false, error_code = NULL, error_message = NULL,
               attempts = 0, next_attempt_at = NULL
         WHERE channel_id = %(channel_id)s AND failed_for_auth AND status = 'failed'
           AND created_at > now() - make_interval(hours => %(hours)s)
        RETURNING id
        """,
        {"channel_id": channel_id, "hours": within_hours},
    ).fetchall()
    return sorted(row["id"] for row in rows)


def apply_status(conn, *, channel_id: int, provider_message_id: str, status: str,
                 error_code: str | None = None, error_message: str | None = None) -> dict | None:
    """Move a message forward to `status` (never backwards).

    Returns the message if it exists (changed or not); None if the provider id
    is unknown, in which case the receipt is kept in early_receipts and
    applied when the send records its id. A status message_status_rank() does
    not know (Twilio adds values) changes nothing and is not kept.
    """
    params = {"channel_id": channel_id, "pid": provider_message_id, "status": status,
              "error_code": error_code, "error_message": error_message}
    row = conn.execute(
        """
        WITH target AS (
            SELECT id, status AS old_status FROM messages
             WHERE channel_id = %(channel_id)s AND provider_message_id = %(pid)s
        ), moved AS (
            UPDATE messages m
               SET status = %(status)s,
                   error_code = coalesce(%(error_code)s, m.error_code),
                   error_message = coalesce(%(error_message)s, m.error_message),
                   delivered_at = CASE WHEN %(status)s IN ('delivered', 'read') THEN coalesce(m.delivered_at, now()) ELSE m.delivered_at END,
                   read_at = CASE WHEN %(status)s = 'read' THEN coalesce(m.read_at, now()) ELSE m.read_at END
              FROM target
             WHERE m.id = target.id AND message_status_rank(%(status)s) > message_status_rank(m.status)
            RETURNING m.id
        )
        SELECT target.id, target.old_status, (SELECT count(*) FROM moved) > 0 AS changed FROM target
        """,
        params,
    ).fetchone()
    if row is None:
        conn.execute(
            """
            INSERT INTO early_receipts (channel_id, provider_message_id, status, error_code, error_message)
            SELECT %(channel_id)s, %(pid)s, %(status)s, %(error_code)s, %(error_message)s
             WHERE message_status_rank(%(status)s) IS NOT NULL  -- a status we do not track is dropped
            ON CONFLICT (channel_id, provider_message_id) DO UPDATE
               SET status = EXCLUDED.status, error_code = EXCLUDED.error_code, error_message = EXCLUDED.error_message
             WHERE message_status_rank(EXCLUDED.status) > message_status_rank(early_receipts.status)
            """,
            params,
        )
    return row


# How long a Send API call may have taken: see apply_watermark.
WATERMARK_SEND_GRACE = "10 seconds"


def apply_watermark(conn, *, conversation_id: int, kind: str, watermark_ms: int) -> list[int]:
    """Mark our messages sent up to the watermark as delivered or read (Messenger).

    The watermark is a Meta timestamp: every message Meta stamped at or before
    it was delivered/read, and a read watermark is typically the stamp of the
    last message the customer saw. Meta stamps our message while the Send API
    call is in flight, so between our created_at and our sent_at (recorded
    after Graph answered). A message counts as covered when it was created by
    the watermark and sent within WATERMARK_SEND_GRACE of it: comparing sent_at
    alone would never mark the very message the customer just read.
    """
    rows = conn.execute(
        f"""
        UPDATE messages
           SET status = %(kind)s,
               delivered_at = coalesce(delivered_at, now()),
               read_at = CASE WHEN %(kind)s = 'read' THEN coalesce(read_at, now()) ELSE read_at END
         WHERE conversation_id = %(conversation_id)s AND direction = 'outbound'
           AND sent_at IS NOT NULL
           AND created_at <= to_timestamp(%(watermark)s / 1000.0)
           AND sent_at <= to_timestamp(%(watermark)s / 1000.0) + interval '{WATERMARK_SEND_GRACE}'
           AND message_status_rank(%(kind)s) > message_status_rank(status)
        RETURNING id
        """,
        {"conversation_id": conversation_id, "kind": kind, "watermark": watermark_ms},
    ).fetchall()
    return [r["id"] for r in rows]


def transcript(conn, conversation_id: int, *, include_private: bool, after_id: int = 0, limit: int = 200) -> list[dict]:
    return conn.execute(
        f"""
        SELECT {PUBLIC_COLUMNS} FROM messages
         WHERE conversation_id = %(conversation_id)s AND id > %(after_id)s
           AND (%(include_private)s OR NOT private)
         ORDER BY id LIMIT %(limit)s
        """,
        {"conversation_id": conversation_id, "after_id": after_id, "include_private": include_private,
         "limit": limit},
    ).fetchall()



def unprocessed_inbound(conn, older_than_seconds: int, limit: int = 500) -> list[int]:
    rows = conn.execute(
        """
        SELECT id FROM messages
         WHERE direction = 'inbound' AND processed_at IS NULL
           AND created_at < now() - make_interval(secs => %(age)s)
         ORDER BY id LIMIT %(limit)s
        """,
        {"age": older_than_seconds, "limit": limit},
    ).fetchall()
    return [r["id"] for r in rows]


def due_outbound(conn, older_than_seconds: int, limit: int = 500) -> list[int]:
    """Outbound messages whose send job was lost: pending for a while, a retry
    that is overdue, or a claim whose lease expired."""
    rows = conn.execute(
        """
        SELECT id FROM messages
         WHERE status IN ('pending', 'retrying', 'sending')
           AND CASE status
                 WHEN 'pending' THEN created_at < now() - make_interval(secs => %(age)s)
                 ELSE next_attempt_at < now() - make_interval(secs => %(age)s)
               END
         ORDER BY id LIMIT %(limit)s
        """,
        {"age": older_than_seconds, "limit": limit},
    ).fetchall()
    return [r["id"] for r in rows]


# A receipt whose message never shows up (a message sent from the same number
# outside Handoff) would otherwise be kept forever.
EARLY_RECEIPT_LIFETIME = "1 day"


def forget_stale_early_receipts(conn) -> int:
    return conn.execute(
        f"DELETE FROM early_receipts WHERE received_at < now() - interval '{EARLY_RECEIPT_LIFETIME}'"
    ).rowcount


def reopen_unanswered_for_bot(conn, conversation_id: int) -> int | None:
    """The customer's latest message, if the bot has not answered it, made
    unprocessed again (and marked so: it is not a new message) so that the
    bot answers it now that it helps a waiting customer; its id, or None."""
    row = conn.execute(
        """
        UPDATE messages m SET processed_at = NULL, metadata = m.metadata || '{"reopened_for_bot": true}'
         WHERE m.id = (SELECT max(id) FROM messages WHERE conversation_id = %(id)s AND sender = 'customer')
           AND NOT EXISTS (SELECT 1 FROM messages r WHERE r.reply_to_id = m.id AND r.sender = 'bot')
        RETURNING m.id
        """,
        {"id": conversation_id},
    ).fetchone()
    return row["id"] if row else None


def insert_private_note(conn, *, conversation_id: int, channel_id: int, agent_id: int, text: str,
                        transfer_to: str | None = None) -> int:
    """An agent's note for colleagues, never sent to the customer (transfer_to:
    the team a transfer with this note went to). Its status is final ('sent')
    and it has no provider id, so neither the send job nor the sweeper
    (pending/retrying/sending) nor a receipt ever touches it."""
    return conn.execute(
        """
        INSERT INTO messages (conversation_id, channel_id, direction, sender, agent_id, text, status, private,
                              metadata)
        VALUES (%(conversation_id)s, %(channel_id)s, 'outbound', 'agent', %(agent_id)s, %(text)s, 'sent', true,
                %(metadata)s)
        RETURNING id
        """,
        {"conversation_id": conversation_id, "channel_id": channel_id, "agent_id": agent_id, "text": text,
         "metadata": Jsonb({"transfer_to": transfer_to} if transfer_to else {})},
    ).fetchone()["id"]


def agent_view(conn, message_id: int) -> dict | None:
    """A message as the agent API shows it, with its agent's name."""
    return conn.execute(
        """
        SELECT m.id, m.conversation_id, m.direction, m.sender, m.agent_id, a.name AS agent_name, m.text,
               m.status, m.private, m.metadata, m.created_at
          FROM messages m LEFT JOIN agents a ON a.id = m.agent_id WHERE m.id = %(id)s
        """,
        {"id": message_id},
    ).fetchone()


def agent_announced(conn, conversation_id: int, agent_id: int) -> bool:
    """Whether the customer was told this agent joined ("Maya from Billing joined")."""
    return conn.execute(
        "SELECT 1 FROM messages WHERE conversation_id = %(id)s AND sender = 'system' "
        "AND (metadata->>'agent_joined')::bigint = %(agent)s LIMIT 1",
        {"id": conversation_id, "agent": agent_id},
    ).fetchone() is not None


def first_customer_text(conn, conversation_id: int, *, min_length: int) -> str | None:
    """The customer's first message of at least min_length characters (else
    their latest): what a conversation is about, for a ticket's subject."""
    row = conn.execute(
        """
        SELECT text FROM messages
         WHERE conversation_id = %(id)s AND sender = 'customer'
         ORDER BY length(text) >= %(min)s DESC, CASE WHEN length(text) >= %(min)s THEN id ELSE -id END
         LIMIT 1
        """,
        {"id": conversation_id, "min": min_length},
    ).fetchone()
    return row["text"] if row else None
