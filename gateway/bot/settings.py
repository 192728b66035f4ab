"""The bot's admin-editable configuration: one JSON document in `settings` (key "bot").

An admin edits it as JSON (admin API, CLI); every field has a default, so a
missing row, or a document that sets only a few fields, means defaults for
the rest. Saving validates the document and stores it whole and normalized,
so what is stored is exactly what the bot runs with.

Two small wildcard syntaxes, matched case- and accent-insensitively on
words (punctuation is ignored):

- **Trigger patterns** (`trigger_phrases`) describe a whole sentence of the
  customer's message, like a shell glob: `*` is any text, even none.
  "agent" fires on the sentence "Agent!" but not on "agentic" nor on "my
  travel agent booked it"; "*agent" on any sentence ending in agent
  ("I want an agent", and "reagent" too); "* agent *" on the word agent
  anywhere; "speak to *" on a sentence starting with "speak to".
- **Terms** (every other word list: human request extras, frustration
  phrases, urgent topics, routing) are words or phrases mentioned anywhere
  in the message, as whole words. A `*` written against a word extends it
  ("refund*": refunds, refunded), and a lone `*` between two words stands
  for up to three words ("account * locked": "account is locked", "account
  has been locked"). "@name" stands for one of the built-in concepts of
  gateway/bot/intents.py, problems written in many ways and languages
  ("@card_lost_or_stolen", "@unrecognized_payment"...).

Patterns are checked here; gateway/bot/triggers.py compiles them.
"""

from __future__ import annotations

import copy
import functools
import itertools
import json
import logging

from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates_schema,
)

from channels.registry import KINDS
from gateway.bot.intents import CONCEPTS
from gateway.config import AI_PROVIDERS
from gateway.store.settings import get_setting, put_setting

log = logging.getLogger(__name__)

SETTINGS_KEY = "bot"
CHANNEL_KINDS = KINDS
# conversations.priority's CHECK constraint, lowest first.
PRIORITIES = ("low", "normal", "high", "urgent")
FRUSTRATION_ACTIONS = ("offer", "escalate")
# When an urgent topic escalates: whenever it is mentioned, or only when the
# customer asks for it or reports it (a question about it is answered).
TOPIC_WHEN = ("mentioned", "requested")
# Every trigger rule, in the order the engine evaluates them.
RULES = ("human_request", "trigger_phrase", "low_confidence", "model_needs_human", "repeated_question",
         "frustration", "urgent_topic", "vip")
PATTERN_MAX_LENGTH = 200
# Each `*` in a pattern multiplies the work of matching it; a few are plenty.
PATTERN_MAX_WILDCARDS = 4
# Messenger cuts quick-reply titles after 20 characters.
QUICK_REPLY_TITLE_MAX = 20


def check_trigger_pattern(pattern: str) -> None:
    """A trigger pattern must name at least one word: a bare "*" would fire on every message."""
    _check_common(pattern)


def check_term(term: str) -> None:
    """A term's lone `*` joins two words; leading or trailing it would join
    nothing. "@name" must name a built-in concept."""
    if term.startswith("@"):
        if term[1:] not in CONCEPTS:
            raise ValidationError(f"{term!r}: no such concept; the concepts are: "
                                  f"{', '.join('@' + name for name in CONCEPTS)}")
        return
    _check_common(term)
    words = term.split()
    if words[0] == "*" or words[-1] == "*":
        raise ValidationError(f"{term!r}: a lone * stands between two words, as in 'account * locked'")
    if any(first == second == "*" for first, second in itertools.pairwise(words)):
        raise ValidationError(f"{term!r}: one lone * already stands for up to three words")


def _check_common(pattern: str) -> None:
    if len(pattern) > PATTERN_MAX_LENGTH:
        raise ValidationError(f"at most {PATTERN_MAX_LENGTH} characters")
    if not any(ch.isalnum() for ch in pattern):
        raise ValidationError(f"{pattern!r} has no word to match: it would fire on every message")
    if pattern.count("*") > PATTERN_MAX_WILDCARDS:
        raise ValidationError(f"{pattern!r}: at most {PATTERN_MAX_WILDCARDS} wildcards (*) per pattern")


