"""Facebook Messenger webhooks: Meta's verification GET, signed event POSTs,
batches, every event kind, duplicates and delivery/read watermarks.

Every POST is signed in the test with HMAC-SHA256 over the exact bytes sent,
as Meta does; replies go through the real pymessenger client to FakeGraph.
"""

import hashlib
import hmac
import json

import pytest

from tests.helpers import (
    APP_SECRET,
    PAGE_ID,
    PSID,
    VERIFY_TOKEN,
    add_article,
    add_messenger_channel,
    add_messenger_page,
    add_whatsapp_channel,
    count,
    fetch_all,
    messenger_batch,
    messenger_events,
    messenger_item,
    messenger_signature,
    messenger_text,
    now_ms,
    post_messenger,
)

WEBHOOK = "/webhooks/messenger"


def rows(db, query: str, *params) -> list[dict]:
    with db() as conn:
        return conn.execute(query, params).fetchall()


def row(db, query: str, *params) -> dict | None:
    with db() as conn:
        return conn.execute(query, params).fetchone()


def inbound(db) -> list[dict]:
    return rows(db, "SELECT * FROM messages WHERE direction = 'inbound' ORDER BY id")


def queued_jobs(redis) -> int:
    from gateway.queues import QUEUES, queue

    return sum(queue(redis, name).count for name in QUEUES)


def verify(client, **params):
    return client.get(WEBHOOK, query_string=params)


def nothing_stored(db) -> bool:
    return count(db, "messages") == 0 and count(db, "contacts") == 0 and count(db, "conversations") == 0


# --- Verification (GET) ----------------------------------------------------------------


def test_verification_answers_the_raw_challenge_as_plain_text(client, db):
    add_messenger_channel(db)
    response = verify(client, **{"hub.mode": "subscribe", "hub.challenge": "1158201444",
                                 "hub.verify_token": VERIFY_TOKEN})
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert response.data == b"1158201444"


def test_verification_accepts_the_token_of_any_messenger_channel(client, db):
    add_messenger_page(db, "111", verify_token="first-token")
    add_messenger_page(db, "222", verify_token="second-token")
    response = verify(client, **{"hub.mode": "subscribe", "hub.challenge": "42",
                                 "hub.verify_token": "second-token"})
    assert response.status_code == 200
    assert response.data == b"42"


def test_verification_with_a_wrong_token_is_403(client, db):
    add_messenger_channel(db)
    response = verify(client, **{"hub.mode": "subscribe", "hub.challenge": "1158201444",
                                 "hub.verify_token": "not-the-token"})
    assert response.status_code == 403
    assert b"1158201444" not in response.data


def test_verification_without_a_token_is_403(client, db):
    add_messenger_channel(db)
    response = verify(client, **{"hub.mode": "subscribe", "hub.challenge": "1158201444"})
    assert response.status_code == 403


def test_verification_with_another_mode_is_403(client, db):
    add_messenger_channel(db)
    response = verify(client, **{"hub.mode": "unsubscribe", "hub.challenge": "1158201444",
                                 "hub.verify_token": VERIFY_TOKEN})
    assert response.status_code == 403


def test_verification_without_any_messenger_channel_is_403(client, db):
    add_whatsapp_channel(db)
    response = verify(client, **{"hub.mode": "subscribe", "hub.challenge": "1158201444",
                                 "hub.verify_token": VERIFY_TOKEN})
    assert response.status_code == 403


def test_verification_does_not_match_an_empty_token_to_a_channel_without_one(client, db):
    add_messenger_page(db, "111", verify_token="")
    response = verify(client, **{"hub.mode": "subscribe", "hub.challenge": "1", "hub.verify_token": ""})
    assert response.status_code == 403


# --- Signatures over the raw body ----------------------------------------------------------

