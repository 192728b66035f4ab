"""WhatsApp through Twilio: signed webhooks in, bot replies out through the real twilio client."""

import base64
import threading

import pytest
from twilio.request_validator import RequestValidator

from gateway import queues
from tests.conftest import PUBLIC_URL
from tests.helpers import (
    CUSTOMER,
    TWILIO_NUMBER,
    TWILIO_SID,
    TWILIO_TOKEN,
    add_article,
    add_twilio_channel,
    add_whatsapp_channel,
    count,
    fetch_all,
    fetch_one,
    post_twilio,
    twilio_signature,
    whatsapp_form,
)

WEBHOOK = "/webhooks/twilio/whatsapp"
MEDIA_BASE = f"https://api.twilio.com/2010-04-01/Accounts/{TWILIO_SID}/Messages/MM{'b' * 32}/Media"


def assert_nothing_stored(db):
    for table in ("contacts", "contact_identities", "conversations", "messages"):
        assert count(db, table) == 0, f"{table} is not empty"


def bot_replies(db) -> list[dict]:
    return fetch_all(db, "SELECT * FROM messages WHERE sender = 'bot'")


def inbound_message(db) -> dict:
    rows = fetch_all(db, "SELECT * FROM messages WHERE direction = 'inbound'")
    assert len(rows) == 1
    return rows[0]


# --- the pipeline end to end -------------------------------------------------------------


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


def test_webhook_answers_before_any_job_runs(client, db, fake_twilio):
    add_whatsapp_channel(db)

    assert post_twilio(client, WEBHOOK, whatsapp_form()).status_code == 200

    message = inbound_message(db)
    assert message["processed_at"] is None
    assert count(db, "messages") == 1  # no reply yet: the bot runs in a job
    assert fake_twilio.sent() == []


# --- inbound shapes ---------------------------------------------------------------------


def test_text_message_is_stored_with_its_sender_and_metadata(client, db):
    add_whatsapp_channel(db)

    post_twilio(client, WEBHOOK, whatsapp_form(sid="SM" + "1" * 32, body="Where is my order #4411?"))

    message = inbound_message(db)
    assert message["text"] == "Where is my order #4411?"
    assert message["provider_message_id"] == "SM" + "1" * 32
    assert message["sender"] == "customer"
    assert message["status"] == "received"
    assert message["attachments"] == []
    assert message["payload"] is None
    assert message["metadata"]["MessageType"] == "text"
    assert message["metadata"]["WaId"] == "15551230001"
    identity = fetch_one(db, "SELECT * FROM contact_identities")
    assert identity["address"] == CUSTOMER


def test_non_ascii_text_with_plus_signs_is_verified_and_stored_exactly(client, db):
    add_whatsapp_channel(db)
    body = "Olá! 1+1 = 2 👋  two  spaces & a:colon"

    assert post_twilio(client, WEBHOOK, whatsapp_form(body=body)).status_code == 200

    assert inbound_message(db)["text"] == body


def test_media_message_stores_every_attachment_with_its_kind(client, db):
    add_whatsapp_channel(db)
    form = whatsapp_form(
        sid="MM" + "b" * 32, body="", MessageType="image", NumMedia="4",
        MediaUrl0=f"{MEDIA_BASE}/ME{'0' * 32}", MediaContentType0="image/jpeg",
        MediaUrl1=f"{MEDIA_BASE}/ME{'1' * 32}", MediaContentType1="audio/ogg",
        MediaUrl2=f"{MEDIA_BASE}/ME{'2' * 32}", MediaContentType2="video/mp4",
        MediaUrl3=f"{MEDIA_BASE}/ME{'3' * 32}", MediaContentType3="application/pdf",
    )

    assert post_twilio(client, WEBHOOK, form).status_code == 200

    message = inbound_message(db)
    assert message["text"] == ""
    assert message["attachments"] == [
        {"url": f"{MEDIA_BASE}/ME{'0' * 32}", "content_type": "image/jpeg", "kind": "image"},
        {"url": f"{MEDIA_BASE}/ME{'1' * 32}", "content_type": "audio/ogg", "kind": "audio"},
        {"url": f"{MEDIA_BASE}/ME{'2' * 32}", "content_type": "video/mp4", "kind": "video"},
        {"url": f"{MEDIA_BASE}/ME{'3' * 32}", "content_type": "application/pdf", "kind": "file"},
    ]


