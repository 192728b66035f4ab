"""Sending on Messenger: the real pymessenger Bot.send_raw against FakeGraph,
driven by the real send job in an RQ SimpleWorker.

What Graph receives (path, version, token, exact JSON), the text limit,
and what each kind of Graph failure does to the message.
"""

import hashlib
import hmac
import socket
from dataclasses import replace

import pytest

from gateway import queues
from gateway.store import messages
from tests.helpers import (
    APP_SECRET,
    PAGE_ID,
    PSID,
    add_article,
    add_messenger_channel,
    add_messenger_page,
    messenger_events,
    messenger_text,
    post_messenger,
)
from tests.test_outbound import queue_message
from workers import context

PAGE_TOKEN = "page-token-" + PAGE_ID


def row(db, query: str, *params) -> dict | None:
    with db() as conn:
        return conn.execute(query, params).fetchone()


def bot_reply(db) -> dict:
    return row(db, "SELECT * FROM messages WHERE sender = 'bot'")


def events_of_kind(db, kind: str) -> list[dict]:
    with db() as conn:
        return conn.execute("SELECT * FROM events WHERE kind = %s ORDER BY id", (kind,)).fetchall()


def customer_writes(client, db, text: str = "How long does shipping take?", mid: str = "m_in") -> None:
    response = post_messenger(client, messenger_events(messenger_text(mid, text)))
    assert response.status_code == 200


def shipping_bot(client, db) -> None:
    add_messenger_channel(db)
    add_article(db, "Shipping", "Orders ship within 2 business days. Tracking numbers arrive by email.")
    customer_writes(client, db)


def agent_reply(db, redis, text: str, *, customer_wrote_hours_ago: float | None = None) -> int:
    """An agent's message queued for sending in the (only) conversation, as the inbox queues it."""
    with db() as conn:
        conversation = conn.execute("SELECT id, channel_id FROM conversations").fetchone()
        if customer_wrote_hours_ago is not None:
            conn.execute("UPDATE conversations SET last_customer_message_at = now() - make_interval(hours => %s)",
                         (customer_wrote_hours_ago,))
        message_id = messages.insert_outbound(conn, conversation_id=conversation["id"],
                                              channel_id=conversation["channel_id"], sender="agent", text=text)
    queues.enqueue_send(redis, message_id)
    return message_id


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# --- What Graph receives ---------------------------------------------------------------------


def test_bot_reply_is_exactly_recipient_response_and_text(client, db, run_jobs, fake_graph):
    shipping_bot(client, db)
    run_jobs()
    [sent] = fake_graph.sent()
    # The bot's first answer greets once and offers a person as a quick reply.
    assert sent == {"recipient": {"id": PSID}, "messaging_type": "RESPONSE", "message": {
        "text": "Hi! I'm the virtual assistant. Ask me anything, or ask for a person at any time.\n\n"
                "Orders ship within 2 business days. Tracking numbers arrive by email.",
        "quick_replies": [{"content_type": "text", "title": "Talk to an agent", "payload": "HANDOFF_TALK_TO_AGENT"}],
    }}


def test_bot_reply_goes_to_the_configured_version_with_the_page_token(client, db, run_jobs, fake_graph):
    shipping_bot(client, db)
    run_jobs()
    [request] = fake_graph.requests
    assert request.method == "POST"
    assert request.path == "/v24.0/me/messages"
    assert request.query["access_token"] == [PAGE_TOKEN]
    assert request.headers["Content-Type"] == "application/json"


def test_bot_reply_carries_the_appsecret_proof(client, db, run_jobs, fake_graph):
    shipping_bot(client, db)
    run_jobs()
    [request] = fake_graph.requests
    proof = hmac.new(APP_SECRET.encode(), PAGE_TOKEN.encode(), hashlib.sha256).hexdigest()
    assert request.query["appsecret_proof"] == [proof]


