"""The bot brain end to end: every trigger observed from a signed webhook (or
the widget API) through the real RQ worker to the escalation.

For each case: the conversation is queued for the right team with the right
priority and reason, the audit trail has a `conversation.escalated` event
with the rule, score and excerpt, the customer receives the "I'm connecting
you with our <Team> team" notice at the provider stand-in, and the bot then
stays silent. Nothing of our own code is mocked; SQL reads only.
"""

from __future__ import annotations

import itertools

import pytest

from gateway.bot.settings import save_bot_settings
from gateway.bot.triggers import TALK_TO_AGENT
from gateway.handoff import wording
from gateway.queues import enqueue_inbound
from tests.helpers import (
    PSID,
    add_article,
    add_messenger_channel,
    add_web_channel,
    add_whatsapp_channel,
    bearer,
    fetch_all,
    fetch_one,
    messenger_events,
    messenger_item,
    messenger_text,
    post_messenger,
    post_twilio,
    staff_team,
    whatsapp_form,
    widget_session,
)

TWILIO_WEBHOOK = "/webhooks/twilio/whatsapp"
GREETING = "Hi! I'm the virtual assistant. Ask me anything, or ask for a person at any time."
WHATSAPP_HINT = "Reply AGENT at any time to talk to a person."
NOT_SURE = "I'm not sure I can answer that one."

ARTICLES = [
    ("Shipping times", "Standard shipping takes 3 to 5 business days. Express shipping arrives the next "
                       "business day if you order before 2pm."),
    ("Opening hours", "Our showroom is open Monday to Saturday from 9am to 6pm. We are closed on Sundays."),
    ("Reset your password", "To reset your password, click 'Forgot password' on the login page and follow the "
                            "link we email you. The link is valid for one hour."),
]
SHIPPING_QUESTION = "How long does shipping take?"
HOURS_QUESTION = "What are your opening hours?"
OFF_TOPIC = [
    "Do you sell garden furniture made of teak?",
    "Can I bring my dog to the yoga class?",
    "Is the parking lot next to the stadium free?",
    "Which football team won the league in 1998?",
    "Do you know a good recipe for lasagna?",
]
FRUSTRATED = "This is RIDICULOUS, you are NOT HELPING!!!"


@pytest.fixture(autouse=True)
def knowledge_base(db):
    for title, body in ARTICLES:
        add_article(db, title, body)


@pytest.fixture(autouse=True)
def staffed_teams(db):
    """Someone online in every team, taking conversations from the queue: an
    escalation queues (with no agent online it would become a ticket)."""
    for team in ("General", "Billing", "Technical"):
        staff_team(db, team)


# --- one customer on one channel ------------------------------------------------------------


class Chat:
    """A customer writing on one channel: `say` posts a signed webhook (or a
    widget API call) and runs the jobs; `received` is what the provider
    stand-in delivered to the customer, oldest first."""

    kind = ""

    def __init__(self, client, db, run_jobs):
        self.client, self.db, self.run_jobs = client, db, run_jobs
        self.numbers = itertools.count(1)

    def say(self, text: str, *, payload: str | None = None, run: bool = True) -> dict:
        self.post(text, payload)
        if run:
            self.run_jobs()
        return last_inbound(self.db)

    def post(self, text: str, payload: str | None) -> None:
        raise NotImplementedError

    def received(self) -> list[str]:
        raise NotImplementedError

    @property
    def conversation(self) -> dict:
        return conversation(self.db)


class WhatsAppChat(Chat):
    kind = "whatsapp"

    def __init__(self, client, db, run_jobs, fake_twilio):
        super().__init__(client, db, run_jobs)
        self.fake = fake_twilio
        add_whatsapp_channel(db)

    def post(self, text, payload):
        extra = {"ButtonPayload": payload, "ButtonText": text, "MessageType": "button"} if payload else {}
        response = post_twilio(self.client, TWILIO_WEBHOOK,
                               whatsapp_form(sid=f"SMc0ffee{next(self.numbers):026x}", body=text, **extra))
        assert response.status_code == 200, response.get_data(as_text=True)

    def received(self):
        return [form["Body"] for form in self.fake.sent()]