def test_button_reply_stores_payload_and_falls_back_to_button_text(client, db):
    add_whatsapp_channel(db)
    form = whatsapp_form(
        body="", MessageType="button", ButtonText="Track my order", ButtonPayload="TRACK_ORDER",
        OriginalRepliedMessageSid="SM" + "9" * 32, OriginalRepliedMessageSender="whatsapp:+14155238886",
    )

    assert post_twilio(client, WEBHOOK, form).status_code == 200

    message = inbound_message(db)
    assert message["payload"] == "TRACK_ORDER"
    assert message["text"] == "Track my order"
    assert message["metadata"]["OriginalRepliedMessageSid"] == "SM" + "9" * 32


def test_button_reply_keeps_body_when_twilio_sends_one(client, db):
    add_whatsapp_channel(db)
    form = whatsapp_form(body="Yes, please", MessageType="button", ButtonText="Yes", ButtonPayload="CONFIRM_YES")

    post_twilio(client, WEBHOOK, form)

    message = inbound_message(db)
    assert (message["text"], message["payload"]) == ("Yes, please", "CONFIRM_YES")


def test_profile_name_names_the_identity_and_the_contact(client, db):
    add_whatsapp_channel(db)

    post_twilio(client, WEBHOOK, whatsapp_form(ProfileName="Grace Hopper"))

    identity = fetch_one(db, "SELECT * FROM contact_identities")
    contact = fetch_one(db, "SELECT * FROM contacts")
    assert identity["profile_name"] == "Grace Hopper"
    assert contact["name"] == "Grace Hopper"
    assert contact["phone"] == "+15551230001"
    assert identity["contact_id"] == contact["id"]


def test_location_becomes_a_location_attachment(client, db):
    add_whatsapp_channel(db)
    form = whatsapp_form(body="", MessageType="location", Latitude="48.858844", Longitude="2.294351",
                         Address="Champ de Mars, Paris", Label="Eiffel Tower")

    assert post_twilio(client, WEBHOOK, form).status_code == 200

    message = inbound_message(db)
    assert message["attachments"] == [{"url": "geo:48.858844,2.294351", "content_type": None, "kind": "location"}]
    assert message["metadata"]["MessageType"] == "location"
    assert (message["metadata"]["Address"], message["metadata"]["Label"]) == ("Champ de Mars, Paris", "Eiffel Tower")


def test_unknown_fields_are_accepted_and_signed(client, db):
    add_whatsapp_channel(db)
    form = whatsapp_form(
        ChannelMetadata='{"type":"whatsapp","data":{"context":{"ProfileName":"Ada Lovelace","WaId":"15551230001"}}}',
        Forwarded="true", SomeFieldTwilioAddsTomorrow="surprise",
    )

    assert post_twilio(client, WEBHOOK, form).status_code == 200
    assert count(db, "messages") == 1


def test_signature_that_leaves_out_an_unknown_field_is_rejected(client, db):
    add_whatsapp_channel(db)
    form = whatsapp_form(SomeFieldTwilioAddsTomorrow="surprise")
    signed_without_it = {k: v for k, v in form.items() if k != "SomeFieldTwilioAddsTomorrow"}

    response = post_twilio(client, WEBHOOK, form, signature=twilio_signature(WEBHOOK, signed_without_it))

    assert response.status_code == 403
    assert_nothing_stored(db)


# --- signatures -------------------------------------------------------------------------


def test_forged_signature_is_403_and_stores_nothing(client, db):
    add_whatsapp_channel(db)
    response = post_twilio(client, WEBHOOK, whatsapp_form(), token="not-the-token")
    assert response.status_code == 403
    assert response.get_json()["error"] == "invalid X-Twilio-Signature"
    assert_nothing_stored(db)


def test_missing_signature_header_is_403(client, db):
    add_whatsapp_channel(db)

    response = client.post(WEBHOOK, data=whatsapp_form())

    assert response.status_code == 403
    assert response.get_json()["error"] == "invalid X-Twilio-Signature"
    assert_nothing_stored(db)