# How Meta sends it: non-ASCII as \uXXXX (an emoji as a surrogate pair) and "/" as "\/".
ESCAPED_BODY = (
    b'{"object":"page","entry":[{"id":"' + PAGE_ID.encode() + b'","time":1735732800512,"messaging":['
    b'{"sender":{"id":"' + PSID.encode() + b'"},"recipient":{"id":"' + PAGE_ID.encode() + b'"},'
    b'"timestamp":1735732800000,"message":{"mid":"m_escaped",'
    b'"text":"Caf\\u00e9 cr\\u00e8me \\u2014 see https:\\/\\/shop.example.com\\/orders\\/42 \\ud83d\\ude00"}}]}]}'
)


def test_signature_over_raw_bytes_with_unicode_and_slash_escapes_is_accepted(client, db):
    add_messenger_channel(db)
    # Re-serializing the parsed body can never give these bytes back.
    parsed = json.loads(ESCAPED_BODY)
    assert json.dumps(parsed).encode() != ESCAPED_BODY
    assert json.dumps(parsed, separators=(",", ":")).encode() != ESCAPED_BODY
    assert json.dumps(parsed, separators=(",", ":"), ensure_ascii=False).encode() != ESCAPED_BODY

    response = post_messenger(client, ESCAPED_BODY)

    assert response.status_code == 200
    assert [m["text"] for m in inbound(db)] == ["Café crème — see https://shop.example.com/orders/42 😀"]


def test_signature_of_the_reserialized_body_is_rejected(client, db):
    add_messenger_channel(db)
    reserialized = json.dumps(json.loads(ESCAPED_BODY), separators=(",", ":"), ensure_ascii=False).encode()
    response = post_messenger(client, ESCAPED_BODY, signature=messenger_signature(reserialized))
    assert response.status_code == 403
    assert nothing_stored(db)


def test_forged_signature_is_403_and_stores_nothing(client, db, redis):
    add_messenger_channel(db)
    response = post_messenger(client, messenger_events(messenger_text("m_1", "hi")), secret="not-the-secret")
    assert response.status_code == 403
    assert response.get_json()["error"] == "invalid X-Hub-Signature-256"
    assert nothing_stored(db)
    assert queued_jobs(redis) == 0


def test_missing_signature_is_403_and_stores_nothing(client, db):
    add_messenger_channel(db)
    raw = json.dumps(messenger_events(messenger_text("m_1", "hi"))).encode()
    response = client.post(WEBHOOK, data=raw, content_type="application/json")
    assert response.status_code == 403
    assert nothing_stored(db)


def test_legacy_sha1_signature_alone_is_403(client, db):
    add_messenger_channel(db)
    raw = json.dumps(messenger_events(messenger_text("m_1", "hi"))).encode()
    sha1 = "sha1=" + hmac.new(APP_SECRET.encode(), raw, hashlib.sha1).hexdigest()
    response = client.post(WEBHOOK, data=raw, content_type="application/json", headers={"X-Hub-Signature": sha1})
    assert response.status_code == 403
    assert nothing_stored(db)


def test_sha1_digest_in_the_sha256_header_is_403(client, db):
    add_messenger_channel(db)
    raw = json.dumps(messenger_events(messenger_text("m_1", "hi"))).encode()
    sha1 = "sha1=" + hmac.new(APP_SECRET.encode(), raw, hashlib.sha1).hexdigest()
    response = post_messenger(client, raw, signature=sha1)
    assert response.status_code == 403
    assert nothing_stored(db)


def test_signature_with_non_ascii_characters_is_403_not_a_crash(client, db):
    add_messenger_channel(db)
    raw = json.dumps(messenger_events(messenger_text("m_1", "hi"))).encode()
    response = client.post(WEBHOOK, data=raw, content_type="application/json",
                           headers={"X-Hub-Signature-256": "sha256=\xe9" + "0" * 63})
    assert response.status_code == 403
    assert nothing_stored(db)


def test_signature_with_uppercase_hex_is_accepted(client, db):
    add_messenger_channel(db)
    raw = json.dumps(messenger_events(messenger_text("m_1", "hi"))).encode()
    response = post_messenger(client, raw, signature="sha256=" + messenger_signature(raw)[7:].upper())
    assert response.status_code == 200
    assert len(inbound(db)) == 1


# --- Malformed bodies and unknown Pages ------------------------------------------------------


