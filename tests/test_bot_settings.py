"""The bot settings document: defaults, the settings table, validation messages."""

from __future__ import annotations

import json

import pytest
from marshmallow import ValidationError
from psycopg.types.json import Jsonb

from gateway.bot.settings import (
    default_bot_settings,
    load_bot_settings,
    save_bot_settings,
    validate_bot_settings,
)
from gateway.bot.triggers import TriggerConfig


def test_defaults():
    settings = default_bot_settings()
    assert settings["provider"] is None
    assert (settings["confidence_threshold"], settings["low_confidence_streak"]) == (0.5, 2)
    assert settings["frustration"] == {"action": "offer", "threshold": 0.6, "phrases": []}
    assert settings["repeated_question"] == {"times": 3, "similarity": 0.6}
    assert [topic["name"] for topic in settings["urgent_topics"]] == [
        "fraud", "emergency", "account_security", "outage", "chargeback", "complaint", "refund", "cancellation",
        "billing_error"]
    assert [rule["team"] for rule in settings["routing_rules"]] == ["Billing", "Technical"]
    assert settings["default_team"] == "General"
    assert settings["vip"] == {"attribute": "tier", "values": ["gold", "platinum"], "after_answers": 1,
                               "priority": "high"}
    assert settings["missed_chat_timeout_seconds"] == 180
    assert settings["talk_to_agent"]["label"] == "Talk to an agent"
    assert json.loads(json.dumps(settings)) == settings


def test_the_defaults_compile_for_the_engine():
    config = TriggerConfig.from_settings(default_bot_settings())
    assert len(config.urgent_topics) == 9 and config.default_team == "General"


def test_a_missing_row_means_all_defaults(db):
    with db() as conn:
        assert load_bot_settings(conn) == default_bot_settings()


def test_round_trip_through_the_settings_table(db):
    document = {
        "provider": "anthropic",
        "confidence_threshold": 0.65,
        "trigger_phrases": ["*agent", "speak to *"],
        "frustration": {"action": "escalate"},
        "routing_rules": [{"team": "Billing", "words": ["refund*"], "channels": ["web", "whatsapp"]},
                          {"team": "Concierge", "vip": True}],
        "greeting": {"default": "Hello!", "whatsapp": "Hi from WhatsApp"},
    }
    with db() as conn:
        saved = save_bot_settings(conn, document)
    assert saved["frustration"] == {"action": "escalate", "threshold": 0.6, "phrases": []}
    assert saved["routing_rules"][1] == {"team": "Concierge", "words": [], "channels": None, "vip": True}
    assert saved["greeting"] == {"default": "Hello!", "whatsapp": "Hi from WhatsApp", "messenger": None, "web": None}
    assert saved["urgent_topics"] == default_bot_settings()["urgent_topics"], "unset fields keep their defaults"
    with db() as conn:
        assert load_bot_settings(conn) == saved
        stored = conn.execute("SELECT value FROM settings WHERE key = 'bot'").fetchone()["value"]
    assert stored == saved, "the full normalized document is stored"


def test_saving_again_replaces_the_document(db):
    with db() as conn:
        save_bot_settings(conn, {"confidence_threshold": 0.7, "trigger_phrases": ["agent"]})
        save_bot_settings(conn, {"low_confidence_streak": 3})
    with db() as conn:
        settings = load_bot_settings(conn)
        assert conn.execute("SELECT count(*) AS n FROM settings").fetchone()["n"] == 1
    assert (settings["confidence_threshold"], settings["low_confidence_streak"]) == (0.5, 3)
    assert settings["trigger_phrases"] == []


def test_an_invalid_document_is_not_saved(db):
    with db() as conn, pytest.raises(ValidationError):
        save_bot_settings(conn, {"confidence_threshold": 2})
    with db() as conn:
        assert conn.execute("SELECT count(*) AS n FROM settings").fetchone()["n"] == 0


def test_a_stored_document_that_no_longer_validates_runs_on_defaults(db, caplog):
    with db() as conn:
        conn.execute("INSERT INTO settings (key, value) VALUES ('bot', %s)", [Jsonb({"confidence_threshold": 7})])
        assert load_bot_settings(conn) == default_bot_settings()
    assert "stored bot settings are invalid" in caplog.text