@pytest.mark.parametrize("signed_url", [
    "http://handoff.example.com" + WEBHOOK,   # TLS offloaded: the scheme the proxy saw
    "http://localhost" + WEBHOOK,             # request.url as Flask sees it in the test client
    PUBLIC_URL + "/webhooks/twilio/status",   # another of our URLs
], ids=["http-scheme", "internal-url", "other-path"])
def test_signature_over_another_url_than_public_url_is_rejected(client, db, signed_url):
    add_whatsapp_channel(db)
    form = whatsapp_form()
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(signed_url, form)

    assert post_twilio(client, WEBHOOK, form, signature=signature).status_code == 403
    assert_nothing_stored(db)


def test_signature_over_public_url_with_query_string_is_accepted(client, db):
    add_whatsapp_channel(db)

    response = post_twilio(client, WEBHOOK + "?source=console&x=a%2Fb", whatsapp_form())

    assert response.status_code == 200
    assert count(db, "messages") == 1


def test_signature_that_ignores_the_query_string_is_rejected(client, db):
    add_whatsapp_channel(db)
    form = whatsapp_form()

    response = post_twilio(client, WEBHOOK + "?source=console", form, signature=twilio_signature(WEBHOOK, form))

    assert response.status_code == 403
    assert_nothing_stored(db)


def test_signature_with_another_channels_token_is_rejected(client, db):
    add_whatsapp_channel(db)
    add_twilio_channel(db, "whatsapp:+14155550100", account_sid="AC" + "2" * 32, token="second-token")
    form = whatsapp_form(to=TWILIO_NUMBER)

    assert post_twilio(client, WEBHOOK, form, token="second-token").status_code == 403
    assert_nothing_stored(db)


def test_channel_without_auth_token_accepts_no_signature(client, db):
    add_whatsapp_channel(db, token="")  # a half-configured channel

    response = post_twilio(client, WEBHOOK, whatsapp_form(), token="")  # HMAC keyed with the empty token

    assert response.status_code == 403
    assert_nothing_stored(db)


# --- malformed and unknown --------------------------------------------------------------


def without(form: dict, *names: str) -> dict:
    return {k: v for k, v in form.items() if k not in names}


@pytest.mark.parametrize("form, field", [
    (without(whatsapp_form(), "MessageSid", "SmsMessageSid", "SmsSid"), "MessageSid"),
    (whatsapp_form(From="+15551230001"), "From"),
    (whatsapp_form(From="whatsapp:someone"), "From"),
    (whatsapp_form(NumMedia="two"), "NumMedia"),
    (whatsapp_form(NumMedia="-1"), "NumMedia"),
    (whatsapp_form(NumMedia="2", MediaUrl0=f"{MEDIA_BASE}/ME{'0' * 32}", MediaContentType0="image/png"),
     "MediaUrl1"),
    (without(whatsapp_form(), "To"), "To"),
    (whatsapp_form(to="whatsapp:our-number"), "To"),
    (whatsapp_form(to="+14155238886"), "To"),
], ids=["no-sid", "from-without-prefix", "from-garbage", "num-media-word", "num-media-negative",
        "media-url-missing", "no-to", "to-garbage", "to-without-prefix"])
def test_malformed_message_is_400_with_json_details_and_stores_nothing(client, db, form, field):
    add_whatsapp_channel(db)

    response = post_twilio(client, WEBHOOK, form)

    assert response.status_code == 400
    body = response.get_json()
    assert body["error"]
    assert field in body["details"]
    assert_nothing_stored(db)


def test_message_to_an_unconfigured_number_is_404_and_stores_nothing(client, db):
    add_whatsapp_channel(db)
    form = whatsapp_form(to="whatsapp:+14155550199")

    response = post_twilio(client, WEBHOOK, form)

    assert response.status_code == 404
    body = response.get_json()
    assert "whatsapp:+14155550199" in body["error"]
    assert "handoff channel add whatsapp" in body["details"]["hint"]
    assert_nothing_stored(db)


# --- duplicates and idempotency ---------------------------------------------------------


def test_same_message_three_times_is_one_message_one_reply(client, db, run_jobs, fake_twilio):
    add_whatsapp_channel(db)
    form = whatsapp_form(body="hello?")
    for _ in range(3):
        assert post_twilio(client, WEBHOOK, form).status_code == 200
    run_jobs()
    assert len(fetch_all(db, "SELECT id FROM messages WHERE direction = 'inbound'")) == 1
    assert len(bot_replies(db)) == 1
    assert len(fake_twilio.sent()) == 1