def test_malformed_json_is_400_with_a_json_error(client, db):
    add_messenger_channel(db)
    response = post_messenger(client, b'{"object":"page","entry":[')
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "body is not JSON"
    assert "details" in body
    assert nothing_stored(db)


def test_body_that_is_not_a_page_object_is_400(client, db):
    add_messenger_channel(db)
    response = post_messenger(client, {"object": "whatsapp_business_account", "entry": [{"id": PAGE_ID}]})
    assert response.status_code == 400
    assert response.get_json() == {"error": 'expected {"object": "page", "entry": [...]}',
                                   "details": {"object": "whatsapp_business_account"}}
    assert nothing_stored(db)


def test_body_with_an_empty_entry_list_is_400(client, db):
    add_messenger_channel(db)
    response = post_messenger(client, {"object": "page", "entry": []}, signature="sha256=" + "0" * 64)
    assert response.status_code == 400
    assert response.get_json()["error"] == "entry is empty"


def skipped_items(db) -> list[dict]:
    return [row["detail"] for row in fetch_all(db, "SELECT detail FROM events WHERE kind = 'webhook.item_skipped' "
                                                   "ORDER BY id")]


def test_signed_message_without_mid_is_acknowledged_skipped_and_recorded(client, db):
    """Meta resends a batch until it is answered 200: what cannot be used is
    acknowledged and recorded with its position, the rest is stored."""
    channel = add_messenger_channel(db)
    body = messenger_events(messenger_text("m_ok", "fine"), messenger_item("message", {"text": "no mid"}))
    response = post_messenger(client, body)
    assert response.status_code == 200
    assert [row["text"] for row in fetch_all(db, "SELECT text FROM messages")] == ["fine"]
    assert skipped_items(db) == [{"channel_id": channel.id, "where": {"entry": 0, "messaging": 1},
                                  "reason": "message without mid"}]


def test_unknown_page_is_404_and_stores_nothing(client, db):
    add_messenger_channel(db)
    response = post_messenger(client, messenger_events(messenger_text("m_1", "hi", page_id="999"), page_id="999"))
    assert response.status_code == 404
    assert "999" in response.get_json()["error"]
    assert nothing_stored(db)


# --- Batches -----------------------------------------------------------------------------------


def test_batch_of_entries_with_several_items_stores_every_message_in_order(client, db):
    add_messenger_channel(db)
    body = messenger_batch(
        (PAGE_ID, [messenger_text("m_1", "first"), messenger_text("m_2", "second")]),
        (PAGE_ID, [messenger_text("m_3", "third", psid="1111"), messenger_text("m_4", "fourth")]),
    )
    response = post_messenger(client, body)
    assert response.status_code == 200
    assert response.data == b"EVENT_RECEIVED"
    assert [(m["provider_message_id"], m["text"]) for m in inbound(db)] == [
        ("m_1", "first"), ("m_2", "second"), ("m_3", "third"), ("m_4", "fourth")]
    assert count(db, "conversations") == 2


def test_batch_for_two_pages_of_one_app_lands_on_each_pages_channel(client, db):
    first = add_messenger_page(db, "111", name="Shop")
    second = add_messenger_page(db, "222", name="Support")
    body = messenger_batch(("111", [messenger_text("m_1", "to shop", page_id="111")]),
                           ("222", [messenger_text("m_2", "to support", page_id="222")]))
    response = post_messenger(client, body)
    assert response.status_code == 200
    assert [(m["channel_id"], m["text"]) for m in inbound(db)] == [(first.id, "to shop"), (second.id, "to support")]


def test_batch_for_two_pages_with_different_app_secrets_is_403_and_stores_nothing(client, db):
    """One body carries one signature made with one app secret: a Page whose
    channel holds another secret cannot be authenticated, so nothing is taken."""
    add_messenger_page(db, "111", app_secret="secret-of-app-a")
    add_messenger_page(db, "222", app_secret="secret-of-app-b")
    body = messenger_batch(("111", [messenger_text("m_1", "hi", page_id="111")]),
                           ("222", [messenger_text("m_2", "hi", page_id="222")]))
    response = post_messenger(client, body, secret="secret-of-app-a")
    assert response.status_code == 403
    assert nothing_stored(db)


