"""Quick replies in the web widget: the bot's "Talk to an agent" offer reaches the
widget (transcript and stream) and shows as a button under the bot's message;
tapping it asks for a person."""

from __future__ import annotations

import pytest

from tests.helpers import (
    add_article,
    add_web_channel,
    bearer,
    fetch_one,
    post_widget_message,
    staff_team,
    widget_session,
)
from tests.test_demo_page import SHIPPING, send
from tests.test_widget_api import EventStream

QUESTION = "How long does shipping take for my order?"
CONNECTING = "I'm connecting you with our General team. You're next in line — about 3 minutes."
TALK_TO_AGENT = {"title": "Talk to an agent", "payload": "HANDOFF_TALK_TO_AGENT"}


@pytest.fixture
def app(app):
    app.config.update(WIDGET_HEARTBEAT_SECONDS=0.1, WIDGET_STREAM_SECONDS=30)
    return app


@pytest.fixture
def channel(db):
    add_article(db, "Shipping", SHIPPING)
    staff_team(db, "General")  # someone online: the chat is queued for them
    return add_web_channel(db, name="Acme Store")


# --- the API -----------------------------------------------------------------------------


def test_the_bots_first_answer_carries_its_quick_replies(client, run_jobs, channel):
    session = widget_session(client, channel.address)
    mine = post_widget_message(client, session["visitor_token"], QUESTION, client_id="client-0001")
    assert mine.status_code == 201
    assert mine.get_json()["quick_replies"] is None
    stream = EventStream(client.get(f"/api/widget/stream?token={session['visitor_token']}", buffered=False))
    try:
        assert stream.next_event()["data"]["quick_replies"] is None  # the visitor's own message
        run_jobs()
        reply = stream.next_event()["data"]
    finally:
        stream.close()

    assert reply["sender"] == "bot"
    assert reply["quick_replies"] == [TALK_TO_AGENT]
    transcript = client.get("/api/widget/messages", headers=bearer(session["visitor_token"])).get_json()
    customer, bot = transcript["messages"]
    assert customer["quick_replies"] is None
    assert bot["quick_replies"] == [TALK_TO_AGENT]
    assert bot == reply
    # Everything else the widget saw before is still there.
    assert {"id", "conversation_id", "direction", "sender", "agent_name", "text", "attachments", "status",
            "client_id", "created_at", "quick_replies"} == set(bot)


def test_the_button_payload_escalates_and_only_bot_messages_carry_quick_replies(client, db, run_jobs, channel):
    session = widget_session(client, channel.address)
    post_widget_message(client, session["visitor_token"], QUESTION, client_id="client-0001")
    run_jobs()
    tapped = client.post("/api/widget/messages", headers=bearer(session["visitor_token"]),
                         json={"text": TALK_TO_AGENT["title"], "client_id": "client-0002",
                               "payload": TALK_TO_AGENT["payload"]})
    assert tapped.status_code == 201
    assert tapped.get_json()["quick_replies"] is None
    run_jobs()

    messages = client.get("/api/widget/messages", headers=bearer(session["visitor_token"])).get_json()["messages"]
    assert [m["sender"] for m in messages] == ["customer", "bot", "customer", "system"]
    assert [m["quick_replies"] for m in messages] == [None, [TALK_TO_AGENT], None, None]
    assert messages[3]["text"] == CONNECTING
    conversation = fetch_one(db, "SELECT status, escalation_reason, escalation_detail FROM conversations")
    assert conversation["status"] == "queued"
    assert conversation["escalation_reason"] == "human_request"
    stored = fetch_one(db, "SELECT payload FROM messages WHERE id = %s", tapped.get_json()["id"])
    assert stored["payload"] == TALK_TO_AGENT["payload"]


# --- in a real browser -------------------------------------------------------------------


def open_widget(page, live_server):
    from playwright.sync_api import expect

    page.goto(live_server.url + "/demo")
    page.click("#open-chat")
    expect(page.locator("#chat-status")).to_have_text("Online · we usually answer at once")


