"""The openai and anthropic responders: the real SDKs against the stand-ins
of tests/fakes/llm_api.py. What each sends (model, knowledge-base passages,
history, question, structured-output settings), and that every way a
provider can fail (malformed output, refusal, 429, 5xx, timeout, no
connection) is a failed Reply with a safe text, never an exception or raw JSON.
"""

import json
import logging
import socket
import time
from dataclasses import dataclass, replace

import pytest

from gateway.bot.triggers import ConversationState, TriggerConfig, Turn, judge_reply
from gateway.config import Config, ConfigError
from gateway.handoff.wording import say
from gateway.local.demo import sample_articles
from tests.fakes.llm_api import (
    GOOD_ANSWER,
    FakeAnthropic,
    FakeOpenAI,
    Scripted,
    ScriptedServer,
)
from workers.brain import Reply, responder_for
from workers.brain.judge import JUDGMENT, second_opinion
from workers.brain.llm import ANSWER_SCHEMA, conversation_messages

ARTICLES = [{"title": draft.title, "body": draft.body} for draft in sample_articles()]
OPENAI_KEY = "sk-test-openai-3f9a0c"
ANTHROPIC_KEY = "sk-ant-test-77c1e2"
SHIPPING_TIMES = "Standard shipping takes 3 to 5 business days within the continental US"
INTERNATIONAL = "International delivery takes 7 to 14 business days"
EXPRESS_COST = "Express delivery costs $14.95"


@pytest.fixture(scope="module")
def openai_api():
    server = FakeOpenAI().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def anthropic_api():
    server = FakeAnthropic().start()
    yield server
    server.stop()


@dataclass
class Provider:
    name: str
    api: ScriptedServer
    config: Config
    key: str
    model: str

    def responder(self, **changes):
        return responder_for(replace(self.config, **changes))

    def answer(self, question: str, history: list[dict] | None = None, **changes) -> Reply:
        return self.responder(**changes).answer(history or [], question, ARTICLES)

    def system_prompt(self, request: dict) -> str:
        return request["messages"][0]["content"] if self.name == "openai" else request["system"]

    def turns(self, request: dict) -> list[dict]:
        return request["messages"][1:] if self.name == "openai" else request["messages"]

    def judge_next(self, judgment: object, **options) -> None:
        """The judge's structured answer: JSON content for OpenAI, the judge_escalation tool call for Anthropic."""
        if self.name == "openai":
            self.api.answer_next(judgment, **options)
        else:
            self.api.respond_next(self.api.message([self.api.tool_use(judgment, name=JUDGMENT.tool_name)], "tool_use",
                                                   **options))

    def answer_in_prose_next(self, text: str) -> None:
        if self.name == "openai":
            self.api.answer_next(text)
        else:
            self.api.text_next(text)


@pytest.fixture(params=["openai", "anthropic"])
def provider(request, config, openai_api, anthropic_api) -> Provider:
    if request.param == "openai":
        openai_api.reset()
        return Provider("openai", openai_api, replace(
            config, ai_provider="openai", openai_api_key=OPENAI_KEY, openai_base_url=openai_api.url + "/v1",
            openai_model="gpt-test"), OPENAI_KEY, "gpt-test")
    anthropic_api.reset()
    return Provider("anthropic", anthropic_api, replace(
        config, ai_provider="anthropic", anthropic_api_key=ANTHROPIC_KEY, anthropic_base_url=anthropic_api.url,
        anthropic_model="claude-test"), ANTHROPIC_KEY, "claude-test")


FALLBACK_TEXT = say("cannot_answer_now")  # what a failed answer says, in English


def failed(provider: Provider, kind: str) -> Reply:
    return Reply(text=FALLBACK_TEXT, confidence=0.0, failed=True, detail={"error": kind, "provider": provider.name})


# --- a good answer ---------------------------------------------------------------------------


def test_a_good_answer_becomes_the_reply(provider):
    provider.api.answer_next({"text": "Standard shipping takes 3 to 5 business days.", "confidence": 0.85,
                              "needs_human": False, "sources": [1]})
    provider.api.answer_next({"text": "Let me get someone who can look into your order.", "confidence": 0.4,
                              "needs_human": True, "sources": []})

    first = provider.answer("how long does shipping take?")
    second = provider.answer("my order never arrived and I'm upset")

    assert first == Reply(text="Standard shipping takes 3 to 5 business days.", confidence=0.85,
                          sources=("Shipping times",), needs_human=False,
                          detail={"provider": provider.name, "model": provider.model})
    assert second.needs_human and second.confidence == 0.4 and second.sources == () and not second.failed


