"""Every sentence Handoff itself says to a customer, in the customer's
language: about people (who will answer, their place in line, tickets,
missed chats, an agent joining) and the bot's own (its greeting and hint,
its honest "not sure", its replies to small talk).

The sentences are in SENTENCES, one table per language; a customer whose
language has no table (gateway.bot.text.language guesses it) hears English.
An admin's own greeting and hint are said as written; the built-in ones are
in the table, so they follow the customer's language. (The bot's answers
come from its responder; the sentences agents read are where the agent's
action is.) Plain functions of the facts, so the wording is read, reviewed
and translated in one place.
"""

from __future__ import annotations

from channels.registry import capabilities

SENTENCES = {
    "en": {
        "our_team": "our {team} team", "our_team_unnamed": "our team",
        "about_minutes": "about {minutes} minutes", "about_one_minute": "about 1 minute",
        "next_in_line": "next in line", "place_in_line": "#{position} in line",
        "connecting": "I'm connecting you with {team}.", "transferring": "I'm transferring you to {team}.",
        "first_place": "{opening} You're {place} — {minutes}.",
        "later_place": "Thanks for waiting. You're now {place} — {minutes}.",
        "joined_from": "{name} from {team} joined", "joined": "{name} joined", "an_agent": "An agent",
        "closed": "{team} is offline right now.", "closed_back": "{team} is offline right now and back {reopens}.",
        "nobody_online": "Nobody from {team} is available right now.",
        "missed": "I'm sorry, nobody from {team} could pick up your conversation in time.",
        "ticket": "I've created ticket #{number} for you, and a person will reply {where}",
        "ticket_or_email": " or by email to {email}.",
        "ticket_ask_email": ". If you may leave this page, tell me your email address and we'll answer there.",
        "ticket_email_noted": "Thanks! We'll also answer ticket #{number} by email at {email}.",
        "reply_subject_ticket": "Re: ticket #{number} {subject}", "reply_subject": "Re: your conversation with {team}",
        "missed_bot_helps": "Everyone is busy right now, so I'll try to help meanwhile. "
                            "You keep your place in line, and a person will reply here.",
        "missed_still_waiting": "I'm sorry, it's taking longer than usual for {team} to answer. You keep your "
                                "place in line and a person will reply here; meanwhile I'll try to help with "
                                "anything I can.",
        "greeting": "Hi! I'm the virtual assistant. Ask me anything, or ask for a person at any time.",
        "whatsapp_hint": "Reply AGENT at any time to talk to a person.",
        "talk_to_agent": "Talk to an agent",
        "not_sure": "I'm not sure I can answer that one. Would you like me to connect you with a person?",
        "not_sure_about": "I'm not sure about this part: \u201c{question}\u201d. Would you like me to connect you "
                          "with a person for it?",
        "cannot_answer_now": "Sorry, I can't answer that right now. Would you like me to connect you with a person?",
        "small_talk_greeting": "Hi! How can I help you today?",
        "small_talk_thanks": "You're welcome! Is there anything else I can help you with?",
        "small_talk_goodbye": "Thanks for getting in touch. Have a great day!",
        # When a team is back (gateway.handoff.hours.describe_opening).
        "later_today": "later today", "tomorrow": "tomorrow", "on_day": "on {day}",
        "on_date": "on {day}, {month} {date}{year}", "year": ", {year}", "opening_at": "{when} at {clock} ({zone})",
        "clock": "{hour12}:{minute:02d} {meridiem}", "zone_time": "{place} time",
        "days": "Monday Tuesday Wednesday Thursday Friday Saturday Sunday",
        "months": "January February March April May June July August September October November December",
    },
    "es": {
        "our_team": "el equipo de {team}", "our_team_unnamed": "nuestro equipo",
        "about_minutes": "unos {minutes} minutos", "about_one_minute": "aproximadamente 1 minuto",
        "next_in_line": "el siguiente en la fila", "place_in_line": "el n.º {position} en la fila",
        "connecting": "Te estoy conectando con {team}.", "transferring": "Te estoy transfiriendo a {team}.",
        "first_place": "{opening} Eres {place} — {minutes}.",
        "later_place": "Gracias por esperar. Ahora eres {place} — {minutes}.",
        "joined_from": "{name}, de {team}, se ha unido", "joined": "{name} se ha unido", "an_agent": "Un agente",
        "closed": "{team} no está disponible ahora mismo.",
        "closed_back": "{team} no está disponible ahora mismo y vuelve {reopens}.",
        "nobody_online": "No hay nadie de {team} disponible ahora mismo.",
        "missed": "Lo siento, nadie de {team} pudo atender tu conversación a tiempo.",
        "ticket": "He creado el ticket n.º {number} para ti, y una persona te responderá {where}",
        "ticket_or_email": " o por correo electrónico a {email}.",
        "ticket_ask_email": ". Si vas a salir de esta página, dime tu correo electrónico y te responderemos allí.",
        "ticket_email_noted": "¡Gracias! También responderemos al ticket n.º {number} por correo electrónico a "
                              "{email}.",
        "reply_subject_ticket": "Re: ticket n.º {number} {subject}", "reply_subject": "Re: tu conversación con {team}",
        "missed_bot_helps": "Ahora mismo todos están ocupados, así que intentaré ayudarte mientras tanto. "
                            "Mantienes tu lugar en la fila y una persona te responderá aquí.",
        "missed_still_waiting": "Lo siento, {team} está tardando más de lo habitual en responder. Mantienes tu "
                                "lugar en la fila y una persona te responderá aquí; mientras tanto, intentaré "
                                "ayudarte con lo que pueda.",
        "greeting": "¡Hola! Soy el asistente virtual. Pregúntame lo que quieras, o pide hablar con una persona en "
                    "cualquier momento.",
        "whatsapp_hint": "Responde AGENTE en cualquier momento para hablar con una persona.",
        "talk_to_agent": "Hablar con un agente",
        "not_sure": "No estoy seguro de poder responder a eso. ¿Quieres que te ponga en contacto con una persona?",
        "not_sure_about": "No estoy seguro de esto: «{question}». ¿Quieres que te ponga en contacto con una "
                          "persona para eso?",
        "cannot_answer_now": "Lo siento, ahora mismo no puedo responder a eso. ¿Quieres que te ponga en contacto "
                             "con una persona?",
        "small_talk_greeting": "¡Hola! ¿En qué puedo ayudarte hoy?",
        "small_talk_thanks": "¡De nada! ¿Hay algo más en lo que pueda ayudarte?",
        "small_talk_goodbye": "Gracias por escribirnos. ¡Que tengas un buen día!",
        "later_today": "hoy más tarde", "tomorrow": "mañana", "on_day": "el {day}",
        "on_date": "el {day} {date} de {month}{year}", "year": " de {year}", "opening_at": "{when} a las {clock} ({zone})",
        "clock": "{hour}:{minute:02d}", "zone_time": "hora de {place}",
        "days": "lunes martes miércoles jueves viernes sábado domingo",
        "months": "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre",
    },
}
# The channel words of a ticket's reply ("here on WhatsApp") in languages
# other than English, whose words are the channel registry's.
REPLY_HERE = {"es": {"whatsapp": "aquí en WhatsApp", "messenger": "aquí en Messenger", "web": "aquí en este chat"}}


