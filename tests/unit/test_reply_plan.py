"""gateway.desk.reply_plan: which way an agent's reply goes, for each channel, window,
set of templates and known email, and what the agent is told."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from channels.templates import Template
from channels.windows import window_state
from gateway.desk.reply_plan import plan_reply

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=timezone.utc)
FOLLOW_UP = Template("follow_up", "HX" + "a" * 32, ("customer_name", "agent_name"),
                     "Hi {{1}}, this is {{2}} following up on your request. Reply to continue.")
REMINDER = Template("reminder", "HX" + "b" * 32, (), "We still have your request open. Reply to continue.")
EMAIL = "ann@example.com"
HOURS = {"1h": 1, "30h": 30, "6d": 6 * 24, "8d": 8 * 24}



def plan(kind: str, age: str, *, templates=(), email=None, template_name=None, by_email=False):
    window = window_state(kind, NOW - timedelta(hours=HOURS[age]), NOW)
    return plan_reply(channel_kind=kind, window=window, templates=list(templates), contact_email=email,
                      template_name=template_name, by_email=by_email)


T = (FOLLOW_UP,)
T2 = (FOLLOW_UP, REMINDER)

# (kind, age, templates, email, template asked, by email) -> (via, messenger tag, template, refused)
CASES = [
    # the web chat has no window
    (("web", "8d", (), None, None, False), ("channel", None, None, False)),
    (("web", "8d", T, EMAIL, "follow_up", False), ("channel", None, None, True)),
    (("web", "1h", (), EMAIL, None, True), ("email", None, None, False)),
    # WhatsApp inside 24 h: free text, or a template if asked
    (("whatsapp", "1h", T, None, None, False), ("channel", None, None, False)),
    (("whatsapp", "1h", T, None, "follow_up", False), ("template", None, FOLLOW_UP, False)),
    (("whatsapp", "1h", T, None, "unknown", False), ("channel", None, None, True)),
    # WhatsApp after 24 h: a template; free text refused
    (("whatsapp", "30h", T, None, None, False), ("template", None, FOLLOW_UP, True)),
    (("whatsapp", "30h", T, EMAIL, None, False), ("template", None, FOLLOW_UP, True)),
    (("whatsapp", "30h", T2, EMAIL, "reminder", False), ("template", None, REMINDER, False)),
    (("whatsapp", "8d", T, None, "follow_up", False), ("template", None, FOLLOW_UP, False)),
    (("whatsapp", "30h", T, EMAIL, None, True), ("email", None, None, False)),
    (("whatsapp", "30h", T, None, None, True), ("template", None, FOLLOW_UP, True)),
    (("whatsapp", "30h", T, EMAIL, "follow_up", True), ("template", None, FOLLOW_UP, True)),
    # ... and with no template configured: email if known, else nothing
    (("whatsapp", "30h", (), EMAIL, None, False), ("email", None, None, False)),
    (("whatsapp", "30h", (), None, None, False), ("none", None, None, True)),
    (("whatsapp", "30h", (), None, "follow_up", False), ("none", None, None, True)),
    # Messenger: RESPONSE inside 24 h, HUMAN_AGENT to 7 d, then closed
    (("messenger", "1h", (), None, None, False), ("channel", None, None, False)),
    (("messenger", "30h", (), None, None, False), ("channel", "HUMAN_AGENT", None, False)),
    (("messenger", "6d", (), EMAIL, None, False), ("channel", "HUMAN_AGENT", None, False)),
    (("messenger", "8d", (), EMAIL, None, False), ("email", None, None, False)),
    (("messenger", "8d", (), None, None, False), ("none", None, None, True)),
    (("messenger", "1h", T, None, "follow_up", False), ("channel", None, None, True)),
    (("messenger", "6d", (), EMAIL, None, True), ("email", None, None, False)),
]


@pytest.mark.parametrize("given, expected", CASES,
                         ids=["-".join(str(part) for part in case[0][:2] + case[0][4:]) + f"-{n}"
                              for n, case in enumerate(CASES)])
def test_reply_plan(given, expected):
    kind, age, templates, email, template_name, by_email = given
    result = plan(kind, age, templates=templates, email=email, template_name=template_name, by_email=by_email)
    via, tag, template, refused = expected
    assert (result.via, result.messenger_tag, result.template) == (via, tag, template)
    assert (result.error is not None) == refused, result.error
    assert result.explanation.endswith(".") and "\n" not in result.explanation


def test_whatsapp_free_text_after_24_hours_names_the_template_and_offers_email():
    result = plan("whatsapp", "30h", templates=T, email=EMAIL)
    assert result.explanation == ("Outside WhatsApp's 24-hour window: send the template follow_up "
                                  "(or reply by email to ann@example.com).")
    assert "follow_up" in result.error and EMAIL in result.error
    assert "Free text cannot reach the customer" in result.error
    assert result.email == EMAIL


def test_whatsapp_free_text_after_24_hours_names_every_template():
    result = plan("whatsapp", "30h", templates=T2)
    assert "one of the templates follow_up, reminder" in result.error
    assert "email" not in result.error
    assert result.templates == T2


def test_whatsapp_with_no_template_and_no_email_says_how_to_add_one():
    result = plan("whatsapp", "30h")
    assert "no template is configured" in result.error
    assert "handoff channel template add" in result.error
    assert result.explanation == result.error


def test_whatsapp_with_no_template_falls_back_to_email():
    result = plan("whatsapp", "30h", email=EMAIL)
    assert result.explanation == ("Outside WhatsApp's 24-hour window and no template is configured: "
                                  "your reply will be sent by email to ann@example.com.")
    assert result.email == EMAIL


def test_an_unknown_template_is_refused_with_the_ones_there_are():
    result = plan("whatsapp", "30h", templates=T2, template_name="hello")
    assert result.error == ("This channel has no template named hello: use one of the templates "
                            "follow_up, reminder.")


def test_a_template_outside_the_window_is_announced():
    result = plan("whatsapp", "30h", templates=T, template_name="follow_up")
    assert result.explanation == "Outside WhatsApp's 24-hour window: the template follow_up will be sent."
    inside = plan("whatsapp", "1h", templates=T, template_name="follow_up")
    assert inside.explanation.startswith("Within 24 hours")


def test_messenger_after_24_hours_explains_the_human_agent_tag():
    result = plan("messenger", "30h")
    assert "HUMAN_AGENT" in result.explanation


def test_messenger_after_7_days_says_the_channel_is_closed_and_offers_email():
    with_email = plan("messenger", "8d", email=EMAIL)
    assert with_email.explanation == ("Messenger's window is closed (no message from the customer in the last "
                                      "7 days): your reply will be sent by email to ann@example.com.")
    without = plan("messenger", "8d")
    assert "closed" in without.error and "no email address is known" in without.error
    assert "template" not in without.error


def test_templates_are_refused_outside_whatsapp():
    assert plan("messenger", "1h", templates=T, template_name="follow_up").error == (
        "Templates are only for WhatsApp: send your reply as text.")
    assert plan("messenger", "1h", templates=T).templates == ()


def test_email_asked_with_no_address_known_is_refused():
    assert plan("whatsapp", "1h", by_email=True).error == (
        "No email address is known for this customer: reply on WhatsApp instead.")


def test_as_json_carries_the_template_and_the_options():
    document = plan("whatsapp", "30h", templates=T, email=EMAIL).as_json()
    assert document["via"] == "template"
    assert document["template"] == {"name": "follow_up", "content_sid": FOLLOW_UP.content_sid,
                                    "variables": ["customer_name", "agent_name"], "body": FOLLOW_UP.body}
    assert [option["name"] for option in document["templates"]] == ["follow_up"]
    assert document["email"] == EMAIL and document["messenger_tag"] is None
    assert set(document) == {"via", "messenger_tag", "template", "explanation", "error", "email", "templates"}