def test_the_request_carries_the_model_the_passages_the_history_and_the_question(provider):
    history = [
        {"sender": "bot", "text": "Hi! I'm the Maple & Moss assistant."},
        {"sender": "customer", "text": "hello"},
        {"sender": "bot", "text": "Hi! How can I help you today?"},
        {"sender": "customer", "text": "I ordered a lamp"},
        {"sender": "system", "text": "Ana joined the conversation"},
        {"sender": "agent", "text": "Thanks! What would you like to know?"},
        {"sender": "agent", "text": "Customer is in Toronto", "private": True},
    ]

    provider.answer("how long does shipping take to canada?", history)

    [request] = provider.api.sent()
    assert request["model"] == provider.model
    system = provider.system_prompt(request)
    assert INTERNATIONAL in system and SHIPPING_TIMES in system
    assert "Forgot password" not in system  # only the passages that match the question
    assert "[1] International shipping" in system or "[1] Shipping times" in system
    # The opening bot greeting is left out (the turns start with the
    # customer's, as every chat API accepts), and so are the system and private notes.
    assert provider.turns(request) == [
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": "Hi! How can I help you today?"},
        {"role": "user", "content": "I ordered a lamp"},
        {"role": "assistant", "content": "Thanks! What would you like to know?"},
        {"role": "user", "content": "how long does shipping take to canada?"},
    ]
    headers = provider.api.requests[0].headers
    if provider.name == "openai":
        assert headers["authorization"] == f"Bearer {OPENAI_KEY}"
        assert request["response_format"] == {"type": "json_schema", "json_schema": {
            "name": "customer_answer", "strict": True, "schema": ANSWER_SCHEMA}}
    else:
        assert headers.get("x-api-key") == ANTHROPIC_KEY or headers["authorization"] == f"Bearer {ANTHROPIC_KEY}"
        assert request["tools"] == [{"name": "answer_customer", "description": request["tools"][0]["description"],
                                     "input_schema": ANSWER_SCHEMA}]
        assert request["tool_choice"] == {"type": "tool", "name": "answer_customer"}
        assert request["max_tokens"] == 1024


def test_a_follow_up_question_also_gets_the_passages_of_the_previous_one(provider):
    history = [{"sender": "customer", "text": "how much is express shipping?"},
               {"sender": "bot", "text": "Express delivery costs $14.95 whatever the order size."}]

    provider.answer("and to canada?", history)

    system = provider.system_prompt(provider.api.sent()[0])
    assert INTERNATIONAL in system and EXPRESS_COST in system


def test_a_history_that_already_ends_with_the_question_does_not_repeat_it():
    history = [{"sender": "customer", "text": "hi"}, {"sender": "customer", "text": "where is my order?"}]
    assert conversation_messages(history, "where is my order?") == [
        {"role": "user", "content": "hi\n\nwhere is my order?"}]


def test_small_talk_is_answered_without_calling_the_provider(provider):
    reply = provider.answer("thanks!")

    assert reply.detail == {"small_talk": "thanks"} and not reply.failed
    assert provider.api.requests == []


# --- malformed answers -----------------------------------------------------------------------

MALFORMED = [
    pytest.param("Sure! Standard shipping takes 3 to 5 business days.", id="prose, not JSON"),
    pytest.param(["Standard shipping takes 3 to 5 business days."], id="a JSON array"),
    pytest.param({"text": "Standard shipping takes 3 to 5 business days."}, id="missing fields"),
    pytest.param({**GOOD_ANSWER, "confidence": "high"}, id="confidence 'high'"),
    pytest.param({**GOOD_ANSWER, "confidence": 7}, id="confidence above 1"),
    pytest.param({**GOOD_ANSWER, "confidence": -0.2}, id="confidence below 0"),
    pytest.param({**GOOD_ANSWER, "confidence": True}, id="confidence true"),
    pytest.param({**GOOD_ANSWER, "needs_human": "no"}, id="needs_human 'no'"),
    pytest.param({**GOOD_ANSWER, "text": "   "}, id="empty text"),
    pytest.param({**GOOD_ANSWER, "text": None}, id="null text"),
    pytest.param({**GOOD_ANSWER, "text": json.dumps(GOOD_ANSWER)}, id="text that is itself JSON"),
]


@pytest.mark.parametrize("answer", MALFORMED)
def test_malformed_output_is_a_failed_answer_with_a_safe_text(provider, answer):
    if isinstance(answer, str):
        provider.answer_in_prose_next(answer)
    else:
        provider.api.answer_next(answer)

    reply = provider.answer("how long does shipping take?")

    assert reply == failed(provider, "malformed")
    assert "{" not in reply.text and "3 to 5" not in reply.text


