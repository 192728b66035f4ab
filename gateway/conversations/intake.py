"""Store what a channel delivered.

Shared by every webhook and the widget API: a message lands on its contact,
identity and open conversation; a provider retry of the same message is
recognized and stores nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from channels.base import InboundMessage, StatusUpdate, Watermark
from channels.templates import explain_error, failure_message
from gateway.events import emit
from gateway.store import contacts, conversations, messages
from gateway.store.channels import ChannelRow


@dataclass(frozen=True)
class StoredMessage:
    message_id: int
    conversation_id: int


def store_inbound_message(conn, channel: ChannelRow, message: InboundMessage) -> StoredMessage | None:
    """The stored message, or None when it is a duplicate delivery.

    Atomic on its own: a known sender's message is one statement, and the
    creation of a new sender and conversation runs in a (nested) transaction,
    so callers need a transaction only to group several messages.
    """
    fields = {
        "channel_id": channel.id, "sender_address": message.sender_address,
        "profile_name": message.profile_name, "provider_message_id": message.provider_message_id,
        "text": message.text, "attachments": [a.as_dict() for a in message.attachments],
        "payload": message.payload, "metadata": dict(message.metadata),
    }
    stored = messages.insert_inbound(conn, **fields)
    if stored["message_id"] is None and not stored["duplicate"]:
        # A new sender, or no open conversation: create them, then store.
        with conn.transaction():
            identity = contacts.ensure_identity(
                conn, channel.id, message.sender_address,
                profile_name=message.profile_name, phone=message.phone, email=message.email,
            )
            conversations.open_conversation_for(
                conn, channel_id=channel.id, contact_id=identity["contact_id"], identity_id=identity["id"],
                mode=channel.mode, team_id=channel.team_id,
            )
            stored = messages.insert_inbound(conn, **fields)
    if stored["duplicate"]:
        return None
    return StoredMessage(message_id=stored["message_id"], conversation_id=stored["conversation_id"])


def apply_status_update(conn, channel: ChannelRow, update: StatusUpdate) -> dict | None:
    """Record a delivery status; a failure becomes an event the inbox shows."""
    found = messages.apply_status(
        conn, channel_id=channel.id, provider_message_id=update.provider_message_id, status=update.status,
        error_code=update.error_code, error_message=failure_message(update.error_code, update.error_message),
    )
    if found and found["changed"] and update.status in ("failed", "undelivered"):
        message = messages.get_message(conn, found["id"])
        # 63016 and co. say what the agent should do (send a template), not only what went wrong.
        emit(conn, None, "message.failed", conversation_id=message["conversation_id"], message_id=message["id"],
             detail={"status": update.status, "error_code": update.error_code,
                     "error_message": update.error_message, "explanation": explain_error(update.error_code)})
    return found


def apply_watermark(conn, channel: ChannelRow, mark: Watermark) -> int | None:
    """Record a Messenger delivery/read watermark; returns the conversation id."""
    identity = contacts.touch_identity(conn, channel.id, mark.sender_address, None)
    if identity is None:
        return None
    conversation_id = conversations.record_watermark(conn, identity["id"], mark.kind, mark.watermark)
    if conversation_id is not None:
        messages.apply_watermark(conn, conversation_id=conversation_id, kind=mark.kind, watermark_ms=mark.watermark)
    return conversation_id