def test_talk_to_an_agent_button_hands_the_chat_to_a_person(db, run_jobs, live_server, page, channel):
    from playwright.sync_api import expect

    open_widget(page, live_server)
    send(page, QUESTION)
    run_jobs()

    bot = page.locator("#chat-log li.msg-bot")
    expect(bot).to_have_count(1)
    expect(bot.locator(".msg-text")).to_contain_text("2 business days")
    button = bot.get_by_role("button", name="Talk to an agent")
    expect(button).to_be_visible()
    expect(bot.get_by_role("group", name="Suggested replies")).to_be_visible()
    assert button.evaluate("element => element.tagName") == "BUTTON"
    # Under the answer, not beside it.
    text_box = bot.locator(".msg-text").bounding_box()
    assert button.bounding_box()["y"] >= text_box["y"] + text_box["height"]

    button.click()
    # The tap is the visitor's message, with the title as its text; the buttons go at once.
    mine = page.locator("#chat-log li.msg-customer[data-id]")
    expect(mine).to_have_count(2)
    expect(mine.nth(1).locator(".msg-text")).to_have_text("Talk to an agent")
    expect(page.locator("#chat-log .quick-reply")).to_have_count(0)
    expect(page.locator("#chat-input")).to_be_focused()

    run_jobs()
    system = page.locator("#chat-log li.msg-system .msg-text")
    expect(system).to_have_count(1)
    expect(system).to_have_text(CONNECTING)
    expect(page.locator("#chat-log .quick-reply")).to_have_count(0)
    expect(page.locator("#chat-log li.typing")).to_have_count(0)

    conversation = fetch_one(db, "SELECT status, escalation_reason, escalation_detail FROM conversations")
    assert conversation["status"] == "queued"
    assert conversation["escalation_reason"] == "human_request"
    assert conversation["escalation_detail"]["detail"]["via"] == "button"  # the payload, not the words
    tapped = fetch_one(db, "SELECT text, payload FROM messages WHERE sender = 'customer' ORDER BY id DESC LIMIT 1")
    assert tapped == {"text": "Talk to an agent", "payload": "HANDOFF_TALK_TO_AGENT"}

    # A reload shows the transcript without buttons: the offer was answered.
    page.reload()
    expect(page.locator("#chat-log li.msg")).to_have_count(4)
    expect(page.locator("#chat-log .quick-reply")).to_have_count(0)
    assert page.problems == []


def test_quick_replies_answer_only_the_newest_message_and_work_from_the_keyboard(db, run_jobs, live_server, page,
                                                                                 channel):
    from playwright.sync_api import expect

    open_widget(page, live_server)
    send(page, QUESTION)
    run_jobs()
    buttons = page.locator("#chat-log .quick-reply")
    expect(buttons).to_have_count(1)

    # A reload keeps the offer while the bot's answer is the newest message.
    page.reload()
    expect(page.locator("#chat-log li.msg")).to_have_count(2)
    expect(buttons).to_have_count(1)

    # The visitor writes instead: the older buttons go, and do not come back.
    send(page, "Do you ship abroad?")
    expect(buttons).to_have_count(0)
    run_jobs()
    expect(page.locator("#chat-log li.msg-bot")).to_have_count(2)
    page.reload()
    expect(page.locator("#chat-log li.msg")).to_have_count(4)
    expect(page.locator("#chat-log li.msg-bot").first.locator(".quick-reply")).to_have_count(0)

    # Where the bot offers a person again (a later answer with quick replies), the
    # keyboard works the button like a click.
    conversation_id = fetch_one(db, "SELECT id FROM conversations")["id"]
    with db() as conn:
        conn.execute(
            "INSERT INTO messages (conversation_id, channel_id, direction, sender, text, status, metadata) "
            "VALUES (%s, %s, 'outbound', 'bot', 'Shall I find someone?', 'sent', %s::jsonb)",
            (conversation_id, channel.id,
             '{"quick_replies": [{"title": "Talk to an agent", "payload": "HANDOFF_TALK_TO_AGENT"},'
             ' {"title": "<b>No</b> thanks", "payload": "NO"}, {"title": 42}]}'))
    page.reload()
    newest = page.locator("#chat-log li.msg-bot").last
    expect(newest.locator(".quick-reply")).to_have_count(2)  # the malformed one is left out
    expect(newest.get_by_role("button", name="<b>No</b> thanks")).to_be_visible()  # text, not markup
    assert page.locator("#chat-log b").count() == 0
    button = newest.get_by_role("button", name="Talk to an agent")
    button.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#chat-log li.msg-customer[data-id]").last.locator(".msg-text")).to_have_text(
        "Talk to an agent")
    expect(buttons).to_have_count(0)
    run_jobs()
    expect(page.locator("#chat-log li.msg-system .msg-text")).to_have_text(CONNECTING)
    assert fetch_one(db, "SELECT status, escalation_reason FROM conversations") == {
        "status": "queued", "escalation_reason": "human_request"}
    assert page.problems == []
