"""Every sentence Handoff itself says to a customer about people: who will
answer, their place in line, tickets, missed chats, an agent joining.

(The bot's answers come from its responder and its settings; the sentences
agents read are where the agent's action is.) Plain functions of the facts,
so the wording is read, reviewed and changed in one place.
"""

from __future__ import annotations

from channels.registry import capabilities


def team_words(team_name: str | None) -> str:
    return f"our {team_name} team" if team_name else "our team"


def minutes_text(minutes: int) -> str:
    return "about 1 minute" if minutes == 1 else f"about {minutes} minutes"


def place_text(position: int) -> str:
    return "next in line" if position <= 1 else f"#{position} in line"


def connecting(team_name: str | None) -> str:
    return f"I'm connecting you with {team_words(team_name)}."


def transferring(team_name: str | None) -> str:
    return f"I'm transferring you to {team_words(team_name)}."


def place_in_line(position: int, minutes: int, *, opening: str | None) -> str:
    """The first notice follows its `opening` ("I'm connecting you with…");
    later ones (opening None) thank the customer for waiting."""
    if opening is None:
        return f"Thanks for waiting. You're now {place_text(position)} — {minutes_text(minutes)}."
    return f"{opening} You're {place_text(position)} — {minutes_text(minutes)}."


def agent_joined(agent_name: str, team_name: str | None) -> str:
    """"Maya from Billing joined": the agent's first name and team."""
    first_name = agent_name.split()[0] if agent_name.strip() else "An agent"
    return f"{first_name} from {team_name} joined" if team_name else f"{first_name} joined"


def offline_notice(team_name: str | None, *, why: str, reopens: str | None, number: int, channel_kind: str,
                   email: str | None) -> str:
    """What the customer is told when nobody can answer now: why, when the
    team is back, the ticket number, and how the answer will reach them.
    `why`: closed | nobody_online | missed."""
    team = team_words(team_name)
    if why == "closed":
        opening = f"{team[0].upper()}{team[1:]} is offline right now"
        opening += f" and back {reopens}." if reopens else "."
    elif why == "nobody_online":
        opening = f"Nobody from {team} is available right now."
    else:
        opening = f"I'm sorry, nobody from {team} could pick up your conversation in time."
    channel = capabilities(channel_kind)
    reply = f"I've created ticket #{number} for you, and a person will reply {channel.reply_here}"
    if email:
        reply += f" or by email to {email}."
    elif channel.asks_for_email:
        reply += ". If you may leave this page, tell me your email address and we'll answer there."
    else:
        reply += "."
    return f"{opening} {reply}"


def reply_email_subject(*, ticket: dict | None, team_name: str | None) -> str:
    """The subject of an agent's reply by email."""
    if ticket is not None:
        return f"Re: ticket #{ticket['number']} {ticket['subject']}"
    return f"Re: your conversation with {team_words(team_name)}"


# An email whose message names no subject (it should not happen; the mail still goes).
DEFAULT_EMAIL_SUBJECT = "Your conversation with our support team"


def ticket_email_noted(number: int, email: str) -> str:
    return f"Thanks! We'll also answer ticket #{number} by email at {email}."


def missed_bot_helps() -> str:
    """The first missed-chat step on a channel where the bot helps meanwhile."""
    return ("Everyone is busy right now, so I'll try to help meanwhile. "
            "You keep your place in line, and a person will reply here.")


def missed_still_waiting(team_name: str | None) -> str:
    """The second missed-chat step when the customer keeps their place and the bot helps."""
    return (f"I'm sorry, it's taking longer than usual for {team_words(team_name)} to answer. You keep your "
            "place in line and a person will reply here; meanwhile I'll try to help with anything I can.")