def _term_list(**kwargs) -> fields.List:
    return fields.List(fields.String(validate=check_term), **kwargs)


def _team_name(**kwargs) -> fields.String:
    return fields.String(validate=validate.Length(min=1, max=100, error="a team name of 1 to 100 characters"),
                         **kwargs)


def _priority(default: str) -> fields.String:
    return fields.String(load_default=default, validate=validate.OneOf(
        PRIORITIES, error=f"must be one of: {', '.join(PRIORITIES)}"))


def _between(low: float, high: float) -> validate.Range:
    return validate.Range(low, high, error=f"must be between {low} and {high}")


def _defaults(schema_class: type[Schema]):
    """load_default for a nested section: the section's own defaults (a fresh copy each time)."""
    return lambda: schema_class().load({})


class RepeatedQuestionSchema(Schema):
    # The customer asks the same question for the `times`-th time: escalate.
    times = fields.Integer(load_default=3, validate=_between(2, 10))
    # Jaccard similarity of two questions' content words above which they are "the same".
    similarity = fields.Float(load_default=0.6, validate=_between(0.1, 1.0))


class FrustrationSchema(Schema):
    action = fields.String(load_default="offer", validate=validate.OneOf(
        FRUSTRATION_ACTIONS, error="must be 'offer' (offer a human, escalate if it persists) or 'escalate'"))
    threshold = fields.Float(load_default=0.6, validate=_between(0.0, 1.0))
    # Added to the built-in phrases ("this is ridiculous", "not helping", ...).
    phrases = _term_list(load_default=list)


class UrgentTopicSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=60))
    words = _term_list(required=True, validate=validate.Length(min=1, error="list at least one word or phrase"))
    priority = _priority("high")
    # None: the team comes from the routing rules.
    team = _team_name(load_default=None, allow_none=True)
    # "requested": a refund asked for escalates, a question about refunds is
    # answered (and a person offered when the bot cannot answer it).
    when = fields.String(load_default="mentioned", validate=validate.OneOf(
        TOPIC_WHEN, error=f"must be one of: {', '.join(TOPIC_WHEN)}"))


class RoutingRuleSchema(Schema):
    team = _team_name(required=True)
    # The rule applies when the customer mentions one of these words ...
    words = _term_list(load_default=list)
    # ... on one of these channel kinds (None: any) ...
    channels = fields.List(fields.String(validate=validate.OneOf(
        CHANNEL_KINDS, error=f"must be one of: {', '.join(CHANNEL_KINDS)}")), load_default=None, allow_none=True)
    # ... and the contact is (true) or is not (false) a VIP (None: either).
    vip = fields.Boolean(load_default=None, allow_none=True)

    @validates_schema
    def has_a_condition(self, data, **kwargs):
        if not data["words"] and data["channels"] is None and data["vip"] is None:
            raise ValidationError("a routing rule needs words, channels or vip; "
                                  "the team for everything else is default_team")


class VipSchema(Schema):
    # contacts.vip always counts; this contact attribute counts too when its
    # value is one of `values` (case-insensitive). None: only contacts.vip.
    attribute = fields.String(load_default="tier", allow_none=True, validate=validate.Length(min=1, max=60))
    values = fields.List(fields.String(validate=validate.Length(min=1, max=100)),
                         load_default=lambda: ["gold", "platinum"])
    # A VIP goes to a human after this many bot answers (the triage answer).
    after_answers = fields.Integer(load_default=1, validate=_between(0, 20))
    priority = _priority("high")


class RulePrioritiesSchema(Schema):
    """The priority each rule gives an escalation (urgent topics and VIP have their own)."""

    human_request = _priority("normal")
    trigger_phrase = _priority("normal")
    low_confidence = _priority("normal")
    model_needs_human = _priority("normal")
    repeated_question = _priority("normal")
    frustration = _priority("high")