class MessengerChat(Chat):
    kind = "messenger"

    def __init__(self, client, db, run_jobs, fake_graph):
        super().__init__(client, db, run_jobs)
        self.fake = fake_graph
        add_messenger_channel(db)

    def post(self, text, payload):
        mid = f"m_customer_{next(self.numbers)}"
        if payload:
            item = messenger_item("message", {"mid": mid, "text": text, "quick_reply": {"payload": payload}})
        else:
            item = messenger_text(mid, text)
        response = post_messenger(self.client, messenger_events(item))
        assert response.status_code == 200, response.get_data(as_text=True)

    def sent(self) -> list[dict]:
        return self.fake.sent()

    def received(self):
        return [body["message"]["text"] for body in self.fake.delivered]


class WidgetChat(Chat):
    kind = "web"

    def __init__(self, client, db, run_jobs):
        super().__init__(client, db, run_jobs)
        channel = add_web_channel(db, "wk_pipeline_key")
        self.token = widget_session(client, channel.address)["visitor_token"]

    def post(self, text, payload):
        body = {"text": text, "client_id": f"client-{next(self.numbers):04d}"}
        if payload:
            body["payload"] = payload
        response = self.client.post("/api/widget/messages", json=body, headers=bearer(self.token))
        assert response.status_code == 201, response.get_data(as_text=True)

    def transcript(self) -> list[dict]:
        response = self.client.get("/api/widget/messages", headers=bearer(self.token))
        assert response.status_code == 200
        return response.get_json()["messages"]

    def received(self):
        # The widget's delivery: what the visitor's transcript shows them, once delivered.
        return [m["text"] for m in self.transcript() if m["direction"] == "outbound" and m["status"] == "delivered"]


@pytest.fixture
def whatsapp(client, db, run_jobs, fake_twilio):
    return WhatsAppChat(client, db, run_jobs, fake_twilio)


@pytest.fixture
def messenger(client, db, run_jobs, fake_graph):
    return MessengerChat(client, db, run_jobs, fake_graph)


@pytest.fixture
def widget(client, db, run_jobs):
    return WidgetChat(client, db, run_jobs)


# --- reading the outcome -------------------------------------------------------------------------


def conversation(db) -> dict:
    rows = fetch_all(db, """
        SELECT cv.*, t.name AS team_name FROM conversations cv LEFT JOIN teams t ON t.id = cv.team_id
         ORDER BY cv.id""")
    assert len(rows) == 1, rows
    return rows[0]


def last_inbound(db) -> dict:
    return fetch_one(db, "SELECT * FROM messages WHERE direction = 'inbound' ORDER BY id DESC LIMIT 1")


def outbound(db, sender: str | None = None) -> list[dict]:
    rows = fetch_all(db, "SELECT * FROM messages WHERE direction = 'outbound' ORDER BY id")
    return [row for row in rows if sender is None or row["sender"] == sender]


def events(db, kind: str) -> list[dict]:
    return fetch_all(db, "SELECT * FROM events WHERE kind = %s ORDER BY id", kind)


def notice(team: str) -> str:
    return f"I'm connecting you with our {team} team. You're next in line — about 3 minutes."


