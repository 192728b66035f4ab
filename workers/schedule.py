"""Periodic housekeeping: the sweeper that makes Redis losses harmless, and
the care of conversations waiting for a person.

PostgreSQL is the source of truth. A message committed while Redis was down
(or whose job vanished with a Redis restart, or whose worker died) is still
unprocessed or unsent in the database, a webhook still undelivered; the
sweeper finds it and enqueues it again. Jobs are idempotent, so a re-enqueue
of a job that was merely slow does no harm.

Waiting conversations climb the missed-chat ladder (check_missed_chat,
scheduled through RQ's scheduler at each step; tend_waiting every sweep
catches what a lost schedule missed), are taken from agents who went
offline, auto-assigned when someone is free, and hear their place in line.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, timezone

from redis import Redis
from redis.exceptions import RedisError

from gateway import handoff, queues
from gateway.bot.settings import load_bot_settings
from gateway.db import transaction
from gateway.effects import Effects
from gateway.events import record as record_notification
from gateway.store import (
    agents,
    assignment,
    conversations,
    events,
    messages,
    teams,
    webhooks,
)
from workers import context
from gateway.handoff.escalate import open_ticket

log = logging.getLogger(__name__)

SWEEP_LOCK = "handoff:sweeper:lock"


def sweep() -> dict:
    ctx = context.current()
    age = ctx.config.sweep_after_seconds
    with transaction(ctx.pool) as conn:
        inbound = messages.unprocessed_inbound(conn, age)
        outbound = messages.due_outbound(conn, age)
        forgotten = messages.forget_stale_early_receipts(conn)
        deliveries = webhooks.due_deliveries(conn)
    for message_id in inbound:
        queues.enqueue_inbound(ctx.redis, message_id)
    for message_id in outbound:
        queues.enqueue_send(ctx.redis, message_id)
    for delivery_id in deliveries:
        queues.enqueue_webhook_delivery(ctx.redis, delivery_id)
    if inbound or outbound or deliveries:
        log.warning("sweeper re-enqueued %s inbound message(s), %s outbound message(s), %s webhook delivery(ies)",
                    len(inbound), len(outbound), len(deliveries))
    return {"inbound": inbound, "outbound": outbound, "webhook_deliveries": deliveries,
            "early_receipts_forgotten": forgotten}


def run_sweeper_clock(redis: Redis, stop: threading.Event, every_seconds: float = 30.0) -> None:
    """Enqueue sweep() every `every_seconds`, once per period across all workers
    (whichever worker takes the Redis lock for the period does it)."""
    while not stop.wait(every_seconds):
        try:
            if redis.set(SWEEP_LOCK, "1", nx=True, ex=max(1, int(every_seconds) - 1)):
                low = queues.queue(redis, "low")
                low.enqueue("workers.schedule.sweep", description="sweep unsent messages")
                low.enqueue("workers.schedule.tend_waiting", description="tend conversations waiting for a person")
        except RedisError as error:
            log.warning("sweeper clock: Redis unavailable (%s); will try again", error)


# --- conversations waiting for a person ----------------------------------------------------


def check_missed_chat(conversation_id: int, now_iso: str | None = None) -> str:
    """Scheduled through RQ's scheduler a missed-chat timeout after an
    escalation (and again for the next step of the ladder). `now_iso` lets a
    test or an operator run it as of a given time."""
    ctx = context.current()
    now = datetime.fromisoformat(now_iso) if now_iso else datetime.now(timezone.utc)
    with transaction(ctx.pool) as conn:
        conversation = conversations.lock_conversation(conn, conversation_id)
        if conversation is None:
            return "missing"
        effects, outcome = tend_conversation(conn, conversation, load_bot_settings(conn), now)
    effects.apply(ctx.redis, ctx.config)
    return outcome


def tend_waiting(now_iso: str | None = None) -> dict:
    """Every sweep: each conversation waiting for a person climbs the
    missed-chat ladder when due, is taken from an agent who went offline,
    auto-assigned when someone became free, and hears its place in line when
    it moved or after a while. Catches what the scheduled checks missed
    (e.g. a Redis restart lost them)."""
    ctx = context.current()
    now = datetime.fromisoformat(now_iso) if now_iso else datetime.now(timezone.utc)
    outcomes: dict[str, int] = {}
    with ctx.pool.connection() as conn:
        waiting = assignment.waiting_conversation_ids(conn)
        settings = load_bot_settings(conn)
    for conversation_id in waiting:
        with transaction(ctx.pool) as conn:
            conversation = conversations.lock_conversation(conn, conversation_id)
            effects, outcome = tend_conversation(conn, conversation, settings, now)
        effects.apply(ctx.redis, ctx.config)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


def tend_conversation(conn, conversation: dict, settings: dict, now: datetime) -> tuple[Effects, str]:
    """One step for one waiting conversation (locked by the caller)."""
    effects = Effects(conversation["id"])
    if conversation["status"] not in ("queued", "assigned") or conversation["first_agent_reply_at"] is not None:
        return effects, "not waiting"
    timeout = timedelta(seconds=settings["missed_chat_timeout_seconds"])
    waited = now - conversation["escalated_at"]
    stage = conversation["missed_stage"]
    if conversation["assignee_id"] is not None and assignee_offline(conn, conversation["assignee_id"]):
        conversation = handoff.reassign_away(conn, conversation, effects, reason="assignee_offline")
    # An agent who just took the conversation (claimed it, or got it from the
    # ladder's first step) has a whole timeout to answer before the next step.
    assignee_had_time = conversation["assignee_id"] is None or conversation["assigned_at"] is None \
        or now - conversation["assigned_at"] >= timeout
    if stage == 0 and waited >= timeout and assignee_had_time:
        return effects, missed_once(conn, conversation, effects, settings, waited)
    if stage == 1 and waited >= 2 * timeout and assignee_had_time:
        return effects, missed_twice(conn, conversation, effects, settings, waited, now)
    if conversation["status"] == "queued" and conversation["assignee_id"] is None:
        assigned = handoff.auto_assign(conn, conversation, effects)
        if assigned:
            return effects, "assigned"
    if queue_update_due(conn, conversation, settings, now):
        handoff.tell_place_in_line(conn, conversation, effects, first=False, team_name=_team_name(conn, conversation))
        return effects, "told place in line"
    return effects, "waiting"


def missed_once(conn, conversation: dict, effects: Effects, settings: dict, waited: timedelta) -> str:
    """First step: alert the team again and take the conversation from an
    assignee who did not answer; on offline_or_missed channels the bot starts
    helping the customer."""
    _record_missed(conn, conversation, effects, stage=1, waited=waited)
    if conversation["assignee_id"] is not None:
        conversation = handoff.reassign_away(conn, conversation, effects, reason="missed_chat")
    if conversation["mode"] == "offline_or_missed":
        _bot_helps_meanwhile(conn, conversation, effects,
                             "Everyone is busy right now, so I'll try to help meanwhile. "
                             "You keep your place in line, and a person will reply here.")
    effects.schedule("workers.schedule.check_missed_chat", conversation["id"],
                     delay_seconds=settings["missed_chat_timeout_seconds"])
    return "missed: team alerted"


def missed_twice(conn, conversation: dict, effects: Effects, settings: dict, waited: timedelta,
                 now: datetime) -> str:
    """Second step: tell the customer honestly, then a ticket or the bot, as configured."""
    _record_missed(conn, conversation, effects, stage=2, waited=waited)
    team = teams.get_team(conn, conversation["team_id"]) if conversation["team_id"] else None
    if settings["missed_chat_action"] == "ticket":
        open_ticket(conn, conversation, team, effects, why="missed", settings=settings, now=now)
        return "missed: ticket"
    _bot_helps_meanwhile(conn, conversation, effects,
                         f"I'm sorry, it's taking longer than usual for {handoff.team_words(team and team['name'])} "
                         "to answer. You keep your place in line and a person will reply here; meanwhile I'll "
                         "try to help with anything I can.")
    return "missed: bot helps"


def assignee_offline(conn, agent_id: int) -> bool:
    agent = agents.get_agent(conn, agent_id)
    return agent is None or agent["presence"] != "online"


def queue_update_due(conn, conversation: dict, settings: dict, now: datetime) -> bool:
    """Tell the customer their place again when it improved materially (two
    places, or to the front) or after queue_update_seconds."""
    told, told_at = conversation["queue_notice_position"], conversation["queue_notice_at"]
    if told is None or told_at is None:
        return False
    position = assignment.queue_position(conn, conversation["id"])
    improved = position < told and (told - position >= 2 or position == 1)
    return improved or now - told_at >= timedelta(seconds=settings["queue_update_seconds"])


def _record_missed(conn, conversation: dict, effects: Effects, *, stage: int, waited: timedelta) -> None:
    conversations.set_missed_stage(conn, conversation["id"], stage)
    detail = {"stage": stage, "waited_seconds": int(waited.total_seconds()), "assignee_id": conversation["assignee_id"]}
    events.record_event(conn, "conversation.missed", conversation_id=conversation["id"], detail=detail)
    effects.publish("conversation.missed", team_id=conversation["team_id"], **detail)
    effects.notify(record_notification(
        conn, "conversation.missed", {"conversation_id": conversation["id"], **detail},
        summary=f"Missed chat: conversation {conversation['id']} has waited {int(waited.total_seconds() // 60)} "
                "minutes for a person",
        conversation_id=conversation["id"], team_id=conversation["team_id"]))
    log.warning("conversation %s: missed chat, stage %s", conversation["id"], stage)


def _bot_helps_meanwhile(conn, conversation: dict, effects: Effects, text: str) -> None:
    conversations.set_bot_fallback(conn, conversation["id"])
    effects.send(messages.insert_outbound(
        conn, conversation_id=conversation["id"], channel_id=conversation["channel_id"], sender="system",
        text=text, metadata={"missed_chat": True}))
    effects.schedule("workers.inbound.answer_waiting", conversation["id"])


def _team_name(conn, conversation: dict) -> str | None:
    team = teams.get_team(conn, conversation["team_id"]) if conversation["team_id"] else None
    return team["name"] if team else None