class GreetingSchema(Schema):
    """The bot's first message; a channel kind's own text wins over the default."""

    default = fields.String(load_default="Hi! I'm the virtual assistant. Ask me anything, "
                                         "or ask for a person at any time.",
                            validate=validate.Length(min=1, max=1000))
    whatsapp = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=1000))
    messenger = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=1000))
    web = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=1000))


class TalkToAgentSchema(Schema):
    """How the bot offers a human: a quick reply (Messenger) or button (widget)
    titled `label`; on WhatsApp, a short hint after the greeting."""

    label = fields.String(load_default="Talk to an agent", validate=validate.Length(
        min=1, max=QUICK_REPLY_TITLE_MAX, error=f"1 to {QUICK_REPLY_TITLE_MAX} characters (Messenger's limit)"))
    whatsapp_hint = fields.String(load_default="Reply AGENT at any time to talk to a person.",
                                  validate=validate.Length(min=1, max=300))


def _urgent_topics_default() -> list[dict]:
    # The words in the ten languages the engine reads; "@name" are the
    # concepts of gateway/bot/intents.py.
    topics = [
        {"name": "fraud", "priority": "urgent", "words": [
            "fraud*", "scam*", "unauthorized", "unauthorised", "identity theft", "phishing", "stolen card",
            "card * stolen", "didn't authori*", "did not authori*", "didn't make this purchase",
            "did not make this purchase", "don't recogni* * charge*", "do not recogni* * charge*",
            "@card_lost_or_stolen", "@card_misuse", "@unrecognized_payment",
            "estafa*", "arnaque*", "escroquer*", "betrug*", "golpe", "truffa*", "frode", "oplicht*",
            "dolandir*", "dhokha", "धोखा", "*احتيال*", "*نصاب*"]},
        {"name": "emergency", "priority": "urgent", "words": [
            "emergenc*", "life threatening", "in danger", "dangerous", "injured", "injury", "fire hazard",
            "caught fire", "on fire", "smoking", "sparking", "sparks", "electric shock", "exploded", "explosion",
            "gas leak", "choking", "swallowed", "poison*", "ambulance", "bleeding", "allergic reaction",
            "emergencia*", "urgence*", "notfall*", "emergenza*", "noodgeval*", "acil durum", "*طوارئ*", "*حريق*"]},
        {"name": "account_security", "priority": "urgent", "team": "Technical", "words": [
            "hacked", "hacker*", "hacking", "account * locked", "locked out", "account * compromised",
            "account * blocked", "account * suspended", "someone * into my account", "password * changed by",
            "@account_takeover", "@account_locked",
            "hackead*", "hackear*", "hackeo", "piratee", "pirate", "gehackt", "hackerat*",
            "hacklen*", "hack ho gaya", "hack hua", "*اختراق*", "*مخترق*", "*تهكير*"]},
        {"name": "outage", "priority": "high", "team": "Technical", "words": [
            "outage*", "down for everyone", "service * down", "site * down", "website * down", "app * down",
            "server* * down", "system* * down", "nothing is loading", "checkout * down", "page * down",
            "en panne", "ausfall", "storung", "fora do ar", "caido", "storing"]},
        {"name": "chargeback", "priority": "high", "team": "Billing", "words": [
            "chargeback*", "charge back", "dispute * charge*", "dispute * with my bank", "contact* my bank"]},
        {"name": "complaint", "priority": "high", "words": [
            "complain*", "grievance*", "reclam*", "fil* * claim*", "lodg* * claim*", "mak* * claim*",
            "customer claim*", "consumer claim*", "report * driver*", "report * courier*", "report * staff",
            "report * employee*", "queja*", "plainte*", "beschwer*", "queixa*", "lamentel*", "klacht*",
            "sikayet*", "shikayat", "*شكوي*", "*اشتكي*"]},
        {"name": "refund", "priority": "high", "team": "Billing", "when": "requested", "words": [
            "refund*", "money back", "reimburs*", "compensat*", "rebat*", "restitution*", "reverse * charge*",
            "reverse * fee*", "fee* reversed", "charge* reversed", "give * money back", "give * back * money", "return * money",
            "reembols*", "reintegr*", "devuelv* * dinero", "devolv* * dinero", "devolucion del dinero",
            "rembours*", "rendez * argent", "ruckerstatt*", "erstatt*", "ruckzahl*", "geld zuruck",
            "estorn*", "dinheiro de volta", "devolvam * dinheiro", "rimbors*", "soldi indietro", "ridatemi * soldi",
            "terugbetal*", "geld terug", "terugstort*", "iade*", "param* geri", "paise wapas", "paisa wapas",
            "paise vapas", "पैसे वापस", "रिफंड", "*استرداد*", "*استرجاع*", "*استرجع*", "رجعوا * فلوس*",
            "رد* فلوس*", "ترجع* * المصاري"]},
        {"name": "cancellation", "priority": "high", "when": "requested", "words": [
            "cancel*", "terminate my", "end my subscription", "pause * subscription", "unsubscrib*",
            "stop * subscription", "stop * membership", "kill * subscription", "@account_closure", "@unwanted_order",
            "anul*", "dar de baja", "darme de baja", "dame de baja", "den de baja", "annul*", "resili*", "storn*",
            "kundig*", "abbestell*", "disdir*", "disdett*", "annuleer*", "annuler*", "opzeg*", "iptal*",
            "band kar*", "*لغي*", "*لغاء*", "*لغوا*"]},
        {"name": "billing_error", "priority": "high", "team": "Billing", "words": [
            "billing error*", "billing mistake*", "billing issue*", "billing problem*", "overcharg*",
            "double charg*", "charged twice", "charged * twice", "billed twice", "wrong amount",
            "incorrect charge*", "incorrect bill*", "wrong charge*", "wrong invoice*", "charged * wrong",
            "@double_charge", "amount * invoice * wrong", "invoice * wrong"]},
    ]
    return [UrgentTopicSchema().load(topic) for topic in topics]