def test_concurrent_deliveries_of_a_new_customers_message_store_one(app, db):
    add_whatsapp_channel(db)
    form = whatsapp_form(body="first words")
    start = threading.Barrier(3)
    statuses = []

    def deliver():
        client = app.test_client()
        start.wait(timeout=10)
        statuses.append(post_twilio(client, WEBHOOK, form).status_code)

    threads = [threading.Thread(target=deliver) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert statuses == [200, 200, 200]
    for table in ("contacts", "contact_identities", "conversations", "messages"):
        assert count(db, table) == 1, table


def test_retry_after_the_reply_was_sent_changes_nothing(client, db, run_jobs, fake_twilio):
    add_whatsapp_channel(db)
    form = whatsapp_form(body="hello?")
    post_twilio(client, WEBHOOK, form)
    run_jobs()

    assert post_twilio(client, WEBHOOK, form).status_code == 200
    run_jobs()

    assert count(db, "messages") == 2
    assert len(fake_twilio.sent()) == 1


def test_processing_an_inbound_message_twice_replies_once(client, db, redis, run_jobs, fake_twilio):
    add_whatsapp_channel(db)
    post_twilio(client, WEBHOOK, whatsapp_form())
    run_jobs()
    message_id = inbound_message(db)["id"]

    queues.enqueue_inbound(redis, message_id)  # e.g. the sweeper racing a slow worker
    run_jobs()

    assert len(bot_replies(db)) == 1
    assert len(fake_twilio.sent()) == 1


def test_two_first_messages_from_one_customer_share_a_conversation(client, db):
    add_whatsapp_channel(db)

    post_twilio(client, WEBHOOK, whatsapp_form(sid="SM" + "1" * 32, body="hi"))
    post_twilio(client, WEBHOOK, whatsapp_form(sid="SM" + "2" * 32, body="anyone there?"))

    assert count(db, "conversations") == 1
    assert count(db, "contacts") == 1
    assert count(db, "messages") == 2


# --- several numbers ----------------------------------------------------------------------

SECOND_NUMBER = "whatsapp:+14155550100"
SECOND_SID = "AC" + "2" * 32
SECOND_TOKEN = "second-auth-token"


def basic_auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_two_numbers_each_reply_from_their_own_number_and_account(client, db, run_jobs, fake_twilio):
    first = add_whatsapp_channel(db)
    second = add_twilio_channel(db, SECOND_NUMBER, account_sid=SECOND_SID, token=SECOND_TOKEN, name="Sales")

    post_twilio(client, WEBHOOK, whatsapp_form(sid="SM" + "1" * 32, sender="whatsapp:+15551230001"))
    post_twilio(client, WEBHOOK, whatsapp_form(sid="SM" + "2" * 32, sender="whatsapp:+15551230002",
                                               to=SECOND_NUMBER), token=SECOND_TOKEN)
    run_jobs()

    by_sender = {
        row["sender_address"]: row["channel_id"]
        for row in fetch_all(db, """SELECT i.address AS sender_address, m.channel_id FROM messages m
                                    JOIN conversations c ON c.id = m.conversation_id
                                    JOIN contact_identities i ON i.id = c.identity_id
                                   WHERE m.direction = 'inbound'""")
    }
    assert by_sender == {"whatsapp:+15551230001": first.id, "whatsapp:+15551230002": second.id}
    requests = {r.form()["To"][0]: r for r in fake_twilio.requests}
    assert len(fake_twilio.requests) == 2
    to_first, to_second = requests["whatsapp:+15551230001"], requests["whatsapp:+15551230002"]
    assert to_first.form()["From"] == [TWILIO_NUMBER]
    assert to_first.path == f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
    assert to_first.headers["Authorization"] == basic_auth(TWILIO_SID, TWILIO_TOKEN)
    assert to_second.form()["From"] == [SECOND_NUMBER]
    assert to_second.path == f"/2010-04-01/Accounts/{SECOND_SID}/Messages.json"
    assert to_second.headers["Authorization"] == basic_auth(SECOND_SID, SECOND_TOKEN)