def test_batch_naming_one_unknown_page_is_404_and_stores_nothing(client, db):
    add_messenger_page(db, "111")
    body = messenger_batch(("111", [messenger_text("m_1", "hi", page_id="111")]),
                           ("999", [messenger_text("m_2", "hi", page_id="999")]))
    response = post_messenger(client, body)
    assert response.status_code == 404
    assert nothing_stored(db)


# --- What a message carries ----------------------------------------------------------------------


def test_text_message_lands_on_the_senders_identity_and_an_open_conversation(client, db, redis):
    channel = add_messenger_channel(db)
    response = post_messenger(client, messenger_events(messenger_text("m_1", "Where is my order?")))
    assert response.status_code == 200
    [message] = inbound(db)
    assert message["text"] == "Where is my order?"
    assert message["provider_message_id"] == "m_1"
    assert message["status"] == "received"
    identity = row(db, "SELECT * FROM contact_identities")
    assert (identity["channel_id"], identity["address"]) == (channel.id, PSID)
    conversation = row(db, "SELECT * FROM conversations WHERE id = %s", message["conversation_id"])
    assert conversation["status"] == "bot"
    assert conversation["identity_id"] == identity["id"]
    assert queued_jobs(redis) == 1


def test_image_attachment_is_stored_with_its_url(client, db):
    add_messenger_channel(db)
    url = "https://scontent.xx.fbcdn.net/v/t1.15752-9/photo.jpg?_nc_cat=1&oh=abc"
    post_messenger(client, messenger_events(messenger_item(
        "message", {"mid": "m_img", "attachments": [{"type": "image", "payload": {"url": url}}]})))
    [message] = inbound(db)
    assert message["text"] == ""
    assert message["attachments"] == [{"url": url, "content_type": None, "kind": "image"}]


def test_file_attachment_is_stored_as_a_file(client, db):
    add_messenger_channel(db)
    url = "https://cdn.fbsbx.com/v/t59.2708-21/invoice.pdf?_nc_cat=1"
    post_messenger(client, messenger_events(messenger_item(
        "message", {"mid": "m_file", "text": "my invoice", "attachments": [{"type": "file", "payload": {"url": url}}]})))
    [message] = inbound(db)
    assert message["text"] == "my invoice"
    assert message["attachments"] == [{"url": url, "content_type": None, "kind": "file"}]


def test_location_attachment_is_stored_as_a_geo_uri(client, db):
    add_messenger_channel(db)
    post_messenger(client, messenger_events(messenger_item("message", {"mid": "m_loc", "attachments": [
        {"type": "location", "title": "Pinned Location",
         "payload": {"coordinates": {"lat": 48.8584, "long": 2.2945}}}]})))
    [message] = inbound(db)
    assert message["attachments"] == [{"url": "geo:48.8584,2.2945", "content_type": None, "kind": "location"}]


def test_fallback_attachment_keeps_the_shared_link(client, db):
    add_messenger_channel(db)
    post_messenger(client, messenger_events(messenger_item("message", {"mid": "m_fb", "text": "look", "attachments": [
        {"type": "fallback", "title": "Our new store", "url": "https://l.facebook.com/l.php?u=https%3A%2F%2Fexample.com",
         "payload": None}]})))
    [message] = inbound(db)
    assert message["attachments"] == [{"url": "https://l.facebook.com/l.php?u=https%3A%2F%2Fexample.com",
                                       "content_type": None, "kind": "fallback"}]


def test_several_attachments_keep_their_order(client, db):
    add_messenger_channel(db)
    post_messenger(client, messenger_events(messenger_item("message", {"mid": "m_two", "attachments": [
        {"type": "image", "payload": {"url": "https://cdn.example/1.jpg"}},
        {"type": "video", "payload": {"url": "https://cdn.example/2.mp4"}}]})))
    [message] = inbound(db)
    assert [(a["kind"], a["url"]) for a in message["attachments"]] == [
        ("image", "https://cdn.example/1.jpg"), ("video", "https://cdn.example/2.mp4")]