def test_another_configured_graph_version_is_used(client, db, run_jobs, fake_graph, config):
    context.configure(replace(config, messenger_graph_version="v21.0"))
    shipping_bot(client, db)
    run_jobs()
    assert [r.path for r in fake_graph.requests] == ["/v21.0/me/messages"]


def test_sent_reply_records_the_graph_message_id(client, db, run_jobs, fake_graph):
    shipping_bot(client, db)
    run_jobs()
    reply = bot_reply(db)
    assert reply["status"] == "sent"
    assert reply["provider_message_id"].startswith("m_fake")
    assert reply["sent_at"] is not None
    assert reply["attempts"] == 1


def test_send_job_is_bounded_by_the_send_job_timeout(client, db, run_jobs, redis):
    """pymessenger sets no HTTP timeout: the RQ job timeout bounds the call."""
    shipping_bot(client, db)
    queues.InlineWorker([queues.queue(redis, "default")], connection=redis).work(burst=True)  # inbound only
    [send_job] = queues.queue(redis, "high").get_jobs()
    assert send_job.func_name == "workers.outbound.send_message"
    assert send_job.timeout == queues.SEND_JOB_TIMEOUT


# --- The text limit ------------------------------------------------------------------------------


def test_text_over_2000_characters_is_cut_at_a_word_with_an_ellipsis(client, db, run_jobs, redis, fake_graph):
    add_messenger_channel(db)
    customer_writes(client, db)
    run_jobs()
    words = "refund " * 400  # 2800 characters
    agent_reply(db, redis, words)
    run_jobs()
    text = fake_graph.sent()[-1]["message"]["text"]
    assert len(text) <= 2000
    assert len(text) > 1900
    assert text.endswith("refund…")
    assert words.startswith(text.removesuffix("…"))


def test_text_of_exactly_2000_characters_is_sent_whole(client, db, run_jobs, redis, fake_graph):
    add_messenger_channel(db)
    customer_writes(client, db)
    run_jobs()
    text = "x" * 2000
    agent_reply(db, redis, text)
    run_jobs()
    assert fake_graph.sent()[-1]["message"]["text"] == text


def test_text_limit_counts_an_emoji_as_two_units(client, db, run_jobs, redis, fake_graph):
    add_messenger_channel(db)
    customer_writes(client, db)
    run_jobs()
    agent_reply(db, redis, "\U0001F600" * 1500)  # 1500 characters, 3000 UTF-16 units
    run_jobs()
    text = fake_graph.sent()[-1]["message"]["text"]
    assert len(text.encode("utf-16-le")) // 2 <= 2000
    assert text == "\U0001F600" * 999 + "…"


# --- Graph failures ------------------------------------------------------------------------------


def test_graph_500_with_a_transient_error_then_success_sends_once(client, db, run_jobs, fake_graph):
    shipping_bot(client, db)
    fake_graph.fail_next(500, 2, "An unexpected error has occurred. Please retry your request later.",
                         is_transient=True)
    run_jobs()
    assert len(fake_graph.requests) == 2
    assert len(fake_graph.delivered) == 1
    reply = bot_reply(db)
    assert (reply["status"], reply["attempts"]) == ("sent", 2)
    assert events_of_kind(db, "message.failed") == []


def test_graph_500_html_page_then_success_sends_once(client, db, run_jobs, fake_graph):
    shipping_bot(client, db)
    fake_graph.respond_next(500, "<html><body><h1>500 Internal Server Error</h1></body></html>")
    run_jobs()
    assert len(fake_graph.requests) == 2
    assert len(fake_graph.delivered) == 1
    assert (bot_reply(db)["status"], bot_reply(db)["attempts"]) == ("sent", 2)


def test_html_error_page_is_recorded_as_such_while_retrying(client, db, run_jobs, fake_graph, config):
    context.configure(replace(config, outbound_retry_delays=(3600,)))  # the retry is not due in this test
    shipping_bot(client, db)
    fake_graph.respond_next(502, "<html><body>Bad Gateway</body></html>")
    run_jobs()
    reply = bot_reply(db)
    assert reply["status"] == "retrying"
    assert reply["error_message"] == ("Graph answered HTTP 502 Bad Gateway with a non-JSON page; "
                                      "retrying in 3600 s, attempt 2 of 2")


