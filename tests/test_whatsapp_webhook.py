"""WhatsApp through Twilio: signed webhooks in, bot replies out through the real twilio client."""

from tests.helpers import (
    add_article,
    add_whatsapp_channel,
    count,
    post_twilio,
    whatsapp_form,
)

WEBHOOK = "/webhooks/twilio/whatsapp"


def test_signed_message_is_stored_answered_and_sent(client, db, run_jobs, fake_twilio):
    add_whatsapp_channel(db)
    add_article(db, "Shipping", "Orders ship within 2 business days. Tracking numbers arrive by email.")

    response = post_twilio(client, WEBHOOK, whatsapp_form(body="How long does shipping take for my order?"))

    assert response.status_code == 200
    assert response.mimetype == "text/xml"
    assert b"<Response/>" in response.data
    run_jobs()
    sent = fake_twilio.sent()
    assert len(sent) == 1
    assert sent[0]["To"] == "whatsapp:+15551230001"
    assert sent[0]["From"] == "whatsapp:+14155238886"
    assert "2 business days" in sent[0]["Body"]
    assert sent[0]["StatusCallback"] == "https://handoff.example.com/webhooks/twilio/status"
    with db() as conn:
        reply = conn.execute("SELECT * FROM messages WHERE sender = 'bot'").fetchone()
    assert reply["status"] == "queued"
    assert reply["provider_message_id"].startswith("SM")


def test_forged_signature_is_403_and_stores_nothing(client, db):
    add_whatsapp_channel(db)
    response = post_twilio(client, WEBHOOK, whatsapp_form(), token="not-the-token")
    assert response.status_code == 403
    assert response.get_json()["error"] == "invalid X-Twilio-Signature"
    assert count(db, "messages") == 0
    assert count(db, "contacts") == 0


def test_same_message_three_times_is_one_message_one_reply(client, db, run_jobs, fake_twilio):
    add_whatsapp_channel(db)
    form = whatsapp_form(body="hello?")
    for _ in range(3):
        assert post_twilio(client, WEBHOOK, form).status_code == 200
    run_jobs()
    assert count(db, "messages") == 2
    assert len(fake_twilio.sent()) == 1