def test_quick_reply_stores_its_payload(client, db):
    add_messenger_channel(db)
    post_messenger(client, messenger_events(messenger_item(
        "message", {"mid": "m_qr", "text": "Talk to a person", "quick_reply": {"payload": "HANDOFF_REQUEST"}})))
    [message] = inbound(db)
    assert (message["text"], message["payload"]) == ("Talk to a person", "HANDOFF_REQUEST")


def test_reply_to_is_kept_in_metadata(client, db):
    add_messenger_channel(db)
    post_messenger(client, messenger_events(messenger_item(
        "message", {"mid": "m_reply", "text": "this one", "reply_to": {"mid": "m_earlier"}})))
    [message] = inbound(db)
    assert message["metadata"] == {"reply_to": "m_earlier"}


def test_postback_with_mid_stores_its_title_and_payload(client, db):
    add_messenger_channel(db)
    post_messenger(client, messenger_events(messenger_item(
        "postback", {"mid": "m_pb", "title": "Track my order", "payload": "TRACK_ORDER"})))
    [message] = inbound(db)
    assert (message["provider_message_id"], message["text"], message["payload"]) == (
        "m_pb", "Track my order", "TRACK_ORDER")


def test_postback_without_mid_retried_three_times_is_stored_once(client, db, redis):
    add_messenger_channel(db)
    body = messenger_events(messenger_item("postback", {"title": "Get Started", "payload": "GET_STARTED"},
                                           timestamp=1735732800000))
    for _ in range(3):
        assert post_messenger(client, body).status_code == 200
    [message] = inbound(db)
    assert message["provider_message_id"] == f"postback:{PSID}:1735732800000"
    assert message["payload"] == "GET_STARTED"
    assert queued_jobs(redis) == 1


def test_two_postbacks_without_mid_at_different_times_are_two_messages(client, db):
    add_messenger_channel(db)
    post_messenger(client, messenger_events(
        messenger_item("postback", {"title": "Get Started", "payload": "GET_STARTED"}, timestamp=1735732800000),
        messenger_item("postback", {"title": "Get Started", "payload": "GET_STARTED"}, timestamp=1735732860000)))
    assert len(inbound(db)) == 2


# --- Ignored events ----------------------------------------------------------------------------------


def test_echo_of_our_own_message_stores_nothing_and_queues_nothing(client, db, redis):
    add_messenger_channel(db)
    echo = {"sender": {"id": PAGE_ID}, "recipient": {"id": PSID}, "timestamp": now_ms(),
            "message": {"is_echo": True, "app_id": 1517776481860111, "metadata": "handoff",
                        "mid": "m_echo", "text": "Orders ship within 2 business days."}}
    response = post_messenger(client, messenger_events(echo))
    assert response.status_code == 200
    assert nothing_stored(db)
    assert queued_jobs(redis) == 0


def test_reaction_is_ignored_without_error(client, db):
    add_messenger_channel(db)
    response = post_messenger(client, messenger_events(messenger_item(
        "reaction", {"reaction": "love", "emoji": "\u2764", "action": "react", "mid": "m_1"})))
    assert response.status_code == 200
    assert nothing_stored(db)


def test_standby_entry_is_ignored_without_error(client, db):
    add_messenger_channel(db)
    body = {"object": "page", "entry": [{"id": PAGE_ID, "time": now_ms(), "standby": [
        messenger_text("m_standby", "seen by the Page inbox")]}]}
    response = post_messenger(client, body)
    assert response.status_code == 200
    assert nothing_stored(db)


def test_event_without_a_sender_such_as_a_policy_notice_is_ignored(client, db):
    add_messenger_channel(db)
    notice = {"recipient": {"id": PAGE_ID}, "timestamp": now_ms(),
              "policy-enforcement": {"action": "block", "reason": "The bot violated our Platform Policies."}}
    response = post_messenger(client, messenger_events(notice))
    assert response.status_code == 200
    assert nothing_stored(db)


