"""Who speaks now in a conversation: the bot, or people.

Statuses: bot -> queued -> assigned -> resolved, or ticket. The bot answers
a conversation nobody escalated, and one waiting for a person where it was
asked to help meanwhile; from the first human reply on, only people speak.
Pure: each function reads a conversations row.
"""

from __future__ import annotations

# Channel modes where the bot keeps answering simple questions while a
# ticket or a missed chat waits for a person.
BOT_WAITS_WITH_CUSTOMER = ("hybrid", "offline_or_missed")


def waiting_for_person(conversation: dict) -> bool:
    """Escalated to a team's queue (or an agent) and no person has answered yet."""
    return conversation["status"] in ("queued", "assigned") and conversation["first_agent_reply_at"] is None


def bot_may_answer(conversation: dict) -> bool:
    """The bot answers conversations nobody escalated, and those waiting for a
    person where it was asked to help meanwhile (a ticket, a missed chat). It
    never answers once a person is talking."""
    if conversation["status"] == "bot":
        return True
    return conversation["bot_fallback"] and conversation["status"] in ("queued", "assigned", "ticket") \
        and conversation["first_agent_reply_at"] is None


def people_first(conversation: dict) -> bool:
    """A new conversation of an offline_or_missed channel: people answer it
    first when its team can take it (else the bot does)."""
    return conversation["mode"] == "offline_or_missed" and conversation["escalated_at"] is None \
        and conversation["status"] == "bot" and not conversation["bot_fallback"]