def spoken(language: str | None) -> str:
    """The language the customer hears: theirs when there are sentences in it, else English."""
    return language if language in SENTENCES else "en"


def say(key: str, language: str | None = None, **facts) -> str:
    return SENTENCES[spoken(language)][key].format(**facts)


def language_of(conversation: dict) -> str | None:
    """The customer's language as recorded when the conversation was escalated."""
    return (conversation.get("escalation_detail") or {}).get("language")


def team_words(team_name: str | None, language: str | None = None) -> str:
    return say("our_team", language, team=team_name) if team_name else say("our_team_unnamed", language)


def minutes_text(minutes: int, language: str | None = None) -> str:
    return say("about_one_minute", language) if minutes == 1 else say("about_minutes", language, minutes=minutes)


def place_text(position: int, language: str | None = None) -> str:
    return say("next_in_line", language) if position <= 1 else say("place_in_line", language, position=position)


def connecting(team_name: str | None, language: str | None = None) -> str:
    return say("connecting", language, team=team_words(team_name, language))


def transferring(team_name: str | None, language: str | None = None) -> str:
    return say("transferring", language, team=team_words(team_name, language))


def place_in_line(position: int, minutes: int, *, opening: str | None, language: str | None = None) -> str:
    """The first notice follows its `opening` ("I'm connecting you with…");
    later ones (opening None) thank the customer for waiting."""
    place, wait = place_text(position, language), minutes_text(minutes, language)
    if opening is None:
        return say("later_place", language, place=place, minutes=wait)
    return say("first_place", language, opening=opening, place=place, minutes=wait)


