"""send_message through the real twilio client: retries of transient failures,
final failures recorded once, and never two sends of one message.

The config fixture retries after (0, 0) seconds: two retries, immediately, so
a send has at most three attempts.
"""

import socket

import pytest

from gateway import jobs
from tests.helpers import (
    add_whatsapp_channel,
    configure_workers,
    fetch_all,
    fetch_one,
    post_twilio,
    whatsapp_form,
)
from workers.inbound import process_inbound
from workers.outbound import send_message

WEBHOOK = "/webhooks/twilio/whatsapp"


@pytest.fixture
def customer_wrote(client, db):
    """A customer's message is stored and its job queued; nothing ran yet."""
    add_whatsapp_channel(db)
    assert post_twilio(client, WEBHOOK, whatsapp_form(body="Do you ship to Canada?")).status_code == 200
    return fetch_one(db, "SELECT * FROM messages WHERE direction = 'inbound'")


def bot_reply(db) -> dict:
    return fetch_one(db, "SELECT * FROM messages WHERE sender = 'bot'")


def failed_events(db) -> list[dict]:
    return fetch_all(db, "SELECT * FROM events WHERE kind = 'message.failed' ORDER BY id")


def test_server_error_then_success_sends_once_after_two_attempts(customer_wrote, db, run_jobs, fake_twilio):
    fake_twilio.fail_next(500, 20500, "Internal Server Error")
    created_sid = fake_twilio.next_sid()

    run_jobs()

    assert len(fake_twilio.requests) == 2
    reply = bot_reply(db)
    assert reply["status"] == "queued"
    assert reply["attempts"] == 2
    assert reply["provider_message_id"] == created_sid
    assert (reply["error_code"], reply["error_message"]) == (None, None)
    assert reply["sent_at"] is not None
    assert failed_events(db) == []


def test_rate_limit_is_retried(customer_wrote, db, run_jobs, fake_twilio):
    fake_twilio.fail_next(429, 20429, "Too Many Requests")

    run_jobs()

    reply = bot_reply(db)
    assert (reply["status"], reply["attempts"]) == ("queued", 2)


def test_invalid_recipient_fails_at_once_with_error_and_event(customer_wrote, db, run_jobs, fake_twilio):
    fake_twilio.fail_next(400, 21211, "The 'To' number whatsapp:+15551230001 is not a valid phone number.")

    run_jobs()

    assert len(fake_twilio.requests) == 1
    reply = bot_reply(db)
    assert reply["status"] == "failed"
    assert reply["error_code"] == "21211"
    assert "not a valid phone number" in reply["error_message"]
    assert reply["attempts"] == 1
    assert reply["next_attempt_at"] is None
    [event] = failed_events(db)
    assert event["message_id"] == reply["id"]
    assert event["conversation_id"] == reply["conversation_id"]
    assert event["detail"]["code"] == "21211"
    assert event["detail"]["attempts"] == 1


@pytest.mark.parametrize("status, code", [(401, 20003), (403, 20003), (404, 20404)])
def test_other_client_errors_are_not_retried(customer_wrote, db, run_jobs, fake_twilio, status, code):
    fake_twilio.fail_next(status, code, "no")

    run_jobs()

    assert len(fake_twilio.requests) == 1
    assert bot_reply(db)["status"] == "failed"


def test_server_errors_beyond_the_retry_budget_fail_the_message(customer_wrote, config, db, run_jobs, fake_twilio):
    attempts = len(config.outbound_retry_delays) + 1
    for _ in range(attempts):
        fake_twilio.fail_next(500, 20500, "Internal Server Error")

    run_jobs()

    assert len(fake_twilio.requests) == attempts
    reply = bot_reply(db)
    assert (reply["status"], reply["attempts"], reply["error_code"]) == ("failed", attempts, "20500")
    [event] = failed_events(db)
    assert event["detail"]["attempts"] == attempts


@pytest.fixture
def unresponsive_twilio():
    """A server that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    yield server
    server.close()


def connections_made(server: socket.socket) -> int:
    server.setblocking(False)
    made = 0
    while True:
        try:
            connection, _ = server.accept()
        except BlockingIOError:
            return made
        connection.close()
        made += 1


def test_twilio_timing_out_is_retried_to_the_budget(customer_wrote, config, db, run_jobs, unresponsive_twilio):
    host, port = unresponsive_twilio.getsockname()
    configure_workers(config, twilio_api_base_url=f"http://{host}:{port}", provider_timeout=0.2)

    run_jobs()

    reply = bot_reply(db)
    assert (reply["status"], reply["attempts"]) == ("failed", 3)
    assert "Timeout" in reply["error_message"]
    assert connections_made(unresponsive_twilio) == 3


def closed_port_url() -> str:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return f"http://127.0.0.1:{port}"


def test_unreachable_twilio_is_retried_and_the_retry_delivers_once(customer_wrote, config, db, run_jobs,
                                                                   fake_twilio):
    configure_workers(config, twilio_api_base_url=closed_port_url())
    assert process_inbound(customer_wrote["id"]) == "answered"
    reply_id = bot_reply(db)["id"]

    assert send_message(reply_id) == "retrying"
    waiting = bot_reply(db)
    assert (waiting["status"], waiting["attempts"]) == ("retrying", 1)
    assert "unreachable" in waiting["error_message"]

    configure_workers(config)  # Twilio is back
    run_jobs()

    reply = bot_reply(db)
    assert (reply["status"], reply["attempts"], reply["error_message"]) == ("queued", 2, None)
    assert len(fake_twilio.sent()) == 1


# --- idempotency ------------------------------------------------------------------------


def test_sending_a_message_twice_sends_it_once(customer_wrote, db, redis, run_jobs, fake_twilio):
    run_jobs()
    reply = bot_reply(db)

    jobs.enqueue_send(redis, reply["id"])
    run_jobs()

    assert len(fake_twilio.sent()) == 1
    assert send_message(reply["id"]) == "not due"
    assert bot_reply(db)["attempts"] == 1


def test_failed_message_is_not_sent_again(customer_wrote, db, redis, run_jobs, fake_twilio):
    fake_twilio.fail_next(400, 21211, "invalid To")
    run_jobs()

    jobs.enqueue_send(redis, bot_reply(db)["id"])
    run_jobs()

    assert len(fake_twilio.requests) == 1
    assert len(failed_events(db)) == 1


def test_send_claimed_by_a_live_worker_is_not_sent_again(customer_wrote, db, run_jobs, fake_twilio):
    assert process_inbound(customer_wrote["id"]) == "answered"
    reply_id = bot_reply(db)["id"]
    with db() as conn:  # another worker holds the claim, its lease still running
        conn.execute("UPDATE messages SET status = 'sending', attempts = 1,"
                     " next_attempt_at = now() + interval '5 minutes' WHERE id = %s", (reply_id,))

    assert send_message(reply_id) == "not due"
    assert fake_twilio.requests == []


def test_html_error_page_from_a_proxy_is_retried(customer_wrote, db, run_jobs, fake_twilio):
    fake_twilio.respond_next(502, "<html><body>502 Bad Gateway</body></html>")

    run_jobs()

    reply = bot_reply(db)
    assert (reply["status"], reply["attempts"]) == ("queued", 2)
    assert len(fake_twilio.requests) == 2