def assert_escalated(chat: Chat, message: dict, *, rule: str, team: str, priority: str) -> dict:
    """The conversation went to `team`'s queue because of `rule`, on `message`;
    the customer was told; returns the event's detail."""
    cv = chat.conversation
    assert cv["status"] == "queued"
    assert cv["team_name"] == team
    assert cv["priority"] == priority
    assert cv["escalation_reason"] == rule
    assert cv["escalated_at"] is not None
    (event,) = events(chat.db, "conversation.escalated")
    assert event["conversation_id"] == cv["id"]
    assert event["message_id"] == message["id"]
    detail = event["detail"]
    assert detail["rule"] == rule
    assert detail["action"] == "escalate"
    assert detail["team"] == team and detail["priority"] == priority
    assert isinstance(detail["score"], (int, float)) and 0 <= detail["score"] <= 1
    assert detail["excerpt"]
    assert cv["escalation_detail"] == detail
    (system,) = outbound(chat.db, "system")
    assert system["text"] == notice(team)
    assert system["reply_to_id"] is None or system["reply_to_id"] == message["id"]
    assert message["processed_at"] is not None
    assert chat.received()[-1] == notice(team)
    return detail


def assert_bot_stays_silent(chat: Chat, text: str = "Hello? Are you still there? What are your opening hours?"):
    """The next customer message is stored and processed, and nobody answers it."""
    before_db, before_provider = len(outbound(chat.db)), len(chat.received())
    message = chat.say(text)
    assert message["text"] == text
    assert message["processed_at"] is not None
    assert len(outbound(chat.db)) == before_db
    assert len(chat.received()) == before_provider
    assert chat.conversation["status"] == "queued"
    assert len(events(chat.db, "conversation.escalated")) == 1


def assert_answered(chat: Chat, message: dict) -> dict:
    """The bot answered `message`, the conversation still with the bot."""
    assert message["processed_at"] is not None
    replies = [row for row in outbound(chat.db, "bot") if row["reply_to_id"] == message["id"]]
    assert len(replies) == 1, replies
    assert chat.conversation["status"] == "bot"
    assert not events(chat.db, "conversation.escalated")
    return replies[0]


# --- 1. a request for a human -------------------------------------------------------------


def test_whatsapp_text_request_for_someone_escalates_at_once(whatsapp):
    message = whatsapp.say("can I speak to someone?")

    detail = assert_escalated(whatsapp, message, rule="human_request", team="General", priority="normal")
    assert detail["score"] == 1.0
    assert "speak to someone" in detail["excerpt"]
    assert detail["detail"]["via"] == "words"
    # Before the bot answered: the customer gets only the notice.
    assert outbound(whatsapp.db, "bot") == []
    assert whatsapp.received() == [notice("General")]
    assert_bot_stays_silent(whatsapp)


def test_whatsapp_hint_reply_agent_escalates(whatsapp):
    first = whatsapp.say(SHIPPING_QUESTION)
    assert assert_answered(whatsapp, first)["text"].endswith(WHATSAPP_HINT)

    message = whatsapp.say("AGENT")

    assert_escalated(whatsapp, message, rule="human_request", team="General", priority="normal")
    assert_bot_stays_silent(whatsapp)


def test_messenger_quick_reply_offered_on_first_answer_and_pressed(messenger):
    first = messenger.say(SHIPPING_QUESTION)

    assert_answered(messenger, first)
    (answer,) = messenger.sent()
    assert answer["recipient"] == {"id": PSID}
    assert answer["message"]["text"].startswith(GREETING)
    assert "3 to 5 business days" in answer["message"]["text"]
    assert answer["message"]["quick_replies"] == [
        {"content_type": "text", "title": "Talk to an agent", "payload": TALK_TO_AGENT}]

    message = messenger.say("Talk to an agent", payload=TALK_TO_AGENT)

    assert message["payload"] == TALK_TO_AGENT
    detail = assert_escalated(messenger, message, rule="human_request", team="General", priority="normal")
    assert detail["detail"]["via"] == "button"
    assert detail["excerpt"] == "Talk to an agent"
    # The notice is a plain message: no quick reply to press again.
    assert "quick_replies" not in messenger.sent()[-1]["message"]
    assert_bot_stays_silent(messenger)


