"""An agent's reply, from the API call to what the customer receives at the
Twilio, Graph and SMTP stand-ins: a queued conversation is claimed by the
reply (the customer hears who joined first), a hybrid channel's bot
conversation is taken over for good, and the messaging windows decide
between free text, a WhatsApp template, Messenger's HUMAN_AGENT tag and
email."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from gateway.store.channels import set_channel_settings
from tests.agents import (
    conversation_row,
    customer_silence,
    joined_lines,
    make_agent,
    team,
    waiting_conversation,
)
from tests.helpers import (
    add_article,
    add_messenger_channel,
    add_whatsapp_channel,
    fetch_all,
    fetch_one,
    messenger_events,
    messenger_text,
    post_messenger,
    post_twilio,
    seed_conversation,
    whatsapp_form,
)

CUSTOMER = "whatsapp:+15551230001"
PSID = "6543210987654321"
FOLLOW_UP = {"name": "follow_up", "content_sid": "HX" + "ab" * 16, "variables": ["name"],
             "body": "Hi {{1}}, we have news about your request. Reply to continue."}
SHIPPING = "How long does shipping take?"


@pytest.fixture
def config(config, request):
    """SMTP_URL set (web and workers) for the tests that ask for the smtp stand-in."""
    if "smtp" not in request.fixturenames:
        return config
    server = request.getfixturevalue("smtp")
    server.reset()
    return replace(config, smtp_url=server.url())


@pytest.fixture
def billing(db):
    return team(db, "Billing")


@pytest.fixture
def maya(app, db, billing):
    return make_agent(app, db, "Maya Lopez", teams=(billing,))


def received(fake_twilio, address: str = CUSTOMER) -> list[str]:
    """What the customer got on WhatsApp: the text, or the template's Content SID."""
    return [form.get("Body") or form["ContentSid"] for form in fake_twilio.sent() if form["To"] == address]


def agent_messages(db, conversation_id: int) -> list[dict]:
    return fetch_all(db, "SELECT * FROM messages WHERE conversation_id = %s AND sender = 'agent' ORDER BY id",
                     conversation_id)


# --- who replies, and what the customer sees first ---------------------------------------------


def test_a_reply_to_a_queued_conversation_claims_it_and_follows_the_joined_line(
        db, run_jobs, fake_twilio, billing, maya):
    conversation_id = waiting_conversation(db, add_whatsapp_channel(db), CUSTOMER, billing)
    with db() as conn:
        conn.execute("INSERT INTO webhook_subscriptions (url, secret, events) "
                     "VALUES ('https://example.com/hook', 's', '{message.created}')")

    response = maya.act(conversation_id, "reply", {"text": "Hi, I'm looking at your invoice now."})
    run_jobs()

    assert response.status_code == 201
    body = response.get_json()
    assert body["via"] == "channel"
    assert (body["message"]["sender"], body["message"]["agent_name"]) == ("agent", "Maya Lopez")
    assert received(fake_twilio) == ["Maya from Billing joined", "Hi, I'm looking at your invoice now."]
    row = conversation_row(db, conversation_id)
    assert (row["status"], row["assignee_id"]) == ("assigned", maya.id)
    assert row["first_agent_reply_at"] is not None
    (assigned,) = fetch_all(db, "SELECT detail FROM events WHERE kind = 'conversation.assigned'")
    assert assigned["detail"]["reason"] == "claimed_by_reply"
    (replied,) = fetch_all(db, "SELECT * FROM events WHERE kind = 'agent.replied'")
    assert (replied["message_id"], replied["detail"]["via"]) == (body["message"]["id"], "channel")
    (delivery,) = fetch_all(db, "SELECT payload FROM webhook_deliveries WHERE event = 'message.created'")
    assert delivery["payload"]["data"]["sender"] == "agent"
    assert delivery["payload"]["data"]["text"] == "Hi, I'm looking at your invoice now."

    # The second reply is just a reply: no second "joined" line.
    assert maya.act(conversation_id, "reply", {"text": "Found it."}).status_code == 201
    run_jobs()
    assert received(fake_twilio)[2:] == ["Found it."]


def test_on_a_hybrid_channel_the_first_human_reply_takes_over_for_good(
        app, client, db, run_jobs, fake_twilio, billing, maya):
    add_article(db, "Shipping times", "Standard shipping takes 3 to 5 business days.")
    add_whatsapp_channel(db, mode="hybrid", team_id=billing)
    post_twilio(client, "/webhooks/twilio/whatsapp", whatsapp_form(sid="SM" + "1" * 32, body=SHIPPING))
    run_jobs()
    bot_said = received(fake_twilio)
    assert bot_said  # the bot answered
    conversation_id = fetch_one(db, "SELECT id FROM conversations")["id"]
    assert conversation_row(db, conversation_id)["status"] == "bot"

    taken = maya.act(conversation_id, "reply", {"text": "Hi, Maya here: your parcel left today."})
    run_jobs()
    post_twilio(client, "/webhooks/twilio/whatsapp", whatsapp_form(sid="SM" + "2" * 32, body=SHIPPING))
    run_jobs()

    assert taken.status_code == 201
    row = conversation_row(db, conversation_id)
    assert (row["status"], row["assignee_id"]) == ("assigned", maya.id)
    # The bot said nothing to the second question: a person owns the conversation now.
    assert received(fake_twilio) == bot_said + ["Maya from Billing joined", "Hi, Maya here: your parcel left today."]
    assert fetch_all(db, "SELECT detail->>'reason' AS reason FROM events WHERE kind = 'conversation.assigned'") == \
        [{"reason": "took_over"}]