def test_sources_that_name_no_passage_are_ignored(provider):
    provider.api.answer_next({**GOOD_ANSWER, "sources": [2, 99, "1", True, 2]})

    reply = provider.answer("how long does shipping take?")

    assert not reply.failed and len(reply.sources) == 1 and reply.sources[0] != "Shipping times"


def test_openai_json_in_a_code_fence_is_read(config, openai_api):
    openai_api.reset()
    openai_api.answer_next("```json\n" + json.dumps(GOOD_ANSWER) + "\n```")

    reply = responder_for(replace(config, ai_provider="openai", openai_api_key=OPENAI_KEY,
                                  openai_base_url=openai_api.url + "/v1")).answer([], "shipping time?", ARTICLES)

    assert reply.text == GOOD_ANSWER["text"] and not reply.failed


@pytest.mark.parametrize("scripted", [
    pytest.param(lambda api: api.answer_next(json.dumps(GOOD_ANSWER)[:40], finish_reason="length"), id="cut off"),
    pytest.param(lambda api: api.respond_next(Scripted(200, "<html><body>Gateway login</body></html>")),
                 id="an HTML page"),
    pytest.param(lambda api: api.respond_next(Scripted(200, {"id": "chatcmpl-0", "choices": []})),
                 id="no choices"),
])
def test_openai_responses_without_an_answer_are_malformed(config, openai_api, scripted):
    openai_api.reset()
    scripted(openai_api)

    reply = responder_for(replace(config, ai_provider="openai", openai_api_key=OPENAI_KEY,
                                  openai_base_url=openai_api.url + "/v1")).answer([], "shipping time?", ARTICLES)

    assert reply.failed and reply.detail["error"] == "malformed" and reply.text == FALLBACK_TEXT


def test_anthropic_call_of_another_tool_is_malformed(config, anthropic_api):
    anthropic_api.reset()
    anthropic_api.respond_next(anthropic_api.message([anthropic_api.tool_use(GOOD_ANSWER, name="get_weather")],
                                                     "tool_use"))

    reply = responder_for(replace(config, ai_provider="anthropic", anthropic_api_key=ANTHROPIC_KEY,
                                  anthropic_base_url=anthropic_api.url, anthropic_model="claude-test")
                          ).answer([], "shipping time?", ARTICLES)

    assert reply.failed and reply.detail["error"] == "malformed"


def test_a_refusal_is_a_failed_answer(provider):
    provider.api.refuse_next()

    assert provider.answer("how long does shipping take?") == failed(provider, "refusal")


# --- API errors, timeouts, connections --------------------------------------------------------


def test_a_rate_limit_is_a_failed_answer_after_one_retry(provider):
    provider.api.fail_next(429, "Rate limit reached", "rate_limit_error")
    provider.api.fail_next(429, "Rate limit reached", "rate_limit_error")

    assert provider.answer("how long does shipping take?") == failed(provider, "rate_limit")
    assert len(provider.api.requests) == 2  # max_retries=1: our pipeline decides what comes next


def test_a_server_error_is_retried_once(provider):
    provider.api.fail_next(500, "The server had an error while processing your request.")

    reply = provider.answer("how long does shipping take?")

    assert not reply.failed and reply.text == GOOD_ANSWER["text"]
    assert len(provider.api.requests) == 2


@pytest.mark.parametrize("status", [500, 503, 529])
def test_server_errors_that_last_are_a_failed_answer(provider, status):
    provider.api.fail_next(status, "Overloaded")
    provider.api.fail_next(status, "Overloaded")

    assert provider.answer("how long does shipping take?") == failed(provider, "server_error")


@pytest.mark.parametrize("status, kind", [(401, "auth"), (403, "auth"), (400, "api_error"), (404, "api_error")])
def test_client_errors_are_failed_answers_without_a_retry(provider, status, kind):
    provider.api.fail_next(status, "Nope", "invalid_request_error")

    assert provider.answer("how long does shipping take?") == failed(provider, kind)
    assert len(provider.api.requests) == 1


def test_a_timeout_is_a_failed_answer(provider):
    # The stand-in holds both attempts for 2 s; the client gives up after 0.3 s each.
    provider.api.delay_next(2)
    provider.api.delay_next(2)

    reply = provider.answer("how long does shipping take?", provider_timeout=0.3)

    assert reply == failed(provider, "timeout")
    assert len(provider.api.requests) == 2


def test_a_refused_connection_is_a_failed_answer(provider):
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        closed_url = f"http://127.0.0.1:{placeholder.getsockname()[1]}"
    base_url = {"openai_base_url": closed_url + "/v1"} if provider.name == "openai" else {
        "anthropic_base_url": closed_url}

    assert provider.answer("how long does shipping take?", **base_url) == failed(provider, "connection")