def _routing_rules_default() -> list[dict]:
    rules = [
        {"team": "Billing", "words": [
            "refund*", "bill", "bills", "billed", "billing", "chargeback*", "charge back", "invoice*", "payment*",
            "pay", "paid", "paying", "charge", "charged", "charges", "credit card", "debit card", "card",
            "subscription*", "cancel*", "overcharg*", "receipt*", "price*", "pricing", "money back",
            "reimburs*", "plan", "upgrade", "downgrade"]},
        {"team": "Technical", "words": [
            "error*", "bug", "bugs", "buggy", "crash*", "login", "log in", "logging in", "sign in", "signing in",
            "password*", "outage*", "not loading", "doesn't load", "won't load", "app", "website",
            "site", "hacked", "hacker*", "locked", "two factor", "2fa", "install*", "sync*",
            "glitch*", "freez*", "api", "integration*", "server*"]},
    ]
    return [RoutingRuleSchema().load(rule) for rule in rules]


class BotSettingsSchema(Schema):
    # None: the AI_PROVIDER environment variable decides (kb unless set).
    provider = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(
        AI_PROVIDERS, error=f"must be one of: {', '.join(AI_PROVIDERS)} (or null for AI_PROVIDER)"))
    confidence_threshold = fields.Float(load_default=0.5, validate=_between(0.0, 1.0))
    # This many consecutive answers below the threshold, and the next one escalates.
    low_confidence_streak = fields.Integer(load_default=2, validate=_between(1, 10))
    repeated_question = fields.Nested(RepeatedQuestionSchema, load_default=_defaults(RepeatedQuestionSchema))
    # Added to the built-in ways of asking for a human (other languages, house wording).
    human_request_phrases = _term_list(load_default=list)
    trigger_phrases = fields.List(fields.String(validate=check_trigger_pattern), load_default=list)
    frustration = fields.Nested(FrustrationSchema, load_default=_defaults(FrustrationSchema))
    urgent_topics = fields.List(fields.Nested(UrgentTopicSchema), load_default=_urgent_topics_default)
    routing_rules = fields.List(fields.Nested(RoutingRuleSchema), load_default=_routing_rules_default)
    default_team = _team_name(load_default="General")
    vip = fields.Nested(VipSchema, load_default=_defaults(VipSchema))
    rule_priorities = fields.Nested(RulePrioritiesSchema, load_default=_defaults(RulePrioritiesSchema))
    disabled_rules = fields.List(fields.String(validate=validate.OneOf(
        RULES, error=f"unknown rule; the rules are: {', '.join(RULES)}")), load_default=list)
    greeting = fields.Nested(GreetingSchema, load_default=_defaults(GreetingSchema))
    talk_to_agent = fields.Nested(TalkToAgentSchema, load_default=_defaults(TalkToAgentSchema))
    # A waiting conversation nobody answered within this long is a missed chat: the
    # team is alerted again (and an unresponsive assignee relieved of it); after
    # twice as long the customer is told and missed_chat_action applies. On
    # offline_or_missed channels the bot starts answering at the first step.
    missed_chat_timeout_seconds = fields.Integer(load_default=180, validate=_between(30, 86400))
    # "ticket": the conversation becomes a ticket; "bot": the bot answers while it keeps waiting.
    missed_chat_action = fields.String(load_default="ticket", validate=validate.OneOf(
        ("ticket", "bot"), error="must be ticket or bot"))
    # How often a waiting customer hears their place in line, at most (it is also
    # said whenever it improves by two places or reaches the front).
    queue_update_seconds = fields.Integer(load_default=180, validate=_between(30, 3600))
    # A ticket's due time, in the team's business hours after it was opened.
    ticket_due_business_hours = fields.Integer(load_default=8, validate=_between(1, 720))

    @validates_schema
    def unique_topic_names(self, data, **kwargs):
        names = [topic["name"] for topic in data.get("urgent_topics", [])]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValidationError(f"each urgent topic needs its own name: {', '.join(repeated)} repeated",
                                  "urgent_topics")


