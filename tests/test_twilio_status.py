"""Twilio delivery status callbacks: signed like inbound webhooks, From is our number,
status only moves forward, failures become events, and receipts that beat the
send's response are kept until the send records its sid."""

import pytest

from tests.helpers import (
    add_whatsapp_channel,
    count,
    fetch_all,
    fetch_one,
    post_twilio,
    twilio_status_form,
    whatsapp_form,
)

WEBHOOK = "/webhooks/twilio/whatsapp"
STATUS = "/webhooks/twilio/status"


@pytest.fixture
def channel(db):
    return add_whatsapp_channel(db)


def bot_reply(db) -> dict:
    return fetch_one(db, "SELECT * FROM messages WHERE sender = 'bot'")


@pytest.fixture
def sent_reply(client, db, run_jobs, channel) -> dict:
    """A bot reply the fake Twilio accepted (status queued)."""
    post_twilio(client, WEBHOOK, whatsapp_form(body="hello"))
    run_jobs()
    reply = bot_reply(db)
    assert reply["status"] == "queued"
    return reply


def post_status(client, sid: str, status: str, **extra):
    response = post_twilio(client, STATUS, twilio_status_form(sid, status, **extra))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def failed_events(db) -> list[dict]:
    return fetch_all(db, "SELECT * FROM events WHERE kind = 'message.failed' ORDER BY id")


def test_statuses_in_order_are_recorded_up_to_read(client, db, sent_reply):
    sid = sent_reply["provider_message_id"]

    post_status(client, sid, "sent")
    assert bot_reply(db)["status"] == "sent"
    post_status(client, sid, "delivered")
    delivered = bot_reply(db)
    assert delivered["status"] == "delivered"
    assert delivered["delivered_at"] is not None
    assert delivered["read_at"] is None
    post_status(client, sid, "read")

    read = bot_reply(db)
    assert read["status"] == "read"
    assert read["read_at"] is not None
    assert read["delivered_at"] == delivered["delivered_at"]


def test_status_callback_answers_with_empty_twiml(client, sent_reply):
    response = post_status(client, sent_reply["provider_message_id"], "sent")

    assert response.mimetype == "text/xml"
    assert b"<Response/>" in response.data


def test_late_callbacks_never_move_status_backwards(client, db, sent_reply):
    sid = sent_reply["provider_message_id"]

    post_status(client, sid, "read")
    post_status(client, sid, "sent")
    post_status(client, sid, "delivered")
    post_status(client, sid, "queued")

    assert bot_reply(db)["status"] == "read"


def test_read_without_delivered_also_sets_delivered_at(client, db, sent_reply):
    post_status(client, sent_reply["provider_message_id"], "read")

    reply = bot_reply(db)
    assert reply["delivered_at"] is not None and reply["read_at"] is not None


def test_failed_outside_the_window_records_error_and_event(client, db, sent_reply):
    sid = sent_reply["provider_message_id"]

    post_status(client, sid, "failed", ErrorCode="63016",
                ErrorMessage="Outside messaging window. For WhatsApp, use a Message Template instead")

    reply = bot_reply(db)
    assert reply["status"] == "failed"
    assert reply["error_code"] == "63016"
    assert "Outside messaging window" in reply["error_message"]
    [event] = failed_events(db)
    assert event["message_id"] == reply["id"]
    assert event["conversation_id"] == reply["conversation_id"]
    assert event["detail"]["error_code"] == "63016"


def test_repeated_failure_callback_records_one_event(client, db, sent_reply):
    for _ in range(2):
        post_status(client, sent_reply["provider_message_id"], "failed", ErrorCode="63016")

    assert len(failed_events(db)) == 1


def test_undelivered_is_final_and_a_late_delivered_does_not_undo_it(client, db, sent_reply):
    sid = sent_reply["provider_message_id"]

    post_status(client, sid, "undelivered", ErrorCode="63024")
    post_status(client, sid, "delivered")

    reply = bot_reply(db)
    assert (reply["status"], reply["error_code"]) == ("undelivered", "63024")
    assert len(failed_events(db)) == 1


def test_forged_status_callback_is_403_and_changes_nothing(client, db, sent_reply):
    form = twilio_status_form(sent_reply["provider_message_id"], "read")

    response = post_twilio(client, STATUS, form, token="not-the-token")

    assert response.status_code == 403
    assert bot_reply(db)["status"] == "queued"


