"""The web chat widget API: sessions, messages, transcripts, the live stream, CORS."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import pytest

from channels.web import Visitor, issue_visitor_token
from gateway import live
from gateway.app import create_app
from tests.helpers import (
    add_article,
    add_web_channel,
    add_whatsapp_channel,
    bearer,
    count,
    fetch_all,
    fetch_one,
    post_twilio,
    post_widget_message,
    whatsapp_form,
    widget_session,
)

SHIPPING = "Orders ship within 2 business days. Tracking numbers arrive by email."
QUESTION = "How long does shipping take for my order?"


@pytest.fixture
def app(app):
    # Streams that notice a closed client and end quickly, so tests never wait long.
    app.config.update(WIDGET_HEARTBEAT_SECONDS=0.1, WIDGET_STREAM_SECONDS=30)
    return app


@pytest.fixture
def channel(db):
    add_article(db, "Shipping", SHIPPING)
    return add_web_channel(db, "wk_test_key_a")


# --- sessions ----------------------------------------------------------------------------


def test_new_session_stores_nothing_until_the_visitor_writes(client, db, channel):
    session = widget_session(client, channel.address)

    assert session["visitor_id"].startswith("v_")
    assert session["visitor_token"]
    assert session["conversation_id"] is None
    assert count(db, "contacts") == 0
    assert count(db, "contact_identities") == 0


def test_returning_visitor_continues_their_conversation(client, db, channel):
    first = widget_session(client, channel.address)
    posted = post_widget_message(client, first["visitor_token"], QUESTION).get_json()

    again = widget_session(client, channel.address, visitor_token=first["visitor_token"])

    assert again["visitor_id"] == first["visitor_id"]
    assert again["conversation_id"] == posted["conversation_id"]
    transcript = client.get("/api/widget/messages", headers=bearer(again["visitor_token"])).get_json()
    assert [m["text"] for m in transcript["messages"]] == [QUESTION]


def test_invalid_token_starts_a_new_visitor(client, channel):
    first = widget_session(client, channel.address)
    other = widget_session(client, channel.address, visitor_token="not-a-token")
    assert other["visitor_id"] != first["visitor_id"]


def test_unknown_widget_key_is_404(client, channel):
    response = client.post("/api/widget/wk_nobody/session", json={})
    assert response.status_code == 404
    assert response.get_json()["error"] == "no web channel is configured for wk_nobody"


@pytest.mark.parametrize("body, field", [
    ({"email": "not-an-email"}, "email"),
    ({"name": "x" * 101}, "name"),
    ({"visitor_token": 42}, "visitor_token"),
    ({"unexpected": "field"}, "unexpected"),
])
def test_invalid_session_body_is_400(client, channel, body, field):
    response = client.post(f"/api/widget/{channel.address}/session", json=body)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid request body"
    assert field in response.get_json()["details"]


def test_session_body_must_be_a_json_object(client, channel):
    response = client.post(f"/api/widget/{channel.address}/session", data="[1, 2]", content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"] == "the request body must be a JSON object"


def test_name_and_email_are_recorded_on_the_visitor_contact(client, db, channel):
    widget_session(client, channel.address, name="Grace Hopper", email="grace@example.com")
    contact = fetch_one(db, "SELECT name, email FROM contacts")
    assert contact == {"name": "Grace Hopper", "email": "grace@example.com"}
    assert fetch_one(db, "SELECT profile_name FROM contact_identities")["profile_name"] == "Grace Hopper"


def test_returning_visitor_can_give_a_name_and_email_later(client, db, channel):
    session = widget_session(client, channel.address)
    post_widget_message(client, session["visitor_token"], QUESTION)
    assert fetch_one(db, "SELECT name, email FROM contacts") == {"name": None, "email": None}

    widget_session(client, channel.address, visitor_token=session["visitor_token"], name="Grace", email="g@example.com")
    assert fetch_one(db, "SELECT name, email FROM contacts") == {"name": "Grace", "email": "g@example.com"}

    # A different, unclaimed email never overwrites the one the contact has.
    widget_session(client, channel.address, visitor_token=session["visitor_token"], email="other@example.com")
    assert fetch_one(db, "SELECT name, email FROM contacts") == {"name": "Grace", "email": "g@example.com"}
    assert count(db, "contacts") == 1


def test_email_joins_the_visitor_to_the_contact_who_has_it(client, db, channel):
    """One person's WhatsApp and web conversations meet on one contact, but the
    widget shows the visitor only what was said on the web."""
    add_whatsapp_channel(db)
    post_twilio(client, "/webhooks/twilio/whatsapp", whatsapp_form(body="my order is late"))
    whatsapp_contact = fetch_one(db, "SELECT id FROM contacts")["id"]
    with db() as conn:
        conn.execute("UPDATE contacts SET email = 'ada@example.com' WHERE id = %s", (whatsapp_contact,))
    session = widget_session(client, channel.address)
    posted = post_widget_message(client, session["visitor_token"], QUESTION).get_json()
    web_contact = fetch_one(db, "SELECT contact_id FROM conversations WHERE id = %s", posted["conversation_id"])

    joined = widget_session(client, channel.address, visitor_token=session["visitor_token"], email="ADA@example.com")

    assert joined["visitor_id"] == session["visitor_id"]
    assert web_contact["contact_id"] != whatsapp_contact
    conversations = fetch_all(db, "SELECT contact_id FROM conversations ORDER BY id")
    assert [c["contact_id"] for c in conversations] == [whatsapp_contact, whatsapp_contact]
    left = fetch_one(db, "SELECT merged_into_id FROM contacts WHERE id = %s", web_contact["contact_id"])
    assert left["merged_into_id"] == whatsapp_contact
    event = fetch_one(db, "SELECT detail FROM events WHERE kind = 'contact.joined_by_email'")
    assert event["detail"]["to_contact_id"] == whatsapp_contact
    transcript = client.get("/api/widget/messages", headers=bearer(joined["visitor_token"])).get_json()
    assert [m["text"] for m in transcript["messages"]] == [QUESTION]


def test_new_visitor_with_a_known_email_joins_that_contact(client, db, channel):
    with db() as conn:
        known = conn.execute("INSERT INTO contacts (name, email) VALUES ('Ada', 'ada@example.com') RETURNING id"
                             ).fetchone()["id"]
    session = widget_session(client, channel.address, email="ada@example.com")
    posted = post_widget_message(client, session["visitor_token"], QUESTION).get_json()
    assert fetch_one(db, "SELECT contact_id FROM conversations WHERE id = %s", posted["conversation_id"]
                     )["contact_id"] == known
    assert count(db, "contacts") == 1


# --- messages ----------------------------------------------------------------------------


def test_message_is_stored_answered_and_in_the_transcript(client, db, run_jobs, channel):
    session = widget_session(client, channel.address)

    response = post_widget_message(client, session["visitor_token"], f"  {QUESTION}  ", client_id="c-0000001")

    assert response.status_code == 201
    message = response.get_json()
    assert message["text"] == QUESTION
    assert message["sender"] == "customer"
    assert message["direction"] == "inbound"
    assert message["client_id"] == "c-0000001"
    assert message["conversation_id"]
    run_jobs()
    transcript = client.get("/api/widget/messages", headers=bearer(session["visitor_token"])).get_json()
    assert transcript["conversation_id"] == message["conversation_id"]
    assert transcript["has_more"] is False
    customer, bot = transcript["messages"]
    assert customer["id"] == message["id"]
    assert bot["sender"] == "bot"
    assert "2 business days" in bot["text"]
    assert bot["status"] == "delivered"
    assert "bot_confidence" not in bot and "private" not in bot
    later = client.get(f"/api/widget/messages?after={customer['id']}", headers=bearer(session["visitor_token"]))
    assert [m["id"] for m in later.get_json()["messages"]] == [bot["id"]]


def test_resend_with_the_same_client_id_is_one_message_one_reply(client, db, run_jobs, channel):
    session = widget_session(client, channel.address)
    first = post_widget_message(client, session["visitor_token"], QUESTION, client_id="same-client-id")
    again = post_widget_message(client, session["visitor_token"], QUESTION, client_id="same-client-id")

    assert first.status_code == 201
    assert again.status_code == 200
    assert again.get_json() == first.get_json()
    run_jobs()
    assert count(db, "messages") == 2


def test_same_client_id_from_two_visitors_is_two_messages(client, db, channel):
    one = widget_session(client, channel.address)
    two = widget_session(client, channel.address)
    assert post_widget_message(client, one["visitor_token"], "hello", client_id="same-client-id").status_code == 201
    assert post_widget_message(client, two["visitor_token"], "hello", client_id="same-client-id").status_code == 201
    assert count(db, "messages") == 2


@pytest.mark.parametrize("body, field", [
    ({"client_id": "client-0001"}, "text"),
    ({"text": "   ", "client_id": "client-0001"}, "text"),
    ({"text": "x" * 4001, "client_id": "client-0001"}, "text"),
    ({"text": "hello"}, "client_id"),
    ({"text": "hello", "client_id": "short"}, "client_id"),
    ({"text": ["hello"], "client_id": "client-0001"}, "text"),
])
def test_invalid_message_is_400_and_stores_nothing(client, db, channel, body, field):
    session = widget_session(client, channel.address)
    response = client.post("/api/widget/messages", json=body, headers=bearer(session["visitor_token"]))
    assert response.status_code == 400
    assert field in response.get_json()["details"]
    assert count(db, "messages") == 0


def test_message_body_must_be_json(client, channel):
    session = widget_session(client, channel.address)
    response = client.post("/api/widget/messages", data="text=hello", headers=bearer(session["visitor_token"]),
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert response.get_json()["error"] == "the request body must be a JSON object"


def test_bad_after_is_400(client, channel):
    session = widget_session(client, channel.address)
    for after in ("-1", "abc"):
        response = client.get(f"/api/widget/messages?after={after}", headers=bearer(session["visitor_token"]))
        assert response.status_code == 400
        assert "after" in response.get_json()["details"]


# --- who may read what -------------------------------------------------------------------


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer not-a-token"},
    {"Authorization": "Basic dXNlcjpwYXNz"},
    {"Authorization": "Bearer " + issue_visitor_token("another-secret", Visitor(1, "v_someone"))},
])
def test_without_a_valid_token_it_is_401(client, db, channel, headers):
    for response in (
        client.post("/api/widget/messages", json={"text": "hi", "client_id": "client-0001"}, headers=headers),
        client.get("/api/widget/messages", headers=headers),
        client.get("/api/widget/stream", headers=headers),
    ):
        assert response.status_code == 401
        assert response.get_json()["error"] == "a valid visitor token is required"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert count(db, "messages") == 0


def test_token_of_one_channel_does_not_work_on_another(client, db, config, channel):
    other = add_web_channel(db, "wk_test_key_b", name="Other site")
    session_a = widget_session(client, channel.address)
    post_widget_message(client, session_a["visitor_token"], "secret order 1234")

    session_b = widget_session(client, other.address, visitor_token=session_a["visitor_token"])

    assert session_b["visitor_id"] != session_a["visitor_id"]
    transcript = client.get("/api/widget/messages", headers=bearer(session_b["visitor_token"])).get_json()
    assert transcript == {"messages": [], "has_more": False, "conversation_id": None}
    # A correctly signed token naming a channel that is not a web channel opens nothing.
    whatsapp = add_whatsapp_channel(db)
    forged = issue_visitor_token(config.secret_key, Visitor(whatsapp.id, session_a["visitor_id"]))
    assert client.get("/api/widget/messages", headers=bearer(forged)).status_code == 401


def test_visitor_reads_only_their_own_messages_and_never_private_notes(client, db, channel):
    alice = widget_session(client, channel.address)
    bob = widget_session(client, channel.address)
    alice_message = post_widget_message(client, alice["visitor_token"], "I am Alice").get_json()
    post_widget_message(client, bob["visitor_token"], "I am Bob")
    add_private_note(db, alice_message["conversation_id"], "Alice seems upset; refund her")

    alice_sees = client.get("/api/widget/messages", headers=bearer(alice["visitor_token"])).get_json()
    bob_sees = client.get("/api/widget/messages", headers=bearer(bob["visitor_token"])).get_json()

    assert [m["text"] for m in alice_sees["messages"]] == ["I am Alice"]
    assert [m["text"] for m in bob_sees["messages"]] == ["I am Bob"]


def add_private_note(db, conversation_id: int, text: str) -> int:
    with db() as conn:
        return conn.execute(
            """
            INSERT INTO messages (conversation_id, channel_id, direction, sender, text, status, private)
            SELECT id, channel_id, 'outbound', 'agent', %s, 'delivered', true FROM conversations WHERE id = %s
            RETURNING id
            """,
            (text, conversation_id),
        ).fetchone()["id"]


# --- CORS --------------------------------------------------------------------------------


def test_preflight_allows_the_widget_headers(client, channel):
    response = client.options("/api/widget/messages", headers={
        "Origin": "https://shop.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    })
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert {"authorization", "content-type"} <= {
        h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")}
    assert "Origin" in response.headers["Vary"]


def test_any_origin_may_use_a_channel_without_allowed_origins(client, channel):
    response = client.post(f"/api/widget/{channel.address}/session", json={},
                           headers={"Origin": "https://anywhere.example"})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "https://anywhere.example"


def test_allowed_origins_restrict_who_may_call(client, db):
    channel = add_web_channel(db, settings={"allowed_origins": ["https://shop.example"]})
    allowed = client.post(f"/api/widget/{channel.address}/session", json={},
                          headers={"Origin": "https://shop.example"})
    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    token = allowed.get_json()["visitor_token"]

    refused = client.post("/api/widget/messages", json={"text": "hi", "client_id": "client-0001"},
                          headers={**bearer(token), "Origin": "https://evil.example"})
    assert refused.status_code == 403
    assert "Access-Control-Allow-Origin" not in refused.headers
    assert count(db, "messages") == 0
    # Our own pages (the demo) are always allowed.
    own = client.post("/api/widget/messages", json={"text": "hi", "client_id": "client-0001"},
                      headers={**bearer(token), "Origin": "http://localhost"})
    assert own.status_code == 201


# --- the live stream ---------------------------------------------------------------------


class EventStream:
    """Reads server-sent events from a streamed test-client response."""

    def __init__(self, response):
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.mimetype == "text/event-stream"
        self.response = response
        self.chunks = iter(response.response)
        self.buffer = ""
        self.comments = []
        self.retries = []
        self.ended = False

    def block(self) -> str | None:
        while "\n\n" not in self.buffer:
            try:
                chunk = next(self.chunks)
            except StopIteration:
                self.ended = True
                return None
            self.buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
        block, self.buffer = self.buffer.split("\n\n", 1)
        return block

    def parse(self, block: str) -> dict:
        """The fields of one block; comments and retry delays are kept aside."""
        fields = {}
        for line in block.split("\n"):
            if line.startswith(":"):
                self.comments.append(line)
                continue
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
        if "retry" in fields:
            self.retries.append(int(fields["retry"]))
        return fields

    def next_event(self, timeout: float = 10) -> dict:
        """The next event with data: {"id": ..., "data": ...}; fails after `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            block = self.block()
            if block is None:
                raise AssertionError("the stream ended")
            fields = self.parse(block)
            if "data" in fields:
                return {"id": fields.get("id"), "data": json.loads(fields["data"])}
        raise AssertionError(f"no event within {timeout} s")

    def read_to_end(self) -> None:
        while (block := self.block()) is not None:
            self.parse(block)

    def close(self) -> None:
        self.response.close()


@pytest.fixture
def open_stream(client):
    streams = []

    def open_(token: str, query: str = "", headers: dict | None = None) -> EventStream:
        stream = EventStream(client.get(f"/api/widget/stream?token={token}{query}", headers=headers or {},
                                        buffered=False))
        streams.append(stream)
        return stream

    yield open_
    for stream in streams:
        stream.close()


def test_stream_sends_the_bot_reply_as_it_is_stored(client, run_jobs, channel, open_stream):
    session = widget_session(client, channel.address)
    mine = post_widget_message(client, session["visitor_token"], QUESTION).get_json()
    stream = open_stream(session["visitor_token"])
    # The stream starts with what is already stored: the visitor's own message.
    first = stream.next_event()
    assert first["id"] == str(mine["id"])
    assert first["data"] == mine

    run_jobs()

    reply = stream.next_event()
    assert reply["data"]["sender"] == "bot"
    assert "2 business days" in reply["data"]["text"]
    assert reply["id"] == str(reply["data"]["id"])
    transcript = client.get("/api/widget/messages", headers=bearer(session["visitor_token"])).get_json()
    assert reply["data"] == transcript["messages"][1]


def test_stream_replays_what_came_after_last_event_id(client, run_jobs, channel, open_stream):
    session = widget_session(client, channel.address)
    post_widget_message(client, session["visitor_token"], QUESTION, client_id="client-0001")
    run_jobs()
    post_widget_message(client, session["visitor_token"], "And do you ship abroad?", client_id="client-0002")
    run_jobs()
    ids = [m["id"] for m in client.get("/api/widget/messages",
                                       headers=bearer(session["visitor_token"])).get_json()["messages"]]
    assert len(ids) == 4

    # A reconnect: Last-Event-ID wins over the ?after= of the original URL.
    stream = open_stream(session["visitor_token"], "&after=0", headers={"Last-Event-ID": str(ids[1])})

    assert [stream.next_event()["data"]["id"] for _ in range(2)] == ids[2:]


def test_stream_carries_no_private_note_and_no_other_visitors_message(client, db, redis, channel, open_stream):
    alice = widget_session(client, channel.address)
    bob = widget_session(client, channel.address)
    alice_first = post_widget_message(client, alice["visitor_token"], "I am Alice", client_id="client-0001")
    conversation_id = alice_first.get_json()["conversation_id"]
    bob_message = post_widget_message(client, bob["visitor_token"], "I am Bob").get_json()
    stream = open_stream(alice["visitor_token"])
    assert stream.next_event()["data"]["text"] == "I am Alice"

    note = add_private_note(db, conversation_id, "internal: refund her")
    # Events naming messages the visitor must not see (even a forged one) send nothing.
    live.publish(redis, "message.created", conversation_id, message_id=note)
    live.publish(redis, "message.created", conversation_id, message_id=bob_message["id"])
    second = post_widget_message(client, alice["visitor_token"], "Still there?", client_id="client-0002")

    assert stream.next_event()["data"]["id"] == second.get_json()["id"]


def test_stream_without_a_conversation_is_204(client, channel):
    session = widget_session(client, channel.address)
    response = client.get(f"/api/widget/stream?token={session['visitor_token']}")
    assert response.status_code == 204


def test_stream_sends_heartbeats_and_ends_after_its_time(app, client, channel, open_stream):
    app.config.update(WIDGET_HEARTBEAT_SECONDS=0.05, WIDGET_STREAM_SECONDS=0.3)
    session = widget_session(client, channel.address)
    post_widget_message(client, session["visitor_token"], QUESTION)
    stream = open_stream(session["visitor_token"])
    assert stream.response.headers["Cache-Control"] == "no-cache"

    stream.next_event()
    stream.read_to_end()

    assert stream.ended
    assert ": keep-alive" in stream.comments
    assert stream.retries == [2000]


def test_with_redis_down_messages_are_stored_and_the_stream_replays(config, db, channel):
    """Redis only carries jobs and live events: without it a message is still
    stored (the sweeper enqueues it later) and the stream still replays."""
    app = create_app(replace(config, redis_url="redis://127.0.0.1:1/0"))
    try:
        client = app.test_client()
        session = widget_session(client, channel.address)
        posted = post_widget_message(client, session["visitor_token"], QUESTION)
        assert posted.status_code == 201

        stream = EventStream(client.get(f"/api/widget/stream?token={session['visitor_token']}", buffered=False))
        assert stream.next_event()["data"] == posted.get_json()
        stream.read_to_end()  # no live events to wait for: the stream ends at once
        stream.close()
        assert stream.ended
        assert stream.retries[-1] == 10000  # the browser comes back later, for a replay
    finally:
        app.extensions["handoff"].pool.close()
