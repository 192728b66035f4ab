"""gateway.conversations.state: who speaks now, by the conversation's row."""

import pytest

from gateway.conversations.state import bot_may_answer, people_first, waiting_for_person


def row(status="bot", *, mode="bot_only", bot_fallback=False, first_agent_reply_at=None, escalated_at=None):
    return {"status": status, "mode": mode, "bot_fallback": bot_fallback,
            "first_agent_reply_at": first_agent_reply_at, "escalated_at": escalated_at}


@pytest.mark.parametrize("conversation, answers", [
    (row("bot"), True),
    (row("queued"), False),
    (row("queued", bot_fallback=True), True),                   # a missed chat: the bot helps meanwhile
    (row("ticket", bot_fallback=True), True),
    (row("assigned", bot_fallback=True, first_agent_reply_at="10:00"), False),  # a person has spoken
    (row("resolved", bot_fallback=True), False),
])
def test_the_bot_answers_until_a_person_speaks(conversation, answers):
    assert bot_may_answer(conversation) is answers


@pytest.mark.parametrize("conversation, waiting", [
    (row("queued"), True), (row("assigned"), True), (row("assigned", first_agent_reply_at="10:00"), False),
    (row("ticket"), False), (row("bot"), False),
])
def test_waiting_for_a_person(conversation, waiting):
    assert waiting_for_person(conversation) is waiting


@pytest.mark.parametrize("conversation, first", [
    (row(mode="offline_or_missed"), True),
    (row(mode="hybrid"), False),
    (row(mode="offline_or_missed", escalated_at="09:00"), False),   # escalated once: never again
    (row(mode="offline_or_missed", bot_fallback=True), False),      # nobody answered: the bot helps now
    (row("queued", mode="offline_or_missed"), False),
])
def test_people_first_on_offline_or_missed_channels(conversation, first):
    assert people_first(conversation) is first