def test_status_callback_from_an_unconfigured_number_is_404(client, db, sent_reply):
    form = twilio_status_form(sent_reply["provider_message_id"], "read", our_number="whatsapp:+14155550199")

    response = post_twilio(client, STATUS, form)

    assert response.status_code == 404
    assert "whatsapp:+14155550199" in response.get_json()["error"]
    assert bot_reply(db)["status"] == "queued"


@pytest.mark.parametrize("form", [
    {k: v for k, v in twilio_status_form("SM" + "1" * 32, "sent").items() if k not in ("MessageSid", "SmsSid")},
    {k: v for k, v in twilio_status_form("SM" + "1" * 32, "sent").items()
     if k not in ("MessageStatus", "SmsStatus")},
    twilio_status_form("SM" + "1" * 32, "sent", From="not-a-number"),
], ids=["no-sid", "no-status", "bad-from"])
def test_malformed_status_callback_is_400_with_details(client, db, channel, form):
    response = post_twilio(client, STATUS, form)

    assert response.status_code == 400
    assert response.get_json()["details"]
    assert count(db, "early_receipts") == 0


# --- receipts that arrive before the send recorded its sid -----------------------------


def test_receipt_before_the_send_completes_is_applied_when_it_does(client, db, run_jobs, fake_twilio, channel):
    post_twilio(client, WEBHOOK, whatsapp_form(body="hello"))
    sid = fake_twilio.next_sid()

    post_status(client, sid, "delivered")
    assert count(db, "early_receipts") == 1
    run_jobs()

    reply = bot_reply(db)
    assert reply["provider_message_id"] == sid
    assert reply["status"] == "delivered"
    assert reply["delivered_at"] is not None
    assert count(db, "early_receipts") == 0


def test_early_receipts_keep_the_furthest_status(client, db, run_jobs, fake_twilio, channel):
    post_twilio(client, WEBHOOK, whatsapp_form(body="hello"))
    sid = fake_twilio.next_sid()

    post_status(client, sid, "read")
    post_status(client, sid, "sent")
    run_jobs()

    assert bot_reply(db)["status"] == "read"


def test_early_failure_is_applied_with_its_error_and_event(client, db, run_jobs, fake_twilio, channel):
    post_twilio(client, WEBHOOK, whatsapp_form(body="hello"))
    sid = fake_twilio.next_sid()

    post_status(client, sid, "failed", ErrorCode="63016", ErrorMessage="Outside messaging window")
    run_jobs()

    reply = bot_reply(db)
    assert (reply["status"], reply["error_code"]) == ("failed", "63016")
    [event] = failed_events(db)
    assert event["message_id"] == reply["id"]
    assert event["detail"]["error_code"] == "63016"


@pytest.mark.parametrize("status", ["scheduled", "canceled", "partially_delivered"])
def test_early_receipt_with_a_status_we_do_not_track_does_not_break_the_send(
        client, db, run_jobs, fake_twilio, channel, status):
    post_twilio(client, WEBHOOK, whatsapp_form(body="hello"))
    sid = fake_twilio.next_sid()

    post_status(client, sid, status)
    run_jobs()

    reply = bot_reply(db)
    assert (reply["provider_message_id"], reply["status"]) == (sid, "queued")
    assert len(fake_twilio.sent()) == 1


def test_status_we_do_not_track_leaves_a_sent_message_alone(client, db, sent_reply):
    post_status(client, sent_reply["provider_message_id"], "delivered")

    post_status(client, sent_reply["provider_message_id"], "partially_delivered")

    assert bot_reply(db)["status"] == "delivered"


def test_63016_is_explained_to_the_agent_on_the_message_and_the_event(client, db, sent_reply):
    post_status(client, sent_reply["provider_message_id"], "failed", ErrorCode="63016",
                ErrorMessage="Outside messaging window")

    reply = bot_reply(db)
    assert reply["error_message"].startswith("Outside WhatsApp's 24-hour window: use an approved template")
    assert reply["error_message"].endswith(" (Twilio: Outside messaging window)")
    [event] = failed_events(db)
    assert event["detail"]["explanation"].startswith("Outside WhatsApp's 24-hour window: use an approved template")
