"""gateway/handoff/wording.py: the sentences in the customer's language, English for
the languages without a table, the built-in texts translated and an admin's as written."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from gateway.handoff import wording
from gateway.handoff.hours import BusinessHours, describe_opening


def test_every_language_has_every_sentence():
    keys = set(wording.SENTENCES["en"])
    for language, table in wording.SENTENCES.items():
        assert set(table) == keys, language
        for key, sentence in table.items():
            assert sentence == sentence.strip() or key in ("ticket_or_email", "ticket_ask_email", "year"), key


@pytest.mark.parametrize("language, expected", [
    ("en", "I'm connecting you with our Billing team. You're #3 in line — about 6 minutes."),
    ("es", "Te estoy conectando con el equipo de Billing. Eres el n.º 3 en la fila — unos 6 minutos."),
    ("fr", "I'm connecting you with our Billing team. You're #3 in line — about 6 minutes."),
    (None, "I'm connecting you with our Billing team. You're #3 in line — about 6 minutes."),
])
def test_place_in_line_in_the_customers_language(language, expected):
    opening = wording.connecting("Billing", language)
    assert wording.place_in_line(3, 6, opening=opening, language=language) == expected


def test_offline_notice_in_spanish():
    text = wording.offline_notice("Billing", why="closed", reopens="mañana a las 9:00 (hora de Paris)", number=1042,
                                  channel_kind="whatsapp", email=None, language="es")
    assert text == ("El equipo de Billing no está disponible ahora mismo y vuelve mañana a las 9:00 (hora de Paris). "
                    "He creado el ticket n.º 1042 para ti, y una persona te responderá aquí en WhatsApp.")
    web = wording.offline_notice(None, why="nobody_online", reopens=None, number=7, channel_kind="web", email=None,
                                 language="es")
    assert web.startswith("No hay nadie de nuestro equipo disponible ahora mismo.") and "correo electrónico" in web


def test_the_built_in_texts_are_translated_and_an_admins_are_not():
    greeting = wording.SENTENCES["en"]["greeting"]
    assert wording.built_in(greeting, "greeting", "es") == wording.say("greeting", "es")
    assert wording.built_in(greeting, "greeting", "de") == greeting
    assert wording.built_in("Welcome to Acme!", "greeting", "es") == "Welcome to Acme!"
    assert wording.built_in_variants({greeting, "Welcome"}) == {greeting, "Welcome", wording.say("greeting", "es")}


def test_the_spanish_button_title_fits_a_messenger_quick_reply():
    assert len(wording.say("talk_to_agent", "es")) <= 20


@pytest.mark.parametrize("opening, language, expected", [
    (datetime(2026, 3, 3, 8, 0, tzinfo=UTC), "en", "tomorrow at 9:00 AM (Paris time)"),
    (datetime(2026, 3, 3, 8, 0, tzinfo=UTC), "es", "mañana a las 9:00 (hora de Paris)"),
    (datetime(2026, 3, 5, 13, 30, tzinfo=UTC), "es", "el jueves a las 14:30 (hora de Paris)"),
    (datetime(2026, 4, 20, 7, 0, tzinfo=UTC), "es", "el lunes 20 de abril a las 9:00 (hora de Paris)"),
    (datetime(2026, 3, 2, 16, 0, tzinfo=UTC), "en", "later today at 5:00 PM (Paris time)"),
])
def test_when_a_team_is_back_in_the_customers_language(opening, language, expected):
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday
    hours = BusinessHours(timezone=ZoneInfo("Europe/Paris"))
    assert describe_opening(opening, now, hours, language) == expected


def test_the_language_of_a_conversation_is_the_one_recorded_with_its_escalation():
    assert wording.language_of({"escalation_detail": {"rule": "human_request", "language": "es"}}) == "es"
    assert wording.language_of({"escalation_detail": None}) is None