def test_widget_talk_to_agent_button_payload_escalates(widget):
    message = widget.say("Talk to an agent", payload=TALK_TO_AGENT)

    detail = assert_escalated(widget, message, rule="human_request", team="General", priority="normal")
    assert detail["detail"]["via"] == "button"
    assert [m["sender"] for m in widget.transcript()] == ["customer", "system"]
    assert_bot_stays_silent(widget)


def test_widget_first_answer_offers_the_talk_to_agent_button(widget):
    widget.say(SHIPPING_QUESTION)

    customer, bot = widget.transcript()
    assert bot["sender"] == "bot" and bot["text"].startswith(GREETING)
    assert bot["quick_replies"] == [{"title": "Talk to an agent", "payload": TALK_TO_AGENT}]

    message = widget.say(bot["quick_replies"][0]["title"], payload=bot["quick_replies"][0]["payload"])

    assert_escalated(widget, message, rule="human_request", team="General", priority="normal")


# --- 2. admin trigger phrases ----------------------------------------------------------------


def test_admin_trigger_phrase_escalates(messenger, db):
    with db() as conn:
        save_bot_settings(conn, {"trigger_phrases": ["*lawyer*"]})
    first = messenger.say(SHIPPING_QUESTION)
    assert_answered(messenger, first)

    message = messenger.say("Thanks. By the way, my LAWYER will hear about the last delivery.")

    detail = assert_escalated(messenger, message, rule="trigger_phrase", team="General", priority="normal")
    assert detail["detail"]["pattern"] == "*lawyer*"
    assert detail["excerpt"] == "By the way, my LAWYER will hear about the last delivery."
    assert_bot_stays_silent(messenger)


def test_admin_trigger_phrase_with_inner_wildcard_and_its_priority(whatsapp, db):
    with db() as conn:
        save_bot_settings(conn, {"trigger_phrases": ["*speak to * manager*"], "disabled_rules": ["human_request"],
                                 "rule_priorities": {"trigger_phrase": "high"}})

    message = whatsapp.say("I need to speak to your store manager today")

    detail = assert_escalated(whatsapp, message, rule="trigger_phrase", team="General", priority="high")
    assert detail["detail"]["pattern"] == "*speak to * manager*"
    assert_bot_stays_silent(whatsapp)


def test_trigger_phrase_is_whole_word_aware(widget, db):
    with db() as conn:
        save_bot_settings(conn, {"trigger_phrases": ["agent"]})

    message = widget.say("My travel agent booked it. How long does shipping take?")

    assert_answered(widget, message)


# --- 3. low confidence -------------------------------------------------------------------------


def test_third_unsure_answer_in_a_row_escalates(whatsapp):
    for index, question in enumerate(OFF_TOPIC[:2]):
        message = whatsapp.say(question)
        reply = assert_answered(whatsapp, message)
        assert NOT_SURE in reply["text"]
        assert reply["bot_confidence"] < 0.5
        assert whatsapp.conversation["low_confidence_streak"] == index + 1

    message = whatsapp.say(OFF_TOPIC[2])

    detail = assert_escalated(whatsapp, message, rule="low_confidence", team="General", priority="normal")
    assert detail["score"] < 0.5
    assert detail["detail"]["threshold"] == 0.5
    assert detail["detail"]["streak"] == 3
    assert detail["excerpt"] == OFF_TOPIC[2]
    # The third unsure answer is not sent: the notice replaces it.
    assert len(outbound(whatsapp.db, "bot")) == 2
    assert len(whatsapp.received()) == 3
    assert_bot_stays_silent(whatsapp)


def test_a_confident_answer_resets_the_low_confidence_streak(messenger):
    for question in OFF_TOPIC[:2]:
        assert NOT_SURE in assert_answered(messenger, messenger.say(question))["text"]
    reply = assert_answered(messenger, messenger.say(HOURS_QUESTION))
    assert "9am to 6pm" in reply["text"] and reply["bot_confidence"] >= 0.5
    assert messenger.conversation["low_confidence_streak"] == 0
    for question in OFF_TOPIC[2:4]:
        assert NOT_SURE in assert_answered(messenger, messenger.say(question))["text"]

    message = messenger.say(OFF_TOPIC[4])

    assert_escalated(messenger, message, rule="low_confidence", team="General", priority="normal")