def agent_joined(agent_name: str, team_name: str | None, language: str | None = None) -> str:
    """"Maya from Billing joined": the agent's first name and team."""
    first_name = agent_name.split()[0] if agent_name.strip() else say("an_agent", language)
    if team_name:
        return say("joined_from", language, name=first_name, team=team_name)
    return say("joined", language, name=first_name)


def offline_notice(team_name: str | None, *, why: str, reopens: str | None, number: int, channel_kind: str,
                   email: str | None, language: str | None = None) -> str:
    """What the customer is told when nobody can answer now: why, when the
    team is back (`reopens`, from describe_opening in the same language),
    the ticket number, and how the answer will reach them.
    `why`: closed | nobody_online | missed."""
    team = team_words(team_name, language)
    if why == "closed":
        capitalized = team[0].upper() + team[1:]
        opening = say("closed_back", language, team=capitalized, reopens=reopens) if reopens \
            else say("closed", language, team=capitalized)
    else:
        opening = say("nobody_online" if why == "nobody_online" else "missed", language, team=team)
    channel = capabilities(channel_kind)
    where = REPLY_HERE.get(spoken(language), {}).get(channel_kind, channel.reply_here)
    reply = say("ticket", language, number=number, where=where)
    if email:
        reply += say("ticket_or_email", language, email=email)
    elif channel.asks_for_email:
        reply += say("ticket_ask_email", language)
    else:
        reply += "."
    return f"{opening} {reply}"


def reply_email_subject(*, ticket: dict | None, team_name: str | None, language: str | None = None) -> str:
    """The subject of an agent's reply by email."""
    if ticket is not None:
        return say("reply_subject_ticket", language, number=ticket["number"], subject=ticket["subject"])
    return say("reply_subject", language, team=team_words(team_name, language))


# An email whose message names no subject (it should not happen; the mail still goes).
DEFAULT_EMAIL_SUBJECT = "Your conversation with our support team"


def ticket_email_noted(number: int, email: str, language: str | None = None) -> str:
    return say("ticket_email_noted", language, number=number, email=email)


def missed_bot_helps(language: str | None = None) -> str:
    """The first missed-chat step on a channel where the bot helps meanwhile."""
    return say("missed_bot_helps", language)


def missed_still_waiting(team_name: str | None, language: str | None = None) -> str:
    """The second missed-chat step when the customer keeps their place and the bot helps."""
    return say("missed_still_waiting", language, team=team_words(team_name, language))


# --- the bot's own sentences ----------------------------------------------------------------


def built_in(text: str, key: str, language: str | None) -> str:
    """An admin's text as written, unless it is the built-in English one
    (SENTENCES["en"][key]): then the built-in one in the customer's language."""
    return say(key, language) if text == SENTENCES["en"][key] else text


def built_in_variants(texts) -> set[str]:
    """The texts with every translation of those that are built in: what a
    bot answer may start or end with that is not the answer itself."""
    keys = {key for key, sentence in SENTENCES["en"].items() if sentence in texts}
    return set(texts) | {table[key] for table in SENTENCES.values() for key in keys}


def opening_words(*, days: int, weekday: int, month: int, date: int, year: int | None, hour: int, minute: int,
                  zone_place: str | None, language: str | None = None) -> str:
    """When a team is back, from the facts describe_opening computes: "tomorrow
    at 9:00 AM (Paris time)"; zone_place None: UTC."""
    day = say("days", language).split()[weekday]
    if days == 0:
        when = say("later_today", language)
    elif days == 1:
        when = say("tomorrow", language)
    elif days <= 6:
        when = say("on_day", language, day=day)
    else:
        when = say("on_date", language, day=day, month=say("months", language).split()[month - 1], date=date,
                   year=say("year", language, year=year) if year else "")
    clock = say("clock", language, hour=hour, hour12=hour % 12 or 12, minute=minute,
                meridiem="AM" if hour < 12 else "PM")
    zone = "UTC" if zone_place is None else say("zone_time", language, place=zone_place)
    return say("opening_at", language, when=when, clock=clock, zone=zone)
