"""process_inbound(message_id): the conversation state machine for one customer message.

Serialized per conversation by a row lock on the conversation, and
idempotent: a message is answered once (processed_at, and the unique bot
reply per inbound message), however often its job runs.
"""

from __future__ import annotations

import logging

from gateway import jobs, live
from gateway.db import transaction
from gateway.store import conversations, kb, messages
from workers import context
from workers.brain.kb import KnowledgeBase

log = logging.getLogger(__name__)


def process_inbound(message_id: int) -> str:
    ctx = context.current()
    reply_id = None
    with transaction(ctx.pool) as conn:
        message = messages.get_message(conn, message_id)
        if message is None or message["direction"] != "inbound":
            log.warning("inbound message %s not found; nothing to do", message_id)
            return "missing"
        conversation = conversations.lock_conversation(conn, message["conversation_id"])
        # Re-read under the lock: another job may have just answered it.
        message = messages.get_message(conn, message_id)
        if message["processed_at"] is not None:
            log.info("message %s already processed", message_id)
            return "already processed"
        if conversation["status"] != "bot":
            messages.mark_processed(conn, message_id)
            log.info("message %s: conversation %s is with a human (%s); bot stays silent",
                     message_id, conversation["id"], conversation["status"])
            return "human"
        reply = KnowledgeBase(kb.list_articles(conn)).answer(message["text"])
        reply_id = messages.insert_outbound(
            conn, conversation_id=conversation["id"], channel_id=message["channel_id"], sender="bot",
            text=reply.text, reply_to_id=message_id, bot_confidence=reply.confidence,
            metadata={"sources": list(reply.sources)},
        )
        messages.mark_processed(conn, message_id)
    log.info("message %s answered by message %s (confidence %.2f)", message_id, reply_id, reply.confidence)
    if reply_id is not None:
        jobs.enqueue_send(ctx.redis, reply_id)
        live.publish(ctx.redis, "message.created", conversation["id"], message_id=reply_id)
    return "answered"
