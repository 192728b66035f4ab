"""Dry runs of the bot: customer turns of one new, simulated conversation,
through the trigger engine and the configured responder, as process_inbound
would take them; nothing is stored or sent.

`handoff triggers test` runs SimulatedConversation in its own process; the
settings page's dry-run box enqueues dry_run() and waits for its answer (the
web process never imports the responders: a job runs them, where the model
SDKs, keys and timeouts already live), with the settings being edited, not
yet saved.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from gateway.config import ConfigError
from gateway.store import kb
from workers import context

log = logging.getLogger(__name__)


class SimulatedConversation:
    """One conversation's state, evolving turn by turn as process_inbound
    evolves the stored one (where the stored one is in conversation_state())."""

    def __init__(self, state, trigger_config, responder, articles: list[dict]):
        self.state = state
        self.trigger_config = trigger_config
        self.responder = responder
        self.articles = articles
        self.history: list[dict] = []

    def customer_says(self, text: str) -> dict:
        from gateway.bot.triggers import Turn, evaluate_message, judge_reply
        from workers.brain.judge import second_opinion
        from workers.inbound import bot_answer

        turn = Turn(text=text)
        before = evaluate_message(self.state, turn, self.trigger_config)
        if before.escalate:
            return self._escalated(before, text)
        if "not_evaluated" in before.detail:  # escalated on an earlier turn: a person has it now
            return self._not_evaluated(before, text)
        reply = bot_answer(self.responder, list(self.history), text, self.articles)
        judgment = second_opinion(self.responder, list(self.history), self.state, turn, reply, self.trigger_config)
        after = judge_reply(self.state, turn, reply, self.trigger_config, judgment)
        if after.escalate:
            return self._escalated(after, text, confidence=reply.confidence)
        offer = before if before.offer_human else after
        self.history += [{"sender": "customer", "text": text}, {"sender": "bot", "text": reply.text}]
        self.state = replace(self.state, bot_answer_count=self.state.bot_answer_count + 1,
                             low_confidence_streak=after.low_confidence_streak, human_offered=offer.offer_human,
                             previous_texts=self.state.previous_texts + (text,))
        return turn_report(offer, confidence=reply.confidence, reply=reply.text,
                       detail=dict(offer.detail, low_confidence_streak=after.low_confidence_streak,
                                   **({"score": offer.score, "excerpt": offer.excerpt} if offer.fired else {})))

    def _escalated(self, decision, text: str, confidence: float | None = None) -> dict:
        self.state = replace(self.state, status="queued", already_escalated=True,
                             previous_texts=self.state.previous_texts + (text,))
        return turn_report(decision, confidence=confidence, reply=None,
                       detail=dict(decision.detail, score=decision.score, excerpt=decision.excerpt,
                                   low_confidence_streak=decision.low_confidence_streak))

    def _not_evaluated(self, decision, text: str) -> dict:
        self.state = replace(self.state, previous_texts=self.state.previous_texts + (text,))
        return turn_report(decision, confidence=None, reply=None, detail=dict(decision.detail))


def turn_report(decision, *, confidence: float | None, reply: str | None, detail: dict) -> dict:
    """A turn's report; an offer of a person reports its rule without escalating."""
    return {"escalate": decision.escalate, "offer_human": decision.offer_human,
            "rule": decision.rule if decision.fired else None,
            "team": decision.team, "priority": decision.priority,
            "confidence": None if confidence is None else round(confidence, 3),
            "reply": reply, "detail": detail}


def dry_run(turns: list[str], settings: dict, channel_kind: str = "web", vip: bool = False) -> dict:
    """{"turns": [a report per turn]} under these bot settings (a validated
    document), or {"error": ...} when the settings' provider cannot answer."""
    from gateway.bot.triggers import ConversationState, TriggerConfig
    from workers.brain import responder_for

    ctx = context.current()
    with ctx.pool.connection() as conn:
        articles = kb.list_articles(conn)
    try:
        responder = responder_for(replace(ctx.config, ai_provider=settings.get("provider") or ctx.config.ai_provider))
    except ConfigError as error:
        return {"error": str(error)}
    simulation = SimulatedConversation(ConversationState(contact_vip=vip, channel_kind=channel_kind),
                                       TriggerConfig.from_settings(settings), responder, articles)
    log.info("dry run of %d turn(s) on %s", len(turns), channel_kind)
    return {"turns": [dict(turn=number, **simulation.customer_says(text))
                      for number, text in enumerate(turns, start=1)]}