def test_the_api_key_is_never_logged(provider, caplog):
    caplog.set_level(logging.DEBUG)
    provider.api.fail_next(401, f"Incorrect API key provided: {provider.key[:6]}...", "authentication_error")
    provider.api.answer_next("not json")

    assert provider.answer("how long does shipping take?").detail["error"] == "auth"
    assert provider.answer("how long does shipping take?").detail["error"] == "malformed"
    assert provider.answer("how long does shipping take?").failed is False

    assert f"{provider.name} responder failed (auth)" in caplog.text
    assert provider.key not in caplog.text


# --- choosing and building a responder ---------------------------------------------------------


@pytest.mark.parametrize("provider_name, variable", [("openai", "OPENAI_API_KEY"), ("anthropic", "ANTHROPIC_API_KEY")])
def test_an_llm_provider_without_its_key_is_a_clear_configuration_error(config, provider_name, variable):
    with pytest.raises(ConfigError, match=f"AI_PROVIDER={provider_name} needs {variable}"):
        responder_for(replace(config, ai_provider=provider_name))


def test_clients_use_the_configured_timeout_a_single_retry_and_the_sdk_default_url(config, monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    openai_client = responder_for(replace(config, ai_provider="openai", openai_api_key="sk-x",
                                          provider_timeout=7.5)).client
    anthropic_client = responder_for(replace(config, ai_provider="anthropic", anthropic_api_key="sk-ant-x",
                                             provider_timeout=7.5)).client

    assert str(openai_client.base_url) == "https://api.openai.com/v1/"
    assert str(anthropic_client.base_url) == "https://api.anthropic.com"
    for client in (openai_client, anthropic_client):
        assert client.timeout == 7.5 and client.max_retries == 1


# --- the judge: a second opinion on what the rules are unsure of -------------------------------

UNSURE = "Can I get a refund?"  # asked about, or asked for? The words do not say.


def opinion(provider: Provider, text: str, **changes):
    responder = provider.responder(**changes)
    reply = responder.answer([], text, ARTICLES)
    return second_opinion(responder, [], ConversationState(), Turn(text), reply, TriggerConfig.from_settings()), reply


def test_the_judge_is_asked_only_what_the_rules_are_unsure_of(provider):
    provider.api.respond_next(provider.api.default())  # the answer first, then the judgment
    provider.judge_next({"escalate": True, "reason": "The customer asks us to refund them."})
    judgment, reply = opinion(provider, UNSURE)

    assert judgment.escalate and judgment.reason == "The customer asks us to refund them."
    assert judgment.unsure == "whether the customer asks how refund works or asks us to act on it"
    [_, judge_request] = provider.api.sent()
    assert judgment.unsure in provider.system_prompt(judge_request)
    assert provider.turns(judge_request)[-1]["content"] == UNSURE
    decision = judge_reply(ConversationState(), Turn(UNSURE), reply, TriggerConfig.from_settings(), judgment)
    assert decision.escalate and decision.rule == "model_needs_human" and decision.team == "Billing"
    assert decision.detail["judge"] == judgment.reason and decision.detail["unsure"] == judgment.unsure

    provider.api.reset()
    assert opinion(provider, "How long does shipping take?")[0] is None
    assert len(provider.api.requests) == 1, "the rules are sure: only the answer is asked for"


def test_a_judgment_not_to_escalate_leaves_the_answer(provider):
    provider.api.respond_next(provider.api.default())
    provider.judge_next({"escalate": False, "reason": "They ask about the policy."})
    judgment, reply = opinion(provider, UNSURE)
    assert judgment is not None and not judgment.escalate
    assert not judge_reply(ConversationState(), Turn(UNSURE), reply, TriggerConfig.from_settings(), judgment).fired


@pytest.mark.parametrize("judgment", [{"escalate": "yes", "reason": "x"}, {"escalate": True, "reason": " "}, "[]"])
def test_a_malformed_judgment_is_no_opinion(provider, judgment):
    provider.api.respond_next(provider.api.default())
    provider.judge_next(judgment)
    assert opinion(provider, UNSURE)[0] is None


def test_a_slow_judge_is_no_opinion_within_its_budget(provider):
    provider.api.respond_next(provider.api.default())
    provider.judge_next({"escalate": True, "reason": "late"}, delay=2)
    started = time.monotonic()
    judgment, _ = opinion(provider, UNSURE, provider_timeout=0.3)
    assert judgment is None
    assert time.monotonic() - started < 1.5, "one try within the budget, no retry"
    assert len(provider.api.requests) == 2