def test_on_a_bot_only_channel_a_bot_conversation_is_refused(db, billing, maya):
    conversation_id = seed_conversation(db, add_whatsapp_channel(db, team_id=billing), CUSTOMER,
                                        [("customer", "hello")], team_id=billing)

    response = maya.act(conversation_id, "reply", {"text": "Hi!"})

    assert response.status_code == 409
    assert "bot_only channel" in response.get_json()["error"]
    assert response.get_json()["details"] == {"mode": "bot_only"}
    assert agent_messages(db, conversation_id) == []
    assert conversation_row(db, conversation_id)["status"] == "bot"
    # The conversation view says so before the agent tries.
    shown = maya.get(f"/api/agent/conversations/{conversation_id}").get_json()
    assert shown["reply_options"]["error"] == response.get_json()["error"]


def test_a_reply_longer_than_the_channel_carries_is_refused(db, billing, maya):
    conversation_id = waiting_conversation(db, add_whatsapp_channel(db), CUSTOMER, billing)
    response = maya.act(conversation_id, "reply", {"text": "x" * 1601})
    assert response.status_code == 400
    assert response.get_json()["details"] == {"text": ["at most 1600 characters on whatsapp"]}
    assert maya.act(conversation_id, "reply", {"text": "x" * 1600}).status_code == 201


def test_a_resolved_or_someone_elses_conversation_is_refused(app, db, billing, maya):
    channel = add_whatsapp_channel(db)
    done = waiting_conversation(db, channel, CUSTOMER, billing, status="resolved")
    sam = make_agent(app, db, "Sam Ito", teams=(billing,))
    held = waiting_conversation(db, channel, "whatsapp:+15550000002", billing)
    assert sam.act(held, "claim").status_code == 200

    assert "reopen it before you reply" in maya.act(done, "reply", {"text": "Hi"}).get_json()["error"]
    refused = maya.act(held, "reply", {"text": "Hi"})
    assert refused.status_code == 409
    assert refused.get_json()["error"] == f"conversation {held} is assigned to Sam Ito"
    assert agent_messages(db, held) == []


# --- WhatsApp's 24 hours -----------------------------------------------------------------------


def test_whatsapp_after_24_hours_needs_the_template_and_it_goes_as_content_sid(db, run_jobs, fake_twilio, billing,
                                                                             maya):
    channel = add_whatsapp_channel(db)
    with db() as conn:
        set_channel_settings(conn, channel.id, {"templates": [FOLLOW_UP]})
    conversation_id = waiting_conversation(db, channel, CUSTOMER, billing)
    customer_silence(db, conversation_id, hours=30)

    free_text = maya.act(conversation_id, "reply", {"text": "Any news?"})
    assert free_text.status_code == 409
    assert "the template follow_up" in free_text.get_json()["error"]
    assert free_text.get_json()["details"]["reply_options"]["via"] == "template"
    missing = maya.act(conversation_id, "reply", {"template": "follow_up"})
    assert missing.status_code == 400
    assert "needs a value for name" in missing.get_json()["details"]["variables"][0]
    assert agent_messages(db, conversation_id) == []

    sent = maya.act(conversation_id, "reply", {"template": "follow_up", "variables": {"name": "Ada"}})
    run_jobs()

    assert sent.status_code == 201
    assert sent.get_json()["via"] == "template"
    # No "joined" line: outside the window only the template may go.
    assert joined_lines(db, conversation_id) == []
    (form,) = fake_twilio.sent()
    assert form["ContentSid"] == FOLLOW_UP["content_sid"] and "Body" not in form
    assert json.loads(form["ContentVariables"]) == {"1": "Ada"}
    (message,) = agent_messages(db, conversation_id)
    assert message["text"] == "Hi Ada, we have news about your request. Reply to continue."
    assert message["metadata"]["template"] == {"name": "follow_up", "content_sid": FOLLOW_UP["content_sid"],
                                               "variables": {"1": "Ada"}}
    assert message["status"] == "queued"


# --- Messenger's 24 hours and 7 days -----------------------------------------------------------


