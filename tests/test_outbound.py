"""send_message through the real twilio client: retries of transient failures,
final failures recorded once, and never two sends of one message.

The config fixture retries after (0, 0) seconds: two retries, immediately, so
a send has at most three attempts.
"""

import json
import socket

import pytest

from channels.templates import (
    Template,
    explain_error,
    message_metadata,
    render,
    templates_setting,
)
from gateway import queues
from gateway.store import messages
from tests.helpers import (
    CUSTOMER,
    add_whatsapp_channel,
    closed_port_url,
    configure_workers,
    fetch_all,
    fetch_one,
    post_twilio,
    seed_conversation,
    twilio_status_form,
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
    assert reply["error_message"] == "cannot reach Twilio: no answer within 0.2 s; gave up after 3 attempts"
    assert connections_made(unresponsive_twilio) == 3



def test_unreachable_twilio_is_retried_and_the_retry_delivers_once(customer_wrote, config, db, run_jobs,
                                                                   fake_twilio):
    configure_workers(config, twilio_api_base_url=closed_port_url())
    assert process_inbound(customer_wrote["id"]) == "answered"
    reply_id = bot_reply(db)["id"]

    assert send_message(reply_id) == "retrying"
    waiting = bot_reply(db)
    assert (waiting["status"], waiting["attempts"]) == ("retrying", 1)
    assert waiting["error_message"] == "cannot reach Twilio: connection refused; retrying in 0 s, attempt 2 of 3"

    configure_workers(config)  # Twilio is back
    run_jobs()

    reply = bot_reply(db)
    assert (reply["status"], reply["attempts"], reply["error_message"]) == ("queued", 2, None)
    assert len(fake_twilio.sent()) == 1


# --- idempotency ------------------------------------------------------------------------


def test_sending_a_message_twice_sends_it_once(customer_wrote, db, redis, run_jobs, fake_twilio):
    run_jobs()
    reply = bot_reply(db)

    queues.enqueue_send(redis, reply["id"])
    run_jobs()

    assert len(fake_twilio.sent()) == 1
    assert send_message(reply["id"]) == "not due"
    assert bot_reply(db)["attempts"] == 1


def test_failed_message_is_not_sent_again(customer_wrote, db, redis, run_jobs, fake_twilio):
    fake_twilio.fail_next(400, 21211, "invalid To")
    run_jobs()

    queues.enqueue_send(redis, bot_reply(db)["id"])
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


# --- templates, the 24-hour window, 63016 and email ---------------------------------------------

CUSTOMER_EMAIL = "ann@example.com"
FOLLOW_UP = Template("follow_up", "HX" + "0123456789abcdef" * 2, ("customer_name", "agent_name"),
                     "Hi {{1}}, this is {{2}} following up on your request. Reply to continue.")


@pytest.fixture
def conversation(db):
    """A WhatsApp conversation whose customer just wrote; no job queued."""
    channel = add_whatsapp_channel(db, settings={"templates": templates_setting([FOLLOW_UP])})
    return seed_conversation(db, channel, CUSTOMER, [("customer", "Do you ship to Canada?")], email=CUSTOMER_EMAIL)


def queue_message(db, redis, conversation_id: int, sender: str, text: str, *, customer_wrote_hours_ago=None,
                  metadata: dict | None = None) -> int:
    """An outbound message queued for sending, the customer's last message that long ago."""
    with db() as conn:
        if customer_wrote_hours_ago is not None:
            conn.execute("UPDATE conversations SET last_customer_message_at = now() - %s * interval '1 hour'"
                         " WHERE id = %s", (customer_wrote_hours_ago, conversation_id))
        channel_id = conn.execute("SELECT channel_id FROM conversations WHERE id = %s",
                                  (conversation_id,)).fetchone()["channel_id"]
        message_id = messages.insert_outbound(conn, conversation_id=conversation_id, channel_id=channel_id,
                                              sender=sender, text=text, metadata=metadata)
    queues.enqueue_send(redis, message_id)
    return message_id


def message_row(db, message_id: int) -> dict:
    return fetch_one(db, "SELECT * FROM messages WHERE id = %s", message_id)


def follow_up(values=None) -> tuple[str, dict]:
    text, variables = render(FOLLOW_UP, values or {"customer_name": "Ann", "agent_name": "Maya"})
    return text, message_metadata(FOLLOW_UP, variables)


def test_a_template_goes_as_content_sid_and_variables_without_body(conversation, db, redis, run_jobs, fake_twilio):
    text, metadata = follow_up()
    message_id = queue_message(db, redis, conversation, "agent", text, customer_wrote_hours_ago=30,
                               metadata=metadata)

    run_jobs()

    [sent] = fake_twilio.sent()
    assert sent["ContentSid"] == FOLLOW_UP.content_sid
    assert json.loads(sent["ContentVariables"]) == {"1": "Ann", "2": "Maya"}
    assert "Body" not in sent and "MediaUrl" not in sent
    assert (sent["To"], sent["From"]) == (CUSTOMER, "whatsapp:+14155238886")
    row = message_row(db, message_id)
    assert (row["status"], row["text"]) == ("queued", "Hi Ann, this is Maya following up on your request. "
                                                      "Reply to continue.")


def test_a_template_inside_the_window_is_also_a_template(conversation, db, redis, run_jobs, fake_twilio):
    text, metadata = follow_up()
    queue_message(db, redis, conversation, "agent", text, customer_wrote_hours_ago=1, metadata=metadata)
    run_jobs()
    [sent] = fake_twilio.sent()
    assert sent["ContentSid"] == FOLLOW_UP.content_sid and "Body" not in sent


def test_free_text_inside_the_window_goes_as_body(conversation, db, redis, run_jobs, fake_twilio):
    queue_message(db, redis, conversation, "agent", "Your refund went out.", customer_wrote_hours_ago=23)
    run_jobs()
    [sent] = fake_twilio.sent()
    assert sent["Body"] == "Your refund went out." and "ContentSid" not in sent


@pytest.mark.parametrize("sender", ["bot", "system", "agent"])
def test_free_text_after_24_hours_is_never_sent_and_fails_at_once(conversation, db, redis, run_jobs, fake_twilio,
                                                                  sender):
    message_id = queue_message(db, redis, conversation, sender, "Are you still there?",
                               customer_wrote_hours_ago=24.02)

    run_jobs()

    assert fake_twilio.requests == []
    row = message_row(db, message_id)
    assert (row["status"], row["error_code"], row["attempts"]) == ("failed", "outside_window", 1)
    assert row["error_message"].startswith("Not sent, outside the messaging window. More than 24 hours")
    [event] = failed_events(db)
    assert (event["message_id"], event["detail"]["code"]) == (message_id, "outside_window")


def test_a_bot_reply_whose_window_closed_while_queued_is_not_sent(conversation, db, run_jobs, fake_twilio):
    """The bot answered inside the window, but the send ran after it closed (workers down for a day)."""
    with db() as conn:
        customer_message = conn.execute("SELECT id FROM messages WHERE sender = 'customer'").fetchone()["id"]
    assert process_inbound(customer_message) == "answered"
    with db() as conn:
        conn.execute("UPDATE conversations SET last_customer_message_at = now() - interval '25 hours'")

    assert send_message(bot_reply(db)["id"]) == "failed"

    assert fake_twilio.requests == []
    assert bot_reply(db)["error_code"] == "outside_window"


def test_an_early_63016_receipt_is_explained_in_the_event(conversation, db, redis, client, run_jobs, fake_twilio):
    message_id = queue_message(db, redis, conversation, "agent", "Hello again", customer_wrote_hours_ago=2)
    post_twilio(client, "/webhooks/twilio/status",
                twilio_status_form(fake_twilio.next_sid(), "failed", ErrorCode="63016",
                                   ErrorMessage="Outside messaging window"))

    run_jobs()

    assert message_row(db, message_id)["status"] == "failed"
    [event] = failed_events(db)
    assert event["detail"]["error_code"] == "63016"
    assert event["detail"]["explanation"] == explain_error("63016")
    assert event["detail"]["explanation"].startswith("Outside WhatsApp's 24-hour window: use an approved template")


@pytest.fixture
def smtp(config, smtp):
    configure_workers(config, smtp_url=smtp.url(query="from=support@example.com"))
    return smtp


EMAIL_REPLY = {"via": "email", "to": CUSTOMER_EMAIL, "subject": "Your refund"}


def test_an_email_reply_is_mailed_not_sent_on_whatsapp(conversation, db, redis, run_jobs, fake_twilio, smtp):
    message_id = queue_message(db, redis, conversation, "agent", "Your refund went out today.\n\nMaya",
                               customer_wrote_hours_ago=30, metadata=EMAIL_REPLY)

    run_jobs()

    assert fake_twilio.requests == []
    [mail] = smtp.messages
    assert mail.rcpt_tos == [CUSTOMER_EMAIL]
    assert (mail.message["Subject"], mail.message["From"]) == ("Your refund", "support@example.com")
    assert mail.message.get_content().replace("\r\n", "\n") == "Your refund went out today.\n\nMaya\n"
    row = message_row(db, message_id)
    assert row["status"] == "sent"
    assert row["provider_message_id"] == "email:" + mail.message["Message-ID"]
    assert failed_events(db) == []


def test_an_email_the_server_refuses_for_good_fails_at_once(conversation, db, redis, run_jobs, smtp):
    smtp.reject_recipient(CUSTOMER_EMAIL)  # 550: no such mailbox; retrying cannot help
    message_id = queue_message(db, redis, conversation, "agent", "Hello", metadata=EMAIL_REPLY)

    run_jobs()

    row = message_row(db, message_id)
    assert (row["status"], row["error_code"], row["attempts"]) == ("failed", "mail", 1)
    assert CUSTOMER_EMAIL in row["error_message"]
    assert smtp.messages == []
    assert len(failed_events(db)) == 1


def test_an_email_the_server_cannot_take_now_is_retried_then_failed(conversation, config, db, redis, run_jobs):
    configure_workers(config, smtp_url="smtp://127.0.0.1:1")  # nobody listens: a connection failure
    message_id = queue_message(db, redis, conversation, "agent", "Hello", metadata=EMAIL_REPLY)

    run_jobs()

    row = message_row(db, message_id)
    assert (row["status"], row["error_code"], row["attempts"]) == ("failed", "mail", 3)
    assert CUSTOMER_EMAIL in row["error_message"]
    assert len(failed_events(db)) == 1


def test_an_email_without_smtp_url_fails_at_once(conversation, config, db, redis, run_jobs):
    configure_workers(config, smtp_url=None)
    message_id = queue_message(db, redis, conversation, "agent", "Hello", metadata=EMAIL_REPLY)

    run_jobs()

    row = message_row(db, message_id)
    assert (row["status"], row["error_code"], row["attempts"]) == ("failed", "no_smtp", 1)