def test_low_confidence_streak_length_comes_from_the_settings(widget, db):
    with db() as conn:
        save_bot_settings(conn, {"low_confidence_streak": 1})
    assert NOT_SURE in assert_answered(widget, widget.say(OFF_TOPIC[0]))["text"]

    message = widget.say(OFF_TOPIC[1])

    assert_escalated(widget, message, rule="low_confidence", team="General", priority="normal")


# --- 4. the same question again ----------------------------------------------------------------


def test_same_question_a_third_time_escalates(widget):
    for _ in range(2):
        reply = assert_answered(widget, widget.say(SHIPPING_QUESTION))
        assert reply["bot_confidence"] >= 0.5

    message = widget.say(SHIPPING_QUESTION)

    detail = assert_escalated(widget, message, rule="repeated_question", team="General", priority="normal")
    assert detail["detail"]["times"] == 3
    assert detail["score"] == 1.0
    assert detail["excerpt"] == SHIPPING_QUESTION
    assert_bot_stays_silent(widget)


def test_same_question_after_thanks_that_worked_is_a_new_question(whatsapp):
    for _ in range(2):
        assert_answered(whatsapp, whatsapp.say(SHIPPING_QUESTION))
    assert_answered(whatsapp, whatsapp.say("thanks, that worked"))

    message = whatsapp.say(SHIPPING_QUESTION)

    reply = assert_answered(whatsapp, message)
    assert "3 to 5 business days" in reply["text"]


def test_thanks_that_worked_gets_a_thanks_not_an_unsure_answer(whatsapp):
    assert_answered(whatsapp, whatsapp.say(SHIPPING_QUESTION))

    reply = assert_answered(whatsapp, whatsapp.say("thanks, that worked"))

    assert NOT_SURE not in reply["text"]
    assert whatsapp.conversation["low_confidence_streak"] == 0


def test_confirming_answers_never_escalates_for_low_confidence(messenger):
    for question in (OFF_TOPIC[0], "thanks, that worked", "great, that helped, it works now"):
        message = messenger.say(question)

    assert messenger.conversation["escalation_reason"] is None
    assert_answered(messenger, message)


# --- 5. frustration ---------------------------------------------------------------------------


def test_frustration_offers_a_person_then_escalates_when_it_persists(messenger):
    offered = messenger.say(FRUSTRATED)

    reply = assert_answered(messenger, offered)
    assert reply["metadata"]["offered_human"] is True
    (offer,) = events(messenger.db, "trigger.offered_human")
    assert offer["message_id"] == offered["id"]
    assert offer["detail"]["rule"] == "frustration"
    assert offer["detail"]["action"] == "offer_human"
    assert offer["detail"]["score"] >= 0.6
    assert offer["detail"]["excerpt"] == "ridiculous"
    sent = messenger.sent()[-1]["message"]
    assert sent["quick_replies"] == [{"content_type": "text", "title": "Talk to an agent", "payload": TALK_TO_AGENT}]

    message = messenger.say("STILL NOT HELPING, this is USELESS!!!")

    detail = assert_escalated(messenger, message, rule="frustration", team="General", priority="high")
    assert detail["detail"]["after_offer"] is True
    assert detail["score"] >= 0.6
    assert_bot_stays_silent(messenger)


def test_frustration_offer_on_whatsapp_is_the_hint(whatsapp):
    reply = assert_answered(whatsapp, whatsapp.say(FRUSTRATED))

    assert reply["text"].endswith(WHATSAPP_HINT)
    assert whatsapp.received()[-1].endswith(WHATSAPP_HINT)
    assert len(events(whatsapp.db, "trigger.offered_human")) == 1