def test_messenger_after_24_hours_only_the_human_reply_carries_the_human_agent_tag(
        client, db, run_jobs, fake_graph, billing, maya):
    add_article(db, "Shipping times", "Standard shipping takes 3 to 5 business days.")
    add_messenger_channel(db, mode="hybrid", team_id=billing)
    assert post_messenger(client, messenger_events(messenger_text("m_1", SHIPPING, psid=PSID))).status_code == 200
    run_jobs()
    conversation_id = fetch_one(db, "SELECT id FROM conversations")["id"]
    customer_silence(db, conversation_id, hours=30)

    response = maya.act(conversation_id, "reply", {"text": "Sorry for the wait: your parcel left today."})
    run_jobs()

    assert response.status_code == 201
    assert response.get_json()["plan"]["messenger_tag"] == "HUMAN_AGENT"
    *bot, agent = fake_graph.sent()
    assert bot and all(body["messaging_type"] == "RESPONSE" and "tag" not in body for body in bot)
    assert (agent["messaging_type"], agent["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")
    assert agent["message"]["text"] == "Sorry for the wait: your parcel left today."
    assert joined_lines(db, conversation_id) == []  # a system line may not go after 24 hours


def test_messenger_after_7_days_is_closed_and_email_is_offered(db, run_jobs, fake_graph, smtp, billing, maya):
    conversation_id = seed_conversation(db, add_messenger_channel(db), PSID, [("customer", "Where is my order?")],
                                        email="ada@example.org", status="queued", team_id=billing)
    customer_silence(db, conversation_id, hours=8 * 24)

    refused = maya.act(conversation_id, "reply", {"text": "Your order shipped."})
    assert refused.status_code == 409
    assert "by email to ada@example.org" in refused.get_json()["error"]
    options = refused.get_json()["details"]["reply_options"]
    assert (options["via"], options["email"]) == ("email", "ada@example.org")

    emailed = maya.act(conversation_id, "reply", {"text": "Your order shipped.", "by_email": True})
    run_jobs()

    assert emailed.status_code == 201
    assert fake_graph.sent() == []
    (mail,) = smtp.messages
    assert mail.rcpt_tos == ["ada@example.org"]
    assert mail.message["Subject"] == "Re: your conversation with our Billing team"
    assert mail.message.get_content().strip() == "Your order shipped."


def test_messenger_after_7_days_without_an_email_cannot_be_reached(db, billing, maya):
    conversation_id = seed_conversation(db, add_messenger_channel(db), PSID, [("customer", "Where is my order?")],
                                        status="queued", team_id=billing)
    customer_silence(db, conversation_id, hours=8 * 24)
    refused = maya.act(conversation_id, "reply", {"text": "Your order shipped."})
    assert refused.status_code == 409
    assert "cannot be reached until they write again" in refused.get_json()["error"]
    by_email = maya.act(conversation_id, "reply", {"text": "Your order shipped.", "by_email": True})
    assert by_email.status_code == 409
    assert by_email.get_json()["error"].startswith("No email address is known for this customer")


def test_an_email_reply_needs_smtp_url(db, billing, maya):
    conversation_id = seed_conversation(db, add_messenger_channel(db), PSID, [("customer", "Where is my order?")],
                                        email="ada@example.org", status="queued", team_id=billing)
    response = maya.act(conversation_id, "reply", {"text": "Your order shipped.", "by_email": True})
    assert response.status_code == 409
    assert response.get_json()["error"] == "email cannot be sent: SMTP_URL is not configured"
    assert agent_messages(db, conversation_id) == []


# --- tickets -----------------------------------------------------------------------------------


def test_a_ticket_is_answered_by_email_when_the_channel_is_closed(db, run_jobs, fake_twilio, smtp, billing, maya):
    conversation_id = waiting_conversation(db, add_whatsapp_channel(db), CUSTOMER, billing, status="ticket")
    with db() as conn:
        contact_id = conversation_row(db, conversation_id)["contact_id"]
        number = conn.execute(
            "INSERT INTO tickets (conversation_id, contact_id, team_id, subject, email) "
            "VALUES (%s, %s, %s, 'Refund for order 42', 'ada@example.org') RETURNING number",
            (conversation_id, contact_id, billing)).fetchone()["number"]
    customer_silence(db, conversation_id, hours=30)

    shown = maya.get(f"/api/agent/conversations/{conversation_id}").get_json()
    assert shown["reply_options"]["via"] == "email"  # the agent knows before sending
    assert shown["reply_options"]["email_configured"] is True
    assert shown["ticket"]["number"] == number
    response = maya.act(conversation_id, "reply", {"text": "Your refund went out today.", "by_email": True})
    run_jobs()

    assert response.status_code == 201
    assert response.get_json()["message"]["metadata"] == {
        "via": "email", "to": "ada@example.org", "subject": f"Re: ticket #{number} Refund for order 42"}
    assert fake_twilio.sent() == []
    assert joined_lines(db, conversation_id) == []  # not on a channel that cannot carry it
    (mail,) = smtp.messages
    assert (mail.rcpt_tos, mail.message["Subject"]) == (["ada@example.org"], f"Re: ticket #{number} Refund for order 42")
    ticket = fetch_one(db, "SELECT * FROM tickets WHERE number = %s", number)
    assert (ticket["status"], ticket["assignee_id"]) == ("pending", maya.id)
    assert ticket["first_reply_at"] is not None
    assert conversation_row(db, conversation_id)["assignee_id"] == maya.id
