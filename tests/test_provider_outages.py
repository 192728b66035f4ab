"""Provider outages (issue 13: "with no network, a failed send takes 12.6
minutes to show as failed while the inbox says 'retrying (attempt N)'
without the reason"): Twilio or Graph answering 500, 429 with Retry-After,
refusing connections or hanging → bounded retries with backoff, the reason
in words on the message at once (and in the inbox), and no duplicate send."""

from __future__ import annotations

import socket
from datetime import datetime, timezone

import pytest

from gateway import live

from tests.helpers import (
    PSID,
    add_messenger_channel,
    add_whatsapp_channel,
    closed_port_url,
    configure_workers,
    fetch_one,
    log_in,
    messenger_events,
    messenger_text,
    next_live_event,
    post_messenger,
    post_twilio,
    whatsapp_form,
)
from workers.inbound import process_inbound
from workers.outbound import retry_delay, send_message


def bot_answer_to(db, config, delivered) -> int:
    """The bot's answer (stored, not yet sent) to the customer message `delivered` returned 200 for."""
    assert delivered.status_code == 200
    inbound = fetch_one(db, "SELECT id FROM messages WHERE direction = 'inbound'")["id"]
    configure_workers(config)
    assert process_inbound(inbound) == "answered"
    return fetch_one(db, "SELECT id FROM messages WHERE sender = 'bot'")["id"]


@pytest.fixture
def twilio_reply(client, db, config, run_jobs):
    add_whatsapp_channel(db)
    return bot_answer_to(db, config, post_twilio(client, "/webhooks/twilio/whatsapp",
                                                  whatsapp_form(body="Do you ship to Canada?")))


@pytest.fixture
def graph_reply(client, db, config, run_jobs):
    add_messenger_channel(db)
    return bot_answer_to(db, config, post_messenger(client, messenger_events(
        messenger_text("m_1", "Do you ship to Canada?"))))