def test_fields_a_newer_version_dropped_are_ignored_when_loading(db):
    with db() as conn:
        conn.execute("INSERT INTO settings (key, value) VALUES ('bot', %s)",
                     [Jsonb({"retired_option": True, "confidence_threshold": 0.7})])
        assert load_bot_settings(conn)["confidence_threshold"] == 0.7


def messages_at(messages: dict, path: tuple) -> list[str]:
    for key in path:
        messages = messages[key]
    return messages


@pytest.mark.parametrize("document, path, expected", [
    pytest.param({"confidence_threshold": 1.5}, ("confidence_threshold",), "must be between 0.0 and 1.0",
                 id="threshold above 1"),
    pytest.param({"confidence_threshold": "high"}, ("confidence_threshold",), "Not a valid number",
                 id="threshold not a number"),
    pytest.param({"low_confidence_streak": 0}, ("low_confidence_streak",), "must be between 1 and 10",
                 id="streak of 0"),
    pytest.param({"provider": "gpt"}, ("provider",), "must be one of: kb, openai, anthropic", id="unknown provider"),
    pytest.param({"frustration": {"action": "ignore"}}, ("frustration", "action"),
                 "must be 'offer' (offer a human, escalate if it persists) or 'escalate'", id="unknown action"),
    pytest.param({"frustration": {"threshold": -0.1}}, ("frustration", "threshold"), "must be between",
                 id="negative frustration threshold"),
    pytest.param({"trigger_phrases": ["*"]}, ("trigger_phrases", 0), "has no word to match", id="bare wildcard"),
    pytest.param({"trigger_phrases": ["agent", "!!!"]}, ("trigger_phrases", 1), "would fire on every message",
                 id="punctuation only"),
    pytest.param({"trigger_phrases": ["*a*b*c*d*e"]}, ("trigger_phrases", 0), "at most 4 wildcards",
                 id="too many wildcards"),
    pytest.param({"trigger_phrases": ["x" * 201]}, ("trigger_phrases", 0), "at most 200 characters",
                 id="pattern too long"),
    pytest.param({"human_request_phrases": ["* humain"]}, ("human_request_phrases", 0),
                 "a lone * stands between two words", id="lone wildcard at the edge of a term"),
    pytest.param({"urgent_topics": [{"name": "x", "words": []}]}, ("urgent_topics", 0, "words"),
                 "list at least one word or phrase", id="topic without words"),
    pytest.param({"urgent_topics": [{"name": "a", "words": ["x"]}, {"name": "a", "words": ["y"]}]},
                 ("urgent_topics",), "each urgent topic needs its own name: a repeated", id="duplicate topic"),
    pytest.param({"urgent_topics": [{"name": "x", "words": ["@nope"]}]}, ("urgent_topics", 0, "words", 0),
                 "no such concept; the concepts are: @card_lost_or_stolen", id="unknown concept"),
    pytest.param({"urgent_topics": [{"name": "x", "words": ["x"], "when": "sometimes"}]},
                 ("urgent_topics", 0, "when"), "must be one of: mentioned, requested", id="unknown when"),
    pytest.param({"routing_rules": [{"team": "Billing"}]}, ("routing_rules", 0, "_schema"),
                 "a routing rule needs words, channels or vip", id="routing rule without condition"),
    pytest.param({"routing_rules": [{"team": "B", "channels": ["sms"]}]}, ("routing_rules", 0, "channels", 0),
                 "must be one of: whatsapp, messenger, web", id="unknown channel kind"),
    pytest.param({"vip": {"priority": "critical"}}, ("vip", "priority"), "must be one of: low, normal, high, urgent",
                 id="unknown priority"),
    pytest.param({"disabled_rules": ["everything"]}, ("disabled_rules", 0), "unknown rule; the rules are:",
                 id="unknown rule"),
    pytest.param({"talk_to_agent": {"label": "Please talk to one of our agents"}}, ("talk_to_agent", "label"),
                 "Messenger's limit", id="label too long for a quick reply"),
    pytest.param({"missed_chat_timeout_seconds": 5}, ("missed_chat_timeout_seconds",), "between 30 and 86400",
                 id="timeout too short"),
    pytest.param({"colour": "blue"}, ("colour",), "Unknown field", id="unknown field"),
    pytest.param([], ("_schema",), "the bot settings are a JSON object", id="not an object"),
])
def test_validation_errors_say_what_is_wrong(document, path, expected):
    with pytest.raises(ValidationError) as error:
        validate_bot_settings(document)
    messages = messages_at(error.value.messages, path)
    assert any(expected in message for message in messages), messages