def test_ignored_events_do_not_stop_the_messages_beside_them(client, db):
    add_messenger_channel(db)
    body = messenger_events(
        messenger_item("reaction", {"reaction": "like", "action": "react", "mid": "m_0"}),
        messenger_text("m_1", "still here"),
        {"sender": {"id": PAGE_ID}, "recipient": {"id": PSID}, "timestamp": now_ms(),
         "message": {"is_echo": True, "mid": "m_echo", "text": "echo"}})
    post_messenger(client, body)
    assert [m["text"] for m in inbound(db)] == ["still here"]


# --- Duplicates -------------------------------------------------------------------------------------


def test_same_mid_three_times_is_one_message_one_reply_one_send(client, db, run_jobs, fake_graph):
    add_messenger_channel(db)
    add_article(db, "Shipping", "Orders ship within 2 business days. Tracking numbers arrive by email.")
    body = messenger_events(messenger_text("m_dup", "How long does shipping take?"))
    for _ in range(3):
        assert post_messenger(client, body).status_code == 200
    run_jobs()
    assert count(db, "messages") == 2
    assert len(fake_graph.sent()) == 1


def test_same_mid_twice_in_one_batch_is_one_message(client, db):
    add_messenger_channel(db)
    post_messenger(client, messenger_events(messenger_text("m_1", "hi"), messenger_text("m_1", "hi")))
    assert len(inbound(db)) == 1


# --- Delivery and read watermarks --------------------------------------------------------------------


def answered_conversation(client, db, run_jobs) -> tuple[int, dict]:
    """A conversation whose bot reply went out through FakeGraph: (id, reply row)."""
    add_messenger_channel(db)
    post_messenger(client, messenger_events(messenger_text("m_q", "Hello there")))
    run_jobs()
    reply = row(db, "SELECT * FROM messages WHERE sender = 'bot'")
    assert reply["status"] == "sent"
    return reply["conversation_id"], reply


def ms(timestamp) -> int:
    return int(timestamp.timestamp() * 1000)


def reply_status(db) -> str:
    return row(db, "SELECT status FROM messages WHERE sender = 'bot'")["status"]


def test_delivery_watermark_marks_our_sent_message_delivered(client, db, run_jobs):
    conversation_id, reply = answered_conversation(client, db, run_jobs)
    watermark = ms(reply["sent_at"]) + 50
    response = post_messenger(client, messenger_events(messenger_item(
        "delivery", {"mids": [reply["provider_message_id"]], "watermark": watermark})))
    assert response.status_code == 200
    message = row(db, "SELECT * FROM messages WHERE id = %s", reply["id"])
    assert message["status"] == "delivered"
    assert message["delivered_at"] is not None
    conversation = row(db, "SELECT * FROM conversations WHERE id = %s", conversation_id)
    assert conversation["delivered_watermark"] == watermark


def test_delivery_without_mids_uses_the_watermark(client, db, run_jobs):
    _, reply = answered_conversation(client, db, run_jobs)
    post_messenger(client, messenger_events(messenger_item("delivery", {"watermark": ms(reply["sent_at"]) + 50})))
    assert reply_status(db) == "delivered"


def test_read_watermark_marks_our_sent_message_read(client, db, run_jobs):
    conversation_id, reply = answered_conversation(client, db, run_jobs)
    watermark = ms(reply["sent_at"]) + 2000
    post_messenger(client, messenger_events(messenger_item("read", {"watermark": watermark})))
    message = row(db, "SELECT * FROM messages WHERE id = %s", reply["id"])
    assert message["status"] == "read"
    assert message["read_at"] is not None and message["delivered_at"] is not None
    assert row(db, "SELECT read_watermark FROM conversations WHERE id = %s", conversation_id)["read_watermark"] == watermark


def test_read_watermark_equal_to_metas_stamp_of_our_reply_marks_it_read(client, db, run_jobs):
    """Meta stamps our reply while the Send API call is in flight, before we
    record sent_at; the customer reading exactly that reply gives that stamp."""
    _, reply = answered_conversation(client, db, run_jobs)
    with db() as conn:  # the Graph round trip took 800 ms
        conn.execute("UPDATE messages SET created_at = sent_at - interval '800 ms' WHERE id = %s", (reply["id"],))
    metas_stamp = ms(reply["sent_at"]) - 300
    post_messenger(client, messenger_events(messenger_item("read", {"watermark": metas_stamp})))
    assert reply_status(db) == "read"


