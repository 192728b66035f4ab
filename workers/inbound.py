"""process_inbound(message_id): the conversation state machine for one customer message.

1. Under the conversation's row lock: skip what is processed; a conversation
   with a person only records the message (and, for a ticket, an email the
   customer gave). Otherwise ask the trigger engine whether a person should
   take over before the bot answers (an explicit request, an urgent
   topic...); on offline_or_missed channels a person answers first whenever
   the team is open and someone is online.
2. Outside any transaction: the responder answers (an LLM may take seconds;
   no lock or connection is held meanwhile).
3. Under the lock again, since a person may have replied meanwhile: the
   confidence triggers decide between sending the answer and escalating.

Idempotent: a message is answered once (processed_at, and the unique bot
reply per inbound message), however often its job runs.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timezone

from channels.registry import capabilities
from gateway.bot.details import extract_details, merge_details
from gateway.bot.settings import load_bot_settings
from gateway.bot.text import conversation_language
from gateway.bot.triggers import (
    TALK_TO_AGENT,
    ConversationState,
    Decision,
    TriggerConfig,
    Turn,
    confirms_solved,
    conversation_state,
    evaluate_message,
    humans_first,
    judge_reply,
)
from gateway.conversations.state import bot_may_answer, people_first
from gateway.db import transaction
from gateway.effects import Effects
from gateway.events import emit
from gateway.handoff import wording
from gateway.handoff.escalate import escalate_conversation, team_available
from gateway.store import conversations, kb, messages, tickets
from workers import context
from workers.brain import Reply, Responder, responder_for
from workers.brain.judge import second_opinion
from workers.brain.kb import small_talk_reply

log = logging.getLogger(__name__)


def process_inbound(message_id: int) -> str:
    """Process the message, after any earlier one of its conversation still
    unprocessed: with several workers, the jobs of one conversation's
    messages may start in any order, and the customer is answered in the
    order they wrote."""
    ctx = context.current()
    with ctx.pool.connection() as conn:
        earlier = messages.unprocessed_before(conn, message_id)
    for earlier_id in earlier:
        log.info("message %s: processing earlier message %s of its conversation first", message_id, earlier_id)
        process_message(earlier_id)
    return process_message(message_id)


def process_message(message_id: int) -> str:
    ctx = context.current()
    now = datetime.now(timezone.utc)
    with transaction(ctx.pool) as conn:
        loaded = lock_unprocessed(conn, message_id)
        if isinstance(loaded, str):
            return loaded
        message, conversation = loaded
        effects = Effects(conversation["id"])
        if not message["metadata"].get("reopened_for_bot"):
            emit(conn, effects, "message.created", conversation_id=message["conversation_id"], message_id=message["id"],
                 data={"message_id": message["id"], "conversation_id": message["conversation_id"],
                       "sender": "customer", "text": message["text"], "attachments": message["attachments"],
                       "created_at": message["created_at"]})
        details = extract_details(message["text"])
        email_noted = conversation["status"] == "ticket" and note_reply_email(conn, conversation, details, effects)
        outcome = None
        if not bot_may_answer(conversation) or email_noted:
            outcome = "human"
        else:
            settings = load_bot_settings(conn)
            trigger_config = TriggerConfig.from_settings(settings)
            known = conversations.brain_context(conn, conversation["id"], message_id)
            turn = Turn(text=message["text"], payload=message["payload"])
            spoken = conversation_language([*known["previous_customer_texts"], turn.text])
            state = conversation_state(conversation, known)
            before = evaluate_message(state, turn, trigger_config)
            if not before.escalate and wants_humans_first(conn, conversation, state, turn, trigger_config, now):
                before = humans_first(state, turn, trigger_config)
            if before.escalate:
                outcome = "escalated"
            else:
                articles = kb.list_articles(conn)
        if outcome is not None:  # no answer from the bot: done in this transaction
            # The details first: the handoff packet includes them.
            conversations.record_bot_turn(conn, conversation["id"],
                                          low_confidence_streak=conversation["low_confidence_streak"],
                                          collected=merge_details(conversation["collected"], details))
            if outcome == "escalated":
                effects.merge(escalate_conversation(conn, conversation, before, message_id, settings=settings,
                                                    ai_provider=ctx.config.ai_provider, now=now, language=spoken))
            messages.mark_processed(conn, message_id)
    if outcome is not None:
        effects.apply(ctx.redis, ctx.config)
        log.info("message %s: %s", message_id, "escalated" if outcome == "escalated" else
                 f"conversation {conversation['id']} is with a person ({conversation['status']}); the bot is silent")
        return outcome

    provider = settings["provider"] or ctx.config.ai_provider
    responder = responder_for(replace(ctx.config, ai_provider=provider))
    reply = bot_answer(responder, known["history"], turn.text, articles)
    judgment = second_opinion(responder, known["history"], state, turn, reply, trigger_config)

    with transaction(ctx.pool) as conn:
        loaded = lock_unprocessed(conn, message_id)
        if isinstance(loaded, str):
            return loaded
        message, conversation = loaded
        if not bot_may_answer(conversation):  # a person took over while the bot was thinking
            messages.mark_processed(conn, message_id)
            effects.apply(ctx.redis, ctx.config)
            return "human"
        after = judge_reply(conversation_state(conversation, known), turn, reply, trigger_config, judgment)
        # Merged into the row as it is now: another message's job may have added details meanwhile.
        conversations.record_bot_turn(conn, conversation["id"], low_confidence_streak=after.low_confidence_streak,
                                      collected=merge_details(conversation["collected"], details))
        waiting = conversation["status"] != "bot"  # the bot helps a customer waiting for a person
        if after.escalate:
            effects.merge(escalate_conversation(conn, conversation, after, message_id, settings=settings,
                                                ai_provider=ctx.config.ai_provider, now=now, language=spoken))
            outcome = "escalated"
        elif waiting and not sure_enough(reply, settings):
            outcome = "left to a person"  # "not sure, want a person?" would only repeat what they wait for
        else:
            offer = before if before.offer_human else after
            _store_bot_answer(conn, conversation, message_id, reply, offer, known, settings, effects,
                              waiting=waiting, language=spoken)
            outcome = "answered"
        messages.mark_processed(conn, message_id)
    effects.apply(ctx.redis, ctx.config)
    log.info("message %s: %s (confidence %.2f%s)", message_id, outcome, reply.confidence,
             ", responder failed" if reply.failed else "")
    return outcome


def sure_enough(reply: Reply, settings: dict) -> bool:
    """An answer worth sending to a customer who waits for a person anyway."""
    return not reply.failed and not reply.detail.get("small_talk") \
        and reply.confidence >= settings["confidence_threshold"]


def answer_waiting(conversation_id: int) -> str:
    """The bot now helps a customer who waits for a person (a missed chat, a
    ticket): it answers their latest message, if it has not yet."""
    with transaction(context.current().pool) as conn:
        message_id = messages.reopen_unanswered_for_bot(conn, conversation_id)
    if message_id is None:
        return "nothing to answer"
    return process_message(message_id)


def wants_humans_first(conn, conversation: dict, state: ConversationState, turn: Turn, config: TriggerConfig,
                       now: datetime) -> bool:
    """offline_or_missed channels: a new conversation goes to a person when
    its team is open and someone is online; otherwise the bot answers."""
    return people_first(conversation) and team_available(conn, humans_first(state, turn, config).team, now)


def note_reply_email(conn, conversation: dict, details: dict, effects: Effects) -> bool:
    """A customer waiting on a ticket gave an email address (the web widget
    asks for one): the answer goes there too. Whether it was noted."""
    emails = details.get("emails") or []
    ticket = tickets.ticket_of_conversation(conn, conversation["id"])
    if not emails or ticket is None or ticket["status"] == "closed" or ticket["email"]:
        return False
    tickets.set_ticket_email(conn, conversation["id"], emails[-1])
    effects.send(messages.insert_outbound(
        conn, conversation_id=conversation["id"], channel_id=conversation["channel_id"], sender="system",
        text=wording.ticket_email_noted(ticket["number"], emails[-1], wording.language_of(conversation)),
        metadata={"ticket": ticket["number"], "email_noted": True},
    ))
    return True


def lock_unprocessed(conn, message_id: int) -> tuple[dict, dict] | str:
    """(message, conversation) with the conversation locked, or why there is nothing to do."""
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
    return message, conversation


def bot_answer(responder: Responder, history: list[dict], text: str, articles: list[dict]) -> Reply:
    """The responder's answer, except to a customer confirming an answer solved
    their question ("thanks, that worked"): there is no question to answer, so
    a thanks that the confidence triggers count neither way."""
    if confirms_solved(text):
        return small_talk_reply(text, "thanks")
    return responder.answer(history, text, articles)


def _store_bot_answer(conn, conversation: dict, message_id: int, reply: Reply, offer: Decision, known: dict,
                      settings: dict, effects: Effects, *, waiting: bool, language: str | None) -> None:
    """The bot's answer, greeting the customer on its first one and offering a
    person the way the channel allows (a quick reply, a button, a hint) —
    except to a customer already waiting for a person (`waiting`). The
    built-in greeting, hint and button title are in the customer's
    `language` where wording has it."""
    kind = known["channel_kind"]
    first_answer = known["bot_answer_count"] == 0 and not waiting
    text = reply.text
    if first_answer:
        greeting = wording.built_in(settings["greeting"][kind] or settings["greeting"]["default"], "greeting",
                                    language)
        text = f"{greeting}\n\n{text}"
    offer_human = (offer.offer_human or first_answer) and not waiting  # the option comes with the greeting
    if offer_human and not capabilities(kind).quick_replies:  # say how to ask instead (WhatsApp)
        text = f"{text}\n\n{wording.built_in(settings['talk_to_agent']['whatsapp_hint'], 'whatsapp_hint', language)}"
    # offered_human records a trigger's offer (what "yes please" and a second
    # frustrated message answer), not the standing option on the first answer.
    metadata = {"sources": list(reply.sources), "offered_human": offer.offer_human}
    if offer_human:
        metadata["quick_replies"] = [{"title": wording.built_in(settings["talk_to_agent"]["label"], "talk_to_agent",
                                                                language), "payload": TALK_TO_AGENT}]
    if reply.failed:
        metadata["responder_error"] = reply.detail.get("error")
    if offer.offer_human:
        emit(conn, effects, "trigger.offered_human", conversation_id=conversation["id"], message_id=message_id,
             detail=offer.event_detail())
    answer_id = messages.insert_outbound(
        conn, conversation_id=conversation["id"], channel_id=conversation["channel_id"], sender="bot",
        text=text, reply_to_id=message_id, bot_confidence=reply.confidence, metadata=metadata,
    )
    if answer_id is not None:  # None: another run of this job answered it already
        effects.send(answer_id)
        emit(conn, effects, "message.created", conversation_id=conversation["id"], message_id=answer_id,
             data={"message_id": answer_id, "conversation_id": conversation["id"], "sender": "bot", "text": text,
                   "confidence": reply.confidence, "reply_to_id": message_id})