def test_first_frustration_after_a_normal_answer_is_an_offer(messenger):
    assert_answered(messenger, messenger.say(SHIPPING_QUESTION))

    offered = messenger.say(FRUSTRATED)

    assert messenger.conversation["escalation_reason"] is None
    assert_answered(messenger, offered)
    assert len(events(messenger.db, "trigger.offered_human")) == 1


def test_frustration_escalates_at_once_when_configured(widget, db):
    with db() as conn:
        save_bot_settings(conn, {"frustration": {"action": "escalate"}})

    message = widget.say(FRUSTRATED)

    detail = assert_escalated(widget, message, rule="frustration", team="General", priority="high")
    assert detail["score"] >= 0.6
    assert detail["excerpt"] == "ridiculous"
    assert not events(widget.db, "trigger.offered_human")
    assert_bot_stays_silent(widget)


# --- 6. urgent topics -----------------------------------------------------------------------------


def test_hacked_account_goes_to_technical_urgently(whatsapp):
    message = whatsapp.say("someone hacked my account")

    detail = assert_escalated(whatsapp, message, rule="urgent_topic", team="Technical", priority="urgent")
    assert detail["detail"]["topic"] == "account_security"
    assert detail["excerpt"] == "hacked"
    assert_bot_stays_silent(whatsapp)


def test_refund_goes_to_billing_with_high_priority(messenger):
    message = messenger.say("I want a refund for order #12345")

    detail = assert_escalated(messenger, message, rule="urgent_topic", team="Billing", priority="high")
    assert detail["detail"]["topic"] == "refund"
    assert detail["excerpt"] == "refund"
    assert_bot_stays_silent(messenger)


def test_escalating_message_details_are_collected(messenger):
    messenger.say("I want a refund for order #12345")

    assert messenger.conversation["collected"].get("order_numbers") == ["12345"]


def test_details_given_before_the_escalation_are_collected(widget):
    assert_answered(widget, widget.say("Where is order #12345? How long does shipping take?"))

    message = widget.say("Then I want a refund")

    assert_escalated(widget, message, rule="urgent_topic", team="Billing", priority="high")
    assert widget.conversation["collected"]["order_numbers"] == ["12345"]


# --- 7. VIP -------------------------------------------------------------------------------------


def test_vip_goes_to_a_person_after_the_first_answer(whatsapp, db):
    first = whatsapp.say(SHIPPING_QUESTION, run=False)
    with db() as conn:
        conn.execute("UPDATE contacts SET vip = true")
    whatsapp.run_jobs()
    reply = assert_answered(whatsapp, last_inbound(db))
    assert reply["reply_to_id"] == first["id"]

    message = whatsapp.say(HOURS_QUESTION)

    detail = assert_escalated(whatsapp, message, rule="vip", team="General", priority="high")
    assert detail["excerpt"] == "vip"
    assert detail["detail"]["bot_answers"] == 1
    assert_bot_stays_silent(whatsapp)


def test_vip_raises_the_priority_of_another_rule(messenger, db):
    messenger.say(SHIPPING_QUESTION, run=False)
    with db() as conn:
        conn.execute("UPDATE contacts SET vip = true")
    messenger.run_jobs()

    message = messenger.say("can I speak to someone?")

    assert_escalated(messenger, message, rule="human_request", team="General", priority="high")


# --- greeting and offer --------------------------------------------------------------------------


def test_greeting_once_and_whatsapp_hint_on_the_first_answer(whatsapp):
    first = assert_answered(whatsapp, whatsapp.say(SHIPPING_QUESTION))
    second = assert_answered(whatsapp, whatsapp.say(HOURS_QUESTION))

    assert first["text"].startswith(GREETING + "\n\n")
    assert first["text"].endswith("\n\n" + WHATSAPP_HINT)
    assert "3 to 5 business days" in first["text"]
    assert not second["text"].startswith(GREETING)
    assert GREETING not in second["text"]
    assert WHATSAPP_HINT not in second["text"]
    assert "9am to 6pm" in second["text"]
    assert whatsapp.received() == [first["text"], second["text"]]