def validate_bot_settings(document: dict) -> dict:
    """The full normalized document (defaults filled in); ValidationError
    lists every problem by field."""
    if not isinstance(document, dict):
        raise ValidationError({"_schema": ["the bot settings are a JSON object"]})
    return BotSettingsSchema().load(document)


def default_bot_settings() -> dict:
    return BotSettingsSchema().load({})


def load_bot_settings(conn) -> dict:
    """The stored document, normalized; all defaults when none is stored.

    Fields the stored document has but this version no longer knows are
    ignored. A stored document that no longer validates (a rule tightened in
    an upgrade) is logged and replaced by the defaults until an admin saves
    a valid one, so the bot keeps working.
    """
    return normalized_settings(get_setting(conn, SETTINGS_KEY))


def normalized_settings(stored: dict | None) -> dict:
    """A stored document (None: nothing stored), normalized. The worker loads
    the settings for every message and validating them costs milliseconds,
    so each distinct document is normalized once per process (then copied,
    so that no caller can change the cached one)."""
    return copy.deepcopy(_normalized(json.dumps(stored, sort_keys=True)))


@functools.lru_cache(maxsize=8)
def _normalized(stored_json: str) -> dict:
    stored = json.loads(stored_json)
    if stored is None:
        return default_bot_settings()
    try:
        return BotSettingsSchema(unknown=EXCLUDE).load(stored)
    except ValidationError as error:
        log.error("stored bot settings are invalid (%s); running with the defaults", error.messages)
        return default_bot_settings()


def save_bot_settings(conn, document: dict) -> dict:
    """Validate and store the whole document; returns it as stored."""
    settings = validate_bot_settings(document)
    put_setting(conn, SETTINGS_KEY, settings)
    return settings