def test_watermark_before_our_message_was_created_leaves_it_sent(client, db, run_jobs):
    _, reply = answered_conversation(client, db, run_jobs)
    post_messenger(client, messenger_events(messenger_item("read", {"watermark": ms(reply["created_at"]) - 1000})))
    assert reply_status(db) == "sent"


def test_watermark_long_before_our_message_was_sent_leaves_it_sent(client, db, run_jobs):
    """A reply queued before the watermark but sent a minute later (after retries) was not covered."""
    _, reply = answered_conversation(client, db, run_jobs)
    with db() as conn:
        conn.execute("UPDATE messages SET created_at = sent_at - interval '60 seconds' WHERE id = %s", (reply["id"],))
    post_messenger(client, messenger_events(messenger_item("read", {"watermark": ms(reply["sent_at"]) - 30_000})))
    assert reply_status(db) == "sent"


def test_late_delivery_after_read_never_moves_a_message_back(client, db, run_jobs):
    conversation_id, reply = answered_conversation(client, db, run_jobs)
    sent = ms(reply["sent_at"])
    post_messenger(client, messenger_events(messenger_item("read", {"watermark": sent + 2000})))
    post_messenger(client, messenger_events(messenger_item("delivery", {"watermark": sent + 100})))
    assert reply_status(db) == "read"


def test_conversation_watermarks_never_go_down(client, db, run_jobs):
    conversation_id, reply = answered_conversation(client, db, run_jobs)
    sent = ms(reply["sent_at"])
    post_messenger(client, messenger_events(messenger_item("read", {"watermark": sent + 5000}),
                                            messenger_item("read", {"watermark": sent + 1000})))
    assert row(db, "SELECT read_watermark FROM conversations WHERE id = %s",
               conversation_id)["read_watermark"] == sent + 5000


def test_watermark_does_not_touch_inbound_or_unsent_messages(client, db, run_jobs, fake_graph):
    add_messenger_channel(db)
    fake_graph.fail_next(400, 100, "(#100) Invalid parameter")
    post_messenger(client, messenger_events(messenger_text("m_q", "Hello there")))
    run_jobs()
    post_messenger(client, messenger_events(messenger_item("read", {"watermark": now_ms() + 5000})))
    statuses = {m["direction"]: m["status"] for m in rows(db, "SELECT direction, status FROM messages")}
    assert statuses == {"inbound": "received", "outbound": "failed"}


def test_watermark_from_an_unknown_customer_is_accepted_and_changes_nothing(client, db):
    add_messenger_channel(db)
    response = post_messenger(client, messenger_events(messenger_item("read", {"watermark": now_ms()}, psid="404")))
    assert response.status_code == 200
    assert nothing_stored(db)


def test_read_receipt_after_the_conversation_was_resolved_marks_the_last_message_read(client, db, run_jobs):
    conversation_id, reply = answered_conversation(client, db, run_jobs)
    with db() as conn:
        conn.execute("UPDATE conversations SET status = 'resolved', resolved_at = now() WHERE id = %s",
                     (conversation_id,))
    post_messenger(client, messenger_events(messenger_item("read", {"watermark": ms(reply["sent_at"]) + 2000})))
    assert reply_status(db) == "read"


def test_read_receipt_is_not_a_message(client, db, run_jobs, redis):
    answered_conversation(client, db, run_jobs)
    before = count(db, "messages")
    post_messenger(client, messenger_events(messenger_item("read", {"watermark": now_ms()})))
    assert count(db, "messages") == before
    assert queued_jobs(redis) == 0


@pytest.mark.parametrize("watermark", ["soon", 10**30, -1, True, None])
def test_unusable_watermark_is_acknowledged_and_recorded(client, db, watermark):
    add_messenger_channel(db)
    response = post_messenger(client, messenger_events(messenger_item("read", {"watermark": watermark})))
    assert response.status_code == 200
    assert [item["reason"] for item in skipped_items(db)] == ["read without a numeric watermark"]