def test_messenger_second_answer_has_no_greeting_nor_quick_reply(messenger):
    messenger.say(SHIPPING_QUESTION)
    messenger.say(HOURS_QUESTION)

    first, second = (body["message"] for body in messenger.sent())
    assert first["text"].startswith(GREETING) and "quick_replies" in first
    assert not second["text"].startswith(GREETING) and "quick_replies" not in second


# --- the customer's language ----------------------------------------------------------------------

SPANISH_GREETING = wording.say("greeting", "es")


def test_a_customer_writing_in_spanish_hears_the_bot_in_spanish(whatsapp):
    first = assert_answered(whatsapp, whatsapp.say("¿Venden muebles de jardín?"))
    assert first["text"] == "\n\n".join([SPANISH_GREETING, wording.say("not_sure", "es"),
                                          wording.say("whatsapp_hint", "es")])
    # "Agente" is how the Spanish hint says to ask for one.
    message = whatsapp.say("agente")
    cv = whatsapp.conversation
    assert (cv["status"], cv["escalation_reason"], cv["escalation_detail"]["language"]) == (
        "queued", "human_request", "es")
    assert whatsapp.received()[-1] == "Te estoy conectando con el equipo de General. Eres el siguiente en la fila " \
                                       "— unos 3 minutos."
    assert message["processed_at"] is not None


def test_a_language_without_sentences_hears_english(messenger):
    messenger.say("Bonjour, vendez-vous des meubles de jardin ?")
    [first] = (body["message"] for body in messenger.sent())
    assert first["text"].startswith(GREETING) and NOT_SURE in first["text"]


def test_an_admins_own_greeting_is_said_as_written(widget, db):
    with db() as conn:
        save_bot_settings(conn, {"greeting": {"default": "¡Bienvenido a la tienda!"}})
    bot = assert_answered(widget, widget.say("¿Venden muebles de jardín?"))
    assert bot["text"].startswith("¡Bienvenido a la tienda!\n\n")


# --- idempotency and people ----------------------------------------------------------------------


def test_running_the_escalating_job_twice_escalates_once(whatsapp, redis):
    message = whatsapp.say("can I speak to someone?")
    assert_escalated(whatsapp, message, rule="human_request", team="General", priority="normal")

    enqueue_inbound(redis, message["id"])
    enqueue_inbound(redis, message["id"])
    whatsapp.run_jobs()

    assert_escalated(whatsapp, message, rule="human_request", team="General", priority="normal")
    assert len(outbound(whatsapp.db)) == 1
    assert whatsapp.received() == [notice("General")]


def test_running_a_low_confidence_escalation_twice_escalates_once(messenger, redis):
    for question in OFF_TOPIC[:2]:
        messenger.say(question)
    message = messenger.say(OFF_TOPIC[2])

    enqueue_inbound(redis, message["id"])
    messenger.run_jobs()

    assert_escalated(messenger, message, rule="low_confidence", team="General", priority="normal")
    assert len(messenger.received()) == 3


def test_a_person_owns_the_conversation_the_bot_stays_silent(widget, db):
    assert_answered(widget, widget.say(SHIPPING_QUESTION))
    with db() as conn:
        conn.execute("UPDATE conversations SET status = 'assigned'")

    message = widget.say("can I speak to someone? This is RIDICULOUS!!! someone hacked my account")

    assert message["processed_at"] is not None
    assert len(outbound(db)) == 1
    assert not events(db, "conversation.escalated")
    assert widget.conversation["status"] == "assigned"
    assert widget.conversation["escalation_reason"] is None
