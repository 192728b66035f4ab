"""The trigger engine, table by table: for each rule, phrasings that must fire
and look-alikes that must not (the rule alone, every other rule disabled);
then rule order, never twice, the low-confidence streak, routing and priorities."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from gateway.bot.settings import PRIORITIES, RULES
from gateway.bot.triggers import (
    TALK_TO_AGENT,
    ConversationState,
    Decision,
    TriggerConfig,
    Turn,
    confirms_solved,
    evaluate_message,
    evaluate_reply,
    judge_reply,
)
from workers.brain import Reply

DEFAULTS = TriggerConfig.from_settings()
BOT = ConversationState()



def only(rule: str, **settings) -> TriggerConfig:
    """The configuration with every rule but `rule` disabled."""
    return TriggerConfig.from_settings(dict(settings, disabled_rules=[other for other in RULES if other != rule]))


def message(text: str, state: ConversationState = BOT, config: TriggerConfig = DEFAULTS,
            payload: str | None = None) -> Decision:
    return evaluate_message(state, Turn(text, payload), config)


def table(rule: str, fire: list, quiet: list) -> list:
    """pytest params (case, fires) with readable ids."""
    return ([pytest.param(case, True, id=f"{rule} fires: {case}"[:80]) for case in fire]
            + [pytest.param(case, False, id=f"{rule} quiet: {case}"[:80]) for case in quiet])


# --- 1. explicit request for a human ------------------------------------------------------

HUMAN_REQUESTS = [
    "I want to talk to a person", "real agent please", "can I speak to someone", "representative", "human!",
    "operator", "live chat with a human", "Talk to an agent", "HUMAN PLEASE", "Can I get a real person?",
    "I'd like to speak with a representative", "I\u2019d like a human", "connect me to an agent",
    "put me through to customer service", "Is there a human I can talk to?", "Let me talk to your manager",
    "I need to speak to a supervisor now", "get me a human", "Any agents available?", "is anyone there??",
    "I don't want a bot, I want a person", "transfer me to a live agent please", "Why can't I reach a human?",
    "a real person please", "Agent.", "customer service", "I need a human", "please escalate", "Stop the bot",
    "I need help from a real person", "Can I chat with someone about my bill?", "speak to a human being",
    "¿Puedo hablar con un humano? No: I want to speak to a human", "I can not reach a human",
]
NOT_HUMAN_REQUESTS = [
    "I'm a human being and I need to change my address", "the agent of change", "humanity deserves better",
    "I work in the human resources department", "my travel agent booked it", "I talked to an agent yesterday",
    "Are you a real person?", "I don't want to talk to a person", "I don\u2019t want to talk to a human",
    "Talk to you later", "The person at the door signed for it", "Please update my personal details",
    "agents of S.H.I.E.L.D. is my favourite show", "My agent number is 1234", "human error on your side?",
    "Can the agent see my history?", "I need a travel agent", "I spoke with someone last week",
    "No need to connect me to an agent", "Where do I find my agent code?", "We are all people here",
    "I'm not a bot", "I'd rather not talk to a human",
]


@pytest.mark.parametrize("text, fires", table("human_request", HUMAN_REQUESTS, NOT_HUMAN_REQUESTS))
def test_human_request(text, fires):
    decision = message(text, config=only("human_request"))
    assert (decision.rule == "human_request") == fires, decision
    assert decision.escalate == fires


@pytest.mark.parametrize("kind", ["whatsapp", "messenger", "web"])
@pytest.mark.parametrize("text", ["Talk to an agent", ""])
def test_the_talk_to_agent_button_escalates_on_every_channel(kind, text):
    decision = message(text, state=ConversationState(channel_kind=kind), payload=TALK_TO_AGENT)
    assert decision.escalate and decision.rule == "human_request"
    assert decision.detail["via"] == "button"
    assert decision.excerpt == (text or TALK_TO_AGENT)


def test_another_payload_is_not_the_button():
    assert not message("Track my order", payload="TRACK_ORDER").fired


@pytest.mark.parametrize("text, fires", [
    ("yes please", True), ("Yes!", True), ("sure", True), ("ok, yes", True), ("please do", True),
    ("ok thanks", False), ("no thanks", False), ("yes I found my order number", False),
])
def test_yes_to_the_offer_of_a_person_is_a_request(text, fires):
    offered = ConversationState(human_offered=True)
    decision = message(text, state=offered, config=only("human_request"))
    assert (decision.rule == "human_request") == fires
    if fires:
        assert decision.detail["via"] == "accepted_offer"
    assert not message(text, config=only("human_request")).fired, "without an offer, 'yes' is just yes"


def test_admin_phrases_add_ways_to_ask_for_a_human():
    # Swedish: a language the engine does not read by itself.
    config = only("human_request", human_request_phrases=["prata med en manniska", "handlaggar*"])
    decision = message("Jag vill prata med en MÄNNISKA", config=config)
    assert decision.rule == "human_request" and decision.detail["via"] == "admin_phrase"
    assert message("En handläggare, tack", config=config).fired
    assert not message("Jag vill prata", config=config).fired


# --- 2. admin trigger phrases -----------------------------------------------------------

TRIGGER_PHRASES = [
    ("agent", "Agent!", True),
    ("agent", "agentic", False),
    ("agent", "my travel agent booked it", False),
    ("*agent", "I want an agent", True),
    ("*agent", "my travel agent booked it", False),
    ("* agent *", "my travel agent booked it", True),
    ("* agent *", "agentic workflows are neat", False),
    ("agent*", "Agentic workflows", True),
    ("speak to *", "Speak to a manager, please", True),
    ("speak to *", "SPEAK TO", True),
    ("speak to *", "Can I speak to a manager", False),
    ("speak to *", "speaker to the left", False),
    ("*speak to *", "Can I speak to a manager", True),
    ("réclamation*", "RECLAMATIONS en cours", True),
    ("*conseiller", "Je veux un Conseiller!", True),
    ("*conseiller", "Je veux un conseiller financier", False),
    ("can't reach *", "Can\u2019t reach anyone", True),
    ("* refund *", "Hi. Where is my refund? Thanks", True),
    ("agent", "Hello. Agent. Thanks", True),
    ("lawyer", "My lawyer will call", False),
]


@pytest.mark.parametrize("pattern, text, fires", [
    pytest.param(pattern, text, fires, id=f"{pattern!r} {'fires on' if fires else 'quiet on'} {text!r}")
    for pattern, text, fires in TRIGGER_PHRASES
])
def test_trigger_phrase(pattern, text, fires):
    decision = message(text, config=only("trigger_phrase", trigger_phrases=["nothing like this", pattern]))
    assert (decision.rule == "trigger_phrase") == fires, decision
    if fires:
        assert decision.detail["pattern"] == pattern
        assert decision.excerpt.rstrip(".!?") in text


def test_wildcards_stay_fast_on_long_messages():
    config = only("trigger_phrase", trigger_phrases=["*a*a*a*b", "* a * a * b"],
                  human_request_phrases=["a*a*a*b"])
    started = time.perf_counter()
    for text in ("a " * 2000, "a" * 4000, "aa " * 1300):
        assert not message(text, config=config).fired
    assert time.perf_counter() - started < 1.0


# --- 3. low confidence (evaluate_reply) ----------------------------------------------------


def replies(confidences: list[float], config: TriggerConfig = DEFAULTS) -> list[Decision]:
    """The decisions for consecutive answers, storing the streak as the pipeline does."""
    decisions, streak = [], 0
    for confidence in confidences:
        decision = evaluate_reply(ConversationState(low_confidence_streak=streak), Turn("where is it"), confidence,
                                  False, config)
        decisions.append(decision)
        streak = decision.low_confidence_streak
    return decisions


def test_two_unsure_answers_then_the_next_unsure_one_escalates():
    first, second, third = replies([0.2, 0.3, 0.1])
    assert [first.fired, second.fired] == [False, False]
    assert [first.low_confidence_streak, second.low_confidence_streak] == [1, 2]
    assert third.escalate and third.rule == "low_confidence"
    assert third.score == 0.1 and third.detail["threshold"] == 0.5 and third.detail["streak"] == 3


def test_a_confident_answer_resets_the_streak():
    decisions = replies([0.2, 0.3, 0.9, 0.2, 0.4])
    assert [d.low_confidence_streak for d in decisions] == [1, 2, 0, 1, 2]
    assert not any(d.fired for d in decisions)


def test_the_threshold_itself_is_confident():
    assert [d.low_confidence_streak for d in replies([0.5, 0.5, 0.5])] == [0, 0, 0]


def test_streak_length_and_threshold_are_configurable():
    config = TriggerConfig.from_settings({"low_confidence_streak": 1, "confidence_threshold": 0.8})
    first, second = replies([0.7, 0.75], config)
    assert not first.fired and second.rule == "low_confidence"


def test_the_model_asking_for_a_human_escalates():
    decision = evaluate_reply(BOT, Turn("my parcel is damaged and I'm hurt"), 0.9, True, DEFAULTS)
    assert decision.escalate and decision.rule == "model_needs_human"
    assert decision.low_confidence_streak == 0


# --- 4. the same question a third time -------------------------------------------------------

REPEATS = [
    (["Where is my order?", "where is my order??"], "Where is my order", True),
    (["How do I reset my password?", "I still can't reset my password"], "password reset not working", True),
    (["Where's my parcel?", "WHERE IS MY PARCEL"], "where is my parcel?!", True),
    (["Where is my order?", "it is not solved", "where is my order"], "Where is my order?", True),
    (["Where is my order?", "that didn't work", "Where is my order?"], "where is my order", True),
    (["Where is my order?"], "Where is my order?", False),
    (["Where is my order?", "Thanks, that worked!", "Where is my order?"], "where is my order", False),
    (["How do I reset my password?", "How do I change my email?"], "How do I reset my password", False),
    (["Do you ship to Canada?", "What are your opening hours?"], "Can I pay by card?", False),
    (["hello", "hello"], "hello", False),
    (["ok", "ok"], "ok", False),
]


@pytest.mark.parametrize("previous, text, fires", [
    pytest.param(previous, text, fires, id=f"repeat {'fires' if fires else 'quiet'}: {' / '.join(previous)} / {text}")
    for previous, text, fires in REPEATS
])
def test_repeated_question(previous, text, fires):
    state = ConversationState(previous_texts=tuple(previous))
    decision = message(text, state=state, config=only("repeated_question"))
    assert (decision.rule == "repeated_question") == fires, decision
    if fires:
        assert decision.detail["times"] >= 3 and decision.score >= 0.6


def test_a_solution_confirmed_by_the_customer_resets_repeats():
    state = ConversationState(previous_texts=("Where is my order?", "Where is my order?"), solved_confirmed=True)
    assert not message("Where is my order?", state=state, config=only("repeated_question")).fired


@pytest.mark.parametrize("text, solved", [
    ("Thanks, that worked!", True), ("perfect, thanks", True), ("It works now", True), ("problem solved", True),
    ("that didn't work", False), ("it's not fixed", False), ("is it fixed?", False), ("still not solved", False),
])
def test_confirms_solved(text, solved):
    assert confirms_solved(text) == solved


# --- 5. frustration -----------------------------------------------------------------------

FRUSTRATED = [
    "This is ridiculous", "You are not helping at all", "I have been waiting for two weeks",
    "waiting for 2 weeks and nothing", "This is the third time I ask!", "WHY IS MY ORDER STILL NOT HERE",
    "WHERE IS MY PACKAGE???", "useless bot", "I hate this", "This is unacceptable", "worst service ever",
    "I am so angry right now", "It's still not working", "Are you kidding me?", "What a waste of time",
    "I'm fed up with this", "Seriously?! Nothing works", "I already told you my order number",
    "I've asked three times now", "Nobody is helping me", "you don't understand", "what the hell is going on",
    "I'm really disappointed",
]
CALM = [
    "My package arrived damaged, can I get a replacement?", "I lost my card",
    "My dog died and I need to change the delivery address", "I was sick last week so I missed the delivery",
    "Where is my order?", "The app is not working", "Thanks, that worked!", "I LOVE IT, THANK YOU SO MUCH!!!",
    "Is this still available?", "Where is my order!!!", "The PDF from USPS says ATM", "NASA and IBM use your product",
    "I'm not angry, just curious", "That's terrible news about the weather lol", "I got an error message",
    "my payment failed", "I'm waiting for a delivery", "This is my first time ordering", "Great!!",
    "worst case I will pick it up myself", "I seriously need help with my order",
]


@pytest.mark.parametrize("text, fires", table("frustration", FRUSTRATED, CALM))
def test_frustration(text, fires):
    decision = message(text, config=only("frustration"))
    assert (decision.rule == "frustration") == fires, decision
    if fires:
        assert decision.offer_human and not decision.escalate, "the default action offers a person"
        assert decision.score >= 0.6 and -1 <= decision.detail["sentiment"] <= 1


def test_frustration_can_escalate_at_once():
    decision = message("This is ridiculous", config=only("frustration", frustration={"action": "escalate"}))
    assert decision.escalate and not decision.offer_human and decision.priority == "high"
    assert decision.excerpt == "ridiculous"


def test_frustration_after_an_offer_escalates():
    decision = message("this is useless!!!", state=ConversationState(human_offered=True), config=only("frustration"))
    assert decision.escalate and decision.detail["after_offer"] is True


def test_admin_phrases_add_to_frustration():
    config = only("frustration", frustration={"phrases": ["c'est nul", "pas content*"]})
    assert message("C'est nul, vraiment", config=config).rule == "frustration"
    assert not message("Bonjour, une question", config=config).fired


def test_a_higher_threshold_needs_more_signals():
    config = only("frustration", frustration={"threshold": 0.9})
    assert not message("This is ridiculous", config=config).fired
    assert message("THIS IS RIDICULOUS, I HATE IT!!!", config=config).fired


# --- 6. urgent and sensitive topics ----------------------------------------------------------

URGENT = [
    ("Someone made a fraudulent charge on my card", "fraud", "Billing", "urgent"),
    ("I think this is a scam", "fraud", "General", "urgent"),
    ("This is an emergency!", "emergency", "General", "urgent"),
    ("My account was hacked", "account_security", "Technical", "urgent"),
    ("I'm locked out of my account", "account_security", "Technical", "urgent"),
    ("my account has been locked", "account_security", "Technical", "urgent"),
    ("Your website is down", "outage", "Technical", "high"),
    ("I'll file a chargeback with my bank", "chargeback", "Billing", "high"),
    ("I want a refund", "refund", "Billing", "high"),
    ("Can I get my money back?", "refund", "Billing", "high"),
    ("Please cancel my subscription", "cancellation", "Billing", "high"),
    ("I was charged twice for one order", "billing_error", "Billing", "high"),
    ("You overcharged me!", "billing_error", "Billing", "high"),
    ("I want a refund because this looks like fraud", "fraud", "Billing", "urgent"),
]
NOT_URGENT = [
    "It's not an emergency, just a question about sizes", "I don't want a refund, just a replacement",
    "Is the website available in French?", "How do I lock my screen?", "The hackathon was fun",
    "Can I change the delivery date?", "Where can I download my invoice?",
]


@pytest.mark.parametrize("text, topic, team, priority", [
    pytest.param(*case, id=f"urgent fires: {case[0]}") for case in URGENT
])
def test_urgent_topic_escalates_with_its_team_and_priority(text, topic, team, priority):
    decision = message(text, config=only("urgent_topic"))
    assert decision.escalate and decision.rule == "urgent_topic", decision
    assert (decision.detail["topic"], decision.team, decision.priority) == (topic, team, priority)


@pytest.mark.parametrize("text", [pytest.param(text, id=f"urgent quiet: {text}") for text in NOT_URGENT])
def test_look_alikes_are_not_urgent(text):
    assert not message(text, config=only("urgent_topic")).fired


def test_urgent_topics_are_admin_data():
    config = only("urgent_topic", urgent_topics=[
        {"name": "recall", "words": ["recall*", "burn*"], "priority": "urgent", "team": "Safety"}])
    decision = message("Is my kettle part of the recall?", config=config)
    assert (decision.detail["topic"], decision.team, decision.priority) == ("recall", "Safety", "urgent")
    assert not message("I want a refund", config=config).fired


# The examples: requests and problems escalate, questions about how something works are answered.
RAISED = [
    ("I want my money back", "refund"), ("cancel my order 4512", "cancellation"), ("I was charged twice", "billing_error"),
    ("someone used my card", "fraud"), ("I think someone stole my password and changed my email", "account_security"),
    ("there is a payment on my card I don't recognize", "fraud"), ("I want to lodge a complaint", "complaint"),
    ("Quiero que me devuelvan el dinero", "refund"), ("Meine Karte wurde gestohlen", "fraud"),
]
ASKED = [
    "What is your refund policy?", "How do I cancel an item in my cart before checkout?",
    "Is the outage page updated automatically?", "Which plans can I cancel anytime?", "Can I cancel anytime?",
    "¿Cuál es su política de reembolsos?",
]


@pytest.mark.parametrize("text, topic", [pytest.param(*case, id=f"raised: {case[0]}") for case in RAISED])
def test_requests_and_problems_raise_their_topic(text, topic):
    decision = message(text, config=only("urgent_topic"))
    assert decision.escalate and decision.detail["topic"] == topic, decision


@pytest.mark.parametrize("text", [pytest.param(text, id=f"asked: {text}") for text in ASKED])
def test_questions_about_how_it_works_are_for_the_bot(text):
    assert not message(text).fired


def test_an_unsure_answer_to_a_question_about_a_sensitive_topic_offers_a_person():
    turn = Turn("What's the fee for cancelling my subscription?")
    assert not evaluate_message(BOT, turn, DEFAULTS).fired
    unsure = evaluate_reply(BOT, turn, 0.2, False, DEFAULTS)
    assert unsure.offer_human and not unsure.escalate and unsure.rule == "urgent_topic"
    assert unsure.detail["topic"] == "cancellation" and unsure.detail["asked"] is True
    assert unsure.low_confidence_streak == 1, "the unsure answer still counts for the streak"
    assert not evaluate_reply(BOT, turn, 0.8, False, DEFAULTS).fired, "a confident answer needs no person"
    assert not evaluate_reply(BOT, Turn("Do you ship to Canada?"), 0.2, False, DEFAULTS).fired
    assert not evaluate_reply(BOT, turn, 0.2, False, only("low_confidence")).fired


def test_an_answer_to_part_of_the_message_offers_a_person_for_the_rest():
    turn = Turn("Do you ship to Canada? Do you sell sofas in blue?")
    partly = Reply(text="We ship to Canada.", confidence=0.9, detail={"unanswered": ["Do you sell sofas in blue?"]})
    decision = judge_reply(BOT, turn, partly, DEFAULTS)
    assert decision.offer_human and not decision.escalate and decision.rule == "low_confidence"
    assert decision.detail["unanswered"] == ["Do you sell sofas in blue?"] and decision.low_confidence_streak == 0
    assert not judge_reply(BOT, turn, replace(partly, detail={}), DEFAULTS).fired
    assert not judge_reply(BOT, turn, partly, only("urgent_topic")).fired


def test_an_unsure_third_answer_still_escalates_for_low_confidence():
    streak = ConversationState(low_confidence_streak=2)
    decision = evaluate_reply(streak, Turn("What's the fee for cancelling?"), 0.2, False, DEFAULTS)
    assert decision.escalate and decision.rule == "low_confidence"


def test_a_topic_can_escalate_only_when_requested():
    config = only("urgent_topic", urgent_topics=[
        {"name": "warranty", "words": ["warrant*"], "when": "requested", "team": "Repairs"}])
    assert message("I want to claim my warranty", config=config).team == "Repairs"
    assert not message("How long is the warranty?", config=config).fired


def test_a_concept_is_named_with_an_at_sign_in_the_settings():
    config = only("urgent_topic", urgent_topics=[{"name": "lost", "words": ["@card_lost_or_stolen"]}])
    decision = message("I lost my card", config=config)
    assert decision.detail["topic"] == "lost" and decision.excerpt == "lost my card"


def test_a_lone_star_does_not_cross_a_negation():
    config = only("urgent_topic", urgent_topics=[{"name": "locked", "words": ["account * locked"]}])
    assert message("my account is locked", config=config).fired
    assert not message("my account is not locked, I just forgot the code", config=config).fired


# --- 7. VIP -----------------------------------------------------------------------------------


@pytest.mark.parametrize("vip, attributes, answers, fires", [
    pytest.param(True, {}, 1, True, id="vip flag after the triage answer"),
    pytest.param(True, {}, 0, False, id="vip flag before any answer"),
    pytest.param(False, {"tier": "gold"}, 1, True, id="gold tier"),
    pytest.param(False, {"tier": "Platinum"}, 2, True, id="Platinum tier, any case"),
    pytest.param(False, {"tier": ["bronze", "gold"]}, 1, True, id="tier list with gold"),
    pytest.param(False, {"tier": "silver"}, 3, False, id="silver tier"),
    pytest.param(False, {"plan": "gold"}, 1, False, id="gold in another attribute"),
    pytest.param(False, {}, 5, False, id="not a vip"),
])
def test_vip(vip, attributes, answers, fires):
    state = ConversationState(contact_vip=vip, contact_attributes=attributes, bot_answer_count=answers)
    decision = message("And how long does delivery take?", state=state, config=only("vip"))
    assert (decision.rule == "vip") == fires
    if fires:
        assert decision.escalate and decision.priority == "high"


def test_vip_rule_is_admin_data():
    config = only("vip", vip={"attribute": "plan", "values": ["enterprise"], "after_answers": 0, "priority": "urgent"})
    decision = message("Hi", state=ConversationState(contact_attributes={"plan": "Enterprise"}), config=config)
    assert decision.rule == "vip" and decision.priority == "urgent" and decision.excerpt == "plan=Enterprise"


# --- rule order, never twice, disabled rules ------------------------------------------------


def test_a_human_request_comes_before_an_urgent_topic_which_still_sets_priority_and_team():
    decision = message("I want a refund, let me talk to a person")
    assert decision.rule == "human_request" and decision.team == "Billing" and decision.priority == "high"
    assert decision.detail["topic"] == "refund"
    hacked = message("My account was hacked, I need a human now")
    assert (hacked.rule, hacked.team, hacked.priority) == ("human_request", "Technical", "urgent")
    calm = message("Can I talk to a person about my delivery?")
    assert calm.priority == "normal" and "topic" not in calm.detail


def test_a_disabled_urgent_topic_rule_does_not_raise_a_human_request():
    config = TriggerConfig.from_settings({"disabled_rules": ["urgent_topic"]})
    assert message("I want a refund, let me talk to a person", config=config).priority == "normal"


def test_a_trigger_phrase_comes_before_frustration():
    config = TriggerConfig.from_settings({"trigger_phrases": ["* ridiculous"]})
    assert message("This is ridiculous", config=config).rule == "trigger_phrase"


def test_a_repeated_question_comes_before_frustration():
    state = ConversationState(previous_texts=("Where is my order?", "Where is my order?"))
    assert message("WHERE IS MY ORDER???", state=state).rule == "repeated_question"


def test_an_offer_does_not_hide_a_later_escalation():
    decision = message("This is ridiculous, I want a refund")
    assert decision.escalate and decision.rule == "urgent_topic"


def test_escalating_frustration_comes_before_an_urgent_topic():
    config = TriggerConfig.from_settings({"frustration": {"action": "escalate"}})
    decision = message("This is ridiculous, I want a refund", config=config)
    assert decision.rule == "frustration" and decision.team == "Billing"


def test_the_offer_stands_when_nothing_escalates():
    decision = message("This is ridiculous")
    assert decision.offer_human and not decision.escalate and decision.rule == "frustration"


def test_a_vip_asking_for_a_person_is_a_human_request_with_vip_priority():
    state = ConversationState(contact_vip=True, bot_answer_count=3)
    decision = message("real person please", state=state)
    assert decision.rule == "human_request" and decision.priority == "high"


def test_disabled_rules_do_not_fire():
    config = TriggerConfig.from_settings({"disabled_rules": ["urgent_topic"]})
    assert not message("I want a refund", config=config).fired
    assert message("I want a refund", config=DEFAULTS).fired


def test_a_plain_question_fires_nothing():
    decision = message("Do you ship to Canada?")
    assert decision == Decision()


def test_never_twice():
    escalated = ConversationState(already_escalated=True, low_confidence_streak=4)
    decision = message("HUMAN NOW, this is ridiculous, refund!", state=escalated)
    assert not decision.fired and decision.rule is None
    assert decision.detail == {"not_evaluated": "the conversation was escalated already"}
    assert decision.low_confidence_streak == 4
    assert not evaluate_reply(escalated, Turn("?"), 0.0, True, DEFAULTS).fired


@pytest.mark.parametrize("status", ["queued", "assigned", "resolved", "ticket"])
def test_a_conversation_not_with_the_bot_is_not_evaluated(status):
    state = ConversationState(status=status)
    assert not message("Talk to an agent", state=state, payload=TALK_TO_AGENT).fired
    decision = evaluate_reply(state, Turn("?"), 0.0, True, DEFAULTS)
    assert not decision.fired and decision.detail == {"not_evaluated": f"the conversation is {status}"}


# --- routing and priorities -------------------------------------------------------------------

ROUTED = TriggerConfig.from_settings({
    "default_team": "Front desk",
    "urgent_topics": [],
    "routing_rules": [
        {"team": "VIP desk", "vip": True},
        {"team": "Billing", "words": ["refund*", "invoice*"]},
        {"team": "Technical", "words": ["crash*", "error*"]},
        {"team": "WhatsApp team", "channels": ["whatsapp"]},
    ],
})


@pytest.mark.parametrize("text, kind, vip, previous, team", [
    pytest.param("My invoice is wrong, talk to a person", "web", False, (), "Billing", id="words"),
    pytest.param("The app crashes, talk to a person", "web", False, (), "Technical", id="other words"),
    pytest.param("talk to a person", "web", False, ("I got an error on login",), "Technical", id="earlier message"),
    pytest.param("talk to a person", "web", False, ("refund?", "it crashed"), "Technical", id="latest earlier first"),
    pytest.param("talk to a person", "whatsapp", False, (), "WhatsApp team", id="channel"),
    pytest.param("talk to a person", "messenger", False, (), "Front desk", id="default team"),
    pytest.param("talk to a person about my invoice", "web", True, (), "VIP desk", id="vip first"),
])
def test_routing(text, kind, vip, previous, team):
    state = ConversationState(channel_kind=kind, contact_vip=vip, previous_texts=previous)
    decision = message(text, state=state, config=ROUTED)
    assert decision.rule == "human_request" and decision.team == team, decision.detail


@pytest.mark.parametrize("settings, state, text, priority", [
    pytest.param({}, BOT, "talk to a person", "normal", id="human request: normal"),
    pytest.param({"rule_priorities": {"human_request": "low"}}, BOT, "talk to a person", "low", id="configured"),
    pytest.param({"frustration": {"action": "escalate"}}, BOT, "this is useless", "high", id="frustration: high"),
    pytest.param({}, BOT, "my card was stolen", "urgent", id="fraud: urgent"),
    pytest.param({}, BOT, "refund please", "high", id="refund: high"),
    pytest.param({}, ConversationState(contact_vip=True, bot_answer_count=1), "ok", "high", id="vip: high"),
    pytest.param({}, ConversationState(contact_vip=True), "card stolen", "urgent", id="vip keeps urgent"),
])
def test_priorities(settings, state, text, priority):
    decision = message(text, state=state, config=TriggerConfig.from_settings(settings))
    assert decision.priority == priority and priority in PRIORITIES


# --- the decision and the configuration ------------------------------------------------------


def test_event_detail_records_rule_score_and_excerpt():
    decision = message("I was charged twice")
    assert decision.event_detail() == {
        "rule": "urgent_topic", "action": "escalate", "score": 1.0, "excerpt": "charged twice", "team": "Billing",
        "priority": "high", "detail": {"topic": "billing_error", "routing": "topic"},
    }


def test_long_excerpts_are_cut():
    decision = message("speak to a person " + "please " * 100, config=only("trigger_phrase",
                                                                       trigger_phrases=["speak to *"]))
    assert len(decision.excerpt) == 200 and decision.excerpt.endswith("\u2026")


def test_a_configuration_is_compiled_once_per_document():
    assert TriggerConfig.from_settings({"trigger_phrases": ["x *"]}) is TriggerConfig.from_settings(
        {"trigger_phrases": ["x *"]})
    assert TriggerConfig.from_settings() is TriggerConfig.from_settings({})