def test_graph_400_invalid_parameter_fails_for_good_with_an_event(client, db, run_jobs, fake_graph):
    shipping_bot(client, db)
    fake_graph.fail_next(400, 100, "(#100) Invalid parameter")
    run_jobs()
    assert len(fake_graph.requests) == 1
    reply = bot_reply(db)
    assert (reply["status"], reply["error_code"], reply["attempts"]) == ("failed", "100", 1)
    [event] = events_of_kind(db, "message.failed")
    assert event["message_id"] == reply["id"]
    assert event["conversation_id"] == reply["conversation_id"]
    assert event["detail"]["code"] == "100"


def test_graph_400_user_unavailable_fails_for_good_with_an_event(client, db, run_jobs, fake_graph):
    shipping_bot(client, db)
    fake_graph.fail_next(400, 551, "This person isn't available right now.", subcode=1545041)
    run_jobs()
    assert len(fake_graph.requests) == 1
    reply = bot_reply(db)
    assert (reply["status"], reply["error_code"]) == ("failed", "551")
    assert "isn't available" in reply["error_message"]
    assert len(events_of_kind(db, "message.failed")) == 1


def test_rate_limit_613_is_retried_and_sent(client, db, run_jobs, fake_graph):
    shipping_bot(client, db)
    fake_graph.fail_next(400, 613, "Calls to this API have exceeded the rate limit.")
    run_jobs()
    assert len(fake_graph.requests) == 2
    assert len(fake_graph.delivered) == 1
    assert bot_reply(db)["status"] == "sent"


def test_temporary_send_failure_1200_is_retried_and_sent(client, db, run_jobs, fake_graph):
    shipping_bot(client, db)
    fake_graph.fail_next(400, 1200, "Temporary send message failure. Please try again later.")
    run_jobs()
    assert len(fake_graph.delivered) == 1
    assert bot_reply(db)["status"] == "sent"


def test_error_flagged_is_transient_is_retried_whatever_its_code(client, db, run_jobs, fake_graph):
    shipping_bot(client, db)
    fake_graph.fail_next(503, 9007, "Service is busy", is_transient=True)
    run_jobs()
    assert len(fake_graph.delivered) == 1
    assert bot_reply(db)["status"] == "sent"


def test_transient_failures_that_never_end_fail_after_the_configured_retries(client, db, run_jobs, fake_graph):
    shipping_bot(client, db)
    for _ in range(3):  # the test config allows two retries
        fake_graph.fail_next(500, 2, "Service temporarily unavailable", is_transient=True)
    run_jobs()
    assert len(fake_graph.requests) == 3
    reply = bot_reply(db)
    assert (reply["status"], reply["error_code"], reply["attempts"]) == ("failed", "2", 3)
    assert events_of_kind(db, "message.failed")[0]["detail"]["attempts"] == 3


def test_unreachable_graph_is_retried_then_failed(client, db, run_jobs, config):
    context.configure(replace(config, messenger_graph_url=closed_port_url()))
    shipping_bot(client, db)
    run_jobs()
    reply = bot_reply(db)
    assert (reply["status"], reply["attempts"]) == ("failed", 3)
    assert reply["error_message"] == "cannot reach Graph: connection refused; gave up after 3 attempts"


def test_channel_without_a_page_token_fails_without_calling_graph(client, db, run_jobs, fake_graph):
    add_messenger_page(db, PAGE_ID, page_token="")
    customer_writes(client, db)
    run_jobs()
    assert fake_graph.requests == []
    reply = bot_reply(db)
    assert (reply["status"], reply["error_code"], reply["attempts"]) == ("failed", "no_page_token", 1)
    assert len(events_of_kind(db, "message.failed")) == 1