@pytest.fixture
def hanging_server():
    """Accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    server.close()



def message(db, message_id: int) -> dict:
    return fetch_one(db, "SELECT status, attempts, error_message, next_attempt_at FROM messages WHERE id = %s",
                     message_id)


def seconds_until(moment: datetime) -> float:
    return (moment - datetime.now(timezone.utc)).total_seconds()


def test_no_network_shows_the_reason_at_once_with_the_next_attempt(config, db, twilio_reply):
    configure_workers(config, twilio_api_base_url=closed_port_url(), outbound_retry_delays=(30, 60, 60, 120, 300))
    assert send_message(twilio_reply) == "retrying"
    row = message(db, twilio_reply)
    assert row["status"] == "retrying"
    assert row["error_message"] == "cannot reach Twilio: connection refused; retrying in 30 s, attempt 2 of 6"
    assert 25 < seconds_until(row["next_attempt_at"]) <= 30


def test_the_inbox_shows_why_a_message_is_retrying(app, config, db, twilio_reply):
    from tests.helpers import add_agent

    configure_workers(config, twilio_api_base_url=closed_port_url(), outbound_retry_delays=(30,))
    send_message(twilio_reply)
    add_agent(db, is_admin=True)
    client = app.test_client()
    log_in(client)
    conversation_id = fetch_one(db, "SELECT conversation_id FROM messages WHERE id = %s", twilio_reply)[
        "conversation_id"]
    page = client.get(f"/inbox/conversations/{conversation_id}").get_data(as_text=True)
    assert "cannot reach Twilio: connection refused; retrying in 30 s, attempt 2 of 2" in page


def test_the_retry_is_announced_live(config, db, redis, twilio_reply):
    configure_workers(config, twilio_api_base_url=closed_port_url())
    conversation_id = fetch_one(db, "SELECT conversation_id FROM messages WHERE id = %s", twilio_reply)[
        "conversation_id"]
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(live.conversation_channel(redis, conversation_id))
    try:
        send_message(twilio_reply)
        event = next_live_event(pubsub, "message.status")
    finally:
        pubsub.close()
    assert (event["message_id"], event["status"]) == (twilio_reply, "retrying")


def test_a_retry_ladder_that_runs_out_fails_the_message_and_says_so(config, db, run_jobs, twilio_reply):
    configure_workers(config, twilio_api_base_url=closed_port_url(), outbound_retry_delays=(0, 0))
    run_jobs()
    row = message(db, twilio_reply)
    assert (row["status"], row["attempts"]) == ("failed", 3)
    assert row["error_message"] == "cannot reach Twilio: connection refused; gave up after 3 attempts"


def test_twilio_500_is_retried_and_sent_once(db, run_jobs, fake_twilio, twilio_reply):
    fake_twilio.fail_next(500, 20500, "Internal Server Error")
    created_before = fake_twilio.created_count
    run_jobs()
    assert message(db, twilio_reply)["status"] == "queued"
    assert len(fake_twilio.requests) == 2 and fake_twilio.created_count - created_before == 1


def test_twilio_429_waits_as_long_as_retry_after_asks(config, db, fake_twilio, twilio_reply):
    configure_workers(config, outbound_retry_delays=(1, 60))
    fake_twilio.fail_next(429, 20429, "Too Many Requests", headers={"Retry-After": "7"})
    assert send_message(twilio_reply) == "retrying"
    row = message(db, twilio_reply)
    assert row["error_message"] == ("Twilio answered HTTP 429 Too Many Requests: Unable to create record: "
                                    "Too Many Requests; retrying in 7 s, attempt 2 of 3")
    assert 5 < seconds_until(row["next_attempt_at"]) <= 7


@pytest.mark.parametrize("provider, url_setting, reply", [("Twilio", "twilio_api_base_url", "twilio_reply"),
                                                       ("Graph", "messenger_graph_url", "graph_reply")])
def test_a_hanging_provider_is_bounded_by_the_provider_timeout(request, config, db, run_jobs, hanging_server,
                                                              provider, url_setting, reply):
    """pymessenger sets no timeout: the Graph send is bounded by PROVIDER_TIMEOUT all the same."""
    reply_id = request.getfixturevalue(reply)
    configure_workers(config, **{url_setting: hanging_server}, provider_timeout=0.3)
    run_jobs()
    row = message(db, reply_id)
    assert (row["status"], row["attempts"]) == ("failed", 3)
    assert row["error_message"] == f"cannot reach {provider}: no answer within 0.3 s; gave up after 3 attempts"


def test_graph_500_page_then_success_sends_once(db, run_jobs, fake_graph, graph_reply):
    fake_graph.respond_next(500, "<html>oops</html>")
    run_jobs()
    assert message(db, graph_reply)["status"] == "sent"
    assert len(fake_graph.delivered) == 1
    assert fake_graph.delivered[0]["recipient"] == {"id": PSID}


def test_graph_rate_limit_with_retry_after(config, db, fake_graph, graph_reply):
    configure_workers(config, outbound_retry_delays=(1, 60))
    fake_graph.fail_next(429, 613, "Calls to this API have exceeded the rate limit.", headers={"Retry-After": "9"})
    assert send_message(graph_reply) == "retrying"
    row = message(db, graph_reply)
    assert row["error_message"].endswith("; retrying in 9 s, attempt 2 of 3")
    assert 7 < seconds_until(row["next_attempt_at"]) <= 9


@pytest.mark.parametrize("delays, attempt, retry_after, expected", [
    ((5, 30, 60), 1, None, 5), ((5, 30, 60), 2, 45, 45), ((5, 30, 60), 1, 10_000, 60), ((5, 30), 1, 1, 5)])
def test_retry_after_is_honoured_within_the_ladder(delays, attempt, retry_after, expected):
    assert retry_delay(delays, attempt, retry_after) == expected