# --- The 24-hour window ------------------------------------------------------------------------------


def test_agent_reply_inside_the_24_hour_window_is_a_response(client, db, run_jobs, redis, fake_graph):
    add_messenger_channel(db)
    customer_writes(client, db)
    run_jobs()
    agent_reply(db, redis, "Hi, this is Grace from support.", customer_wrote_hours_ago=23)
    run_jobs()
    assert fake_graph.sent()[-1] == {"recipient": {"id": PSID}, "messaging_type": "RESPONSE",
                                     "message": {"text": "Hi, this is Grace from support."}}


def test_agent_reply_after_the_24_hour_window_carries_the_human_agent_tag(client, db, run_jobs, redis, fake_graph):
    add_messenger_channel(db)
    customer_writes(client, db)
    run_jobs()
    message_id = agent_reply(db, redis, "Sorry for the wait: your refund went out today.", customer_wrote_hours_ago=30)
    run_jobs()
    assert fake_graph.sent()[-1] == {"recipient": {"id": PSID}, "messaging_type": "MESSAGE_TAG",
                                     "tag": "HUMAN_AGENT",
                                     "message": {"text": "Sorry for the wait: your refund went out today."}}
    assert row(db, "SELECT status FROM messages WHERE id = %s", message_id)["status"] == "sent"


def test_agent_reply_at_6_days_still_carries_the_human_agent_tag(client, db, run_jobs, redis, fake_graph):
    add_messenger_channel(db)
    customer_writes(client, db)
    run_jobs()
    agent_reply(db, redis, "Your parcel was found.", customer_wrote_hours_ago=6 * 24)
    run_jobs()
    assert (fake_graph.sent()[-1]["messaging_type"], fake_graph.sent()[-1]["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")


def test_bot_message_inside_24_hours_is_a_response_without_a_tag(client, db, run_jobs, redis, fake_graph):
    add_messenger_channel(db)
    customer_writes(client, db)
    run_jobs()
    queued_message(db, redis, "bot", "Anything else?", customer_wrote_hours_ago=23)
    run_jobs()
    assert fake_graph.sent()[-1] == {"recipient": {"id": PSID}, "messaging_type": "RESPONSE",
                                     "message": {"text": "Anything else?"}}


def queued_message(db, redis, sender: str, text: str, *, customer_wrote_hours_ago: float) -> int:
    """A message from `sender` queued in the (only) conversation, the customer's last message that long ago."""
    with db() as conn:
        conversation_id = conn.execute("SELECT id FROM conversations").fetchone()["id"]
    return queue_message(db, redis, conversation_id, sender, text, customer_wrote_hours_ago=customer_wrote_hours_ago)


def assert_failed_outside_window(db, message_id: int) -> None:
    message = row(db, "SELECT * FROM messages WHERE id = %s", message_id)
    assert (message["status"], message["error_code"], message["attempts"]) == ("failed", "outside_window", 1)
    [event] = events_of_kind(db, "message.failed")
    assert (event["message_id"], event["detail"]["code"]) == (message_id, "outside_window")


@pytest.mark.parametrize("sender, hours", [("bot", 24.02), ("system", 30), ("bot", 6 * 24), ("agent", 7 * 24 + 0.02)])
def test_a_message_the_window_no_longer_allows_is_never_sent(client, db, run_jobs, redis, fake_graph, sender, hours):
    """The bot and system lines never use HUMAN_AGENT; after 7 days not even a person may write."""
    add_messenger_channel(db)
    customer_writes(client, db)
    run_jobs()
    sent_before = len(fake_graph.requests)
    message_id = queued_message(db, redis, sender, "We're still here if you need us.", customer_wrote_hours_ago=hours)

    run_jobs()

    assert len(fake_graph.requests) == sent_before
    assert_failed_outside_window(db, message_id)
    assert "Not sent, outside the messaging window" in row(db, "SELECT error_message FROM messages WHERE id = %s",
                                                           message_id)["error_message"]
