"""Issue 13's reproductions of bad input: each is a 4xx with a JSON error
(or, for a signed Messenger item, a recorded acknowledgement), never a 500,
and nothing is stored."""

from __future__ import annotations

import io
import json
import socket

import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app

from tests.helpers import (
    LiveServer,
    add_messenger_channel,
    add_web_channel,
    add_whatsapp_channel,
    bearer,
    count,
    fetch_all,
    fetch_one,
    log_in,
    messenger_events,
    messenger_item,
    messenger_text,
    post_messenger,
    post_twilio,
    whatsapp_form,
    widget_session,
    add_agent,
)

MB = 1024 * 1024
DEEP = b"[" * 100_000 + b"]" * 100_000


class CountingStream(io.RawIOBase):
    """A request body of `size` bytes that counts what the app reads of it."""

    def __init__(self, size: int):
        self.size, self.read_bytes = size, 0

    def readable(self):
        return True

    def readinto(self, buffer):
        n = min(len(buffer), self.size - self.read_bytes)
        buffer[:n] = b"{" * n
        self.read_bytes += n
        return n


def nothing_stored(db) -> bool:
    return count(db, "messages") == 0 and count(db, "contacts") == 0


# --- size -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/widget/{key}/session", "/webhooks/messenger", "/webhooks/twilio/whatsapp",
                                  "/api/admin/bot-settings", "/login"])
def test_a_body_over_the_limit_is_413_json_before_it_is_read(client, db, path):
    channel = add_web_channel(db)
    body = CountingStream(10 * MB)
    response = client.post(path.format(key=channel.address), content_type="application/json",
                           environ_overrides={"wsgi.input": body, "CONTENT_LENGTH": str(10 * MB)})
    assert response.status_code == 413
    assert response.get_json() == {"error": f"the request body is larger than {MB} bytes",
                                   "details": {"max_body_bytes": MB}}
    assert response.headers["Connection"] == "close"
    assert body.read_bytes == 0


def test_a_chunked_body_is_cut_off_at_the_limit(app, db):
    """No Content-Length: the server hands the app a terminated stream (as
    gunicorn does for a chunked body), which the app reads one byte past the limit."""
    channel = add_web_channel(db)
    body = CountingStream(100 * MB)
    environ = EnvironBuilder(path=f"/api/widget/{channel.address}/session", method="POST",
                             content_type="application/json").get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ.update({"wsgi.input": body, "wsgi.input_terminated": True})
    _, status, _ = run_wsgi_app(app, environ, buffered=True)
    assert status.startswith("413")
    assert body.read_bytes <= MB + 65536
    assert nothing_stored(db)


def test_a_declared_100_mb_body_is_refused_over_http_without_waiting_for_it(app, db):
    """The server answers after the headers: the client never sends the 100 MB."""
    channel = add_web_channel(db)
    with LiveServer(app) as server:
        port = int(server.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(f"POST /api/widget/{channel.address}/session HTTP/1.1\r\nHost: x\r\n"
                         f"Content-Type: application/json\r\nContent-Length: {100 * MB}\r\n\r\n{{".encode())
            answer = sock.recv(65536).decode("latin-1")
    assert answer.startswith("HTTP/1.1 413")
    assert count(db, "contacts") == 0


# --- bytes before authentication ------------------------------------------------------------


def test_nul_in_a_messenger_entry_id_is_400(client, db):
    add_messenger_channel(db)
    response = post_messenger(client, b'{"object":"page","entry":[{"id":"1\\u0000"}]}', signature="sha256=00")
    assert response.status_code == 400
    assert response.get_json()["error"].startswith("entry.id must be an id")


@pytest.mark.parametrize("path", ["/webhooks/messenger", "/api/widget/{key}/session"])
def test_100000_deep_json_is_400(client, db, path):
    channel = add_web_channel(db)
    add_messenger_channel(db)
    response = client.post(path.format(key=channel.address), data=DEEP, content_type="application/json")
    assert response.status_code == 400
    assert "nested deeper than 32 levels" in json.dumps(response.get_json())
    assert nothing_stored(db)


@pytest.mark.parametrize("raw", [b'{"a": NaN}', b'{"a": 1e999}', b'{"a": ' + b"9" * 5000 + b"}", b"\xff\xfe"])
def test_numbers_and_bytes_json_cannot_hold_are_400(client, db, raw):
    channel = add_web_channel(db)
    response = client.post(f"/api/widget/{channel.address}/session", data=raw, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"] == "the request body must be a JSON object"


def test_nul_in_the_demo_key_is_400(client):
    response = client.get("/demo?key=%00")
    assert response.status_code == 400
    assert response.get_json() == {"error": "the query parameter 'key' contains a NUL character"}


def test_nul_in_the_path_is_400(client):
    assert client.get("/api/widget/wk_%00/session").status_code == 400


# --- widget text ------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["text", "client_id"])
@pytest.mark.parametrize("bad", ["\u0000", "\ud800"])
def test_nul_or_lone_surrogate_in_a_widget_message_is_400(client, db, field, bad):
    channel = add_web_channel(db)
    token = widget_session(client, channel.address)["visitor_token"]
    body = {"text": "hello", "client_id": "client-message-1"}
    body[field] = body[field] + bad
    raw = json.dumps(body).encode()  # ensure_ascii: \u0000 and \ud800 as JSON escapes
    response = client.post("/api/widget/messages", data=raw, content_type="application/json", headers=bearer(token))
    assert response.status_code == 400
    assert response.get_json()["error"] == "the request body has a value that cannot be stored"
    assert f"$.{field}" in response.get_json()["details"]
    assert nothing_stored(db)


@pytest.mark.parametrize("bad", ["\u0000", "\ud800"])
def test_nul_or_lone_surrogate_in_a_widget_name_is_400(client, db, bad):
    channel = add_web_channel(db)
    raw = json.dumps({"name": "Ada" + bad, "email": "ada@example.com"}).encode()
    response = client.post(f"/api/widget/{channel.address}/session", data=raw, content_type="application/json")
    assert response.status_code == 400
    assert nothing_stored(db)


# --- signed provider webhooks -------------------------------------------------------------------


@pytest.mark.parametrize("field", list(whatsapp_form()))
def test_nul_in_any_signed_twilio_field_is_400_not_500(client, db, field):
    """Twilio retries only connection failures by default: a 400 is final, and says why."""
    add_whatsapp_channel(db)
    form = whatsapp_form()
    form[field] += "\x00"
    response = post_twilio(client, "/webhooks/twilio/whatsapp", form)
    assert response.status_code == 400
    assert response.get_json()["error"] == f"the form field {field!r} contains a NUL character"
    assert nothing_stored(db)


def test_a_60000_character_provider_message_is_cut_to_the_text_limit(client, db):
    add_whatsapp_channel(db)
    assert post_twilio(client, "/webhooks/twilio/whatsapp", whatsapp_form(body="x" * 60_000)).status_code == 200
    text = fetch_one(db, "SELECT text FROM messages")["text"]
    assert len(text) == 4096 and text.endswith("…")


def test_nul_and_surrogates_in_signed_messenger_text_are_cleaned_and_stored(client, db):
    add_messenger_channel(db)
    raw = json.dumps(messenger_events(messenger_text("m_1", "hi\u0000 there \ud800"))).encode()
    assert post_messenger(client, raw).status_code == 200
    assert fetch_one(db, "SELECT text FROM messages")["text"] == "hi there \ufffd"


@pytest.mark.parametrize("sender_id", [{"id": 1}, [1], 1.5, True, "1\u0000"])
def test_a_messenger_sender_id_that_is_not_text_is_skipped_not_stored_as_a_repr(client, db, sender_id):
    add_messenger_channel(db)
    item = messenger_text("m_1", "hi")
    item["sender"] = {"id": sender_id}
    response = post_messenger(client, json.dumps(messenger_events(item, messenger_text("m_2", "ok"))).encode())
    assert response.status_code == 200
    assert [row["address"] for row in fetch_all(db, "SELECT address FROM contact_identities")] == ["6543210987654321"]
    assert fetch_one(db, "SELECT detail->>'reason' AS reason FROM events WHERE kind = 'webhook.item_skipped'"
                     )["reason"].startswith("sender.id must be an id")


def test_an_integer_messenger_id_is_its_decimal_text(client, db):
    add_messenger_channel(db)
    item = messenger_item("message", {"mid": "m_1", "text": "hi"}, psid="1")
    item["sender"] = {"id": 6543210987654321}
    assert post_messenger(client, json.dumps(messenger_events(item)).encode()).status_code == 200
    assert fetch_one(db, "SELECT address FROM contact_identities")["address"] == "6543210987654321"


# --- agents' and admins' input ----------------------------------------------------------------


def test_an_out_of_range_inbox_cursor_is_400(client, db):
    add_agent(db)
    log_in(client)
    assert client.get("/inbox?before=9223372036854775808").status_code == 400


def test_an_out_of_range_id_in_a_route_is_404(client, auth):
    assert client.get("/api/agent/conversations/9223372036854775808", headers=auth).status_code == 404


@pytest.mark.parametrize("method, path, body", [
    ("patch", "/api/admin/channels/{channel}", {"name": "Web\u0000site"}),
    ("patch", "/api/admin/bot-settings", {"frustration": {"phrases": ["this is\u0000 bad"]}}),
    ("patch", "/api/admin/bot-settings", {"trigger_phrases": ["\ud800*agent"]}),
    ("post", "/api/admin/webhooks", {"url": "https://hooks.example.com/\u0000", "events": ["*"]}),
    ("post", "/api/admin/teams", {"name": "Bil\u0000ling"}),
    ("patch", "/api/admin/bot-settings", {"missed_chat_timeout_seconds": 10**30}),
])
def test_nul_surrogates_and_huge_numbers_in_admin_bodies_are_400(client, db, auth, method, path, body):
    channel = add_web_channel(db)
    raw = json.dumps(body).encode()
    response = getattr(client, method)(path.format(channel=channel.id), data=raw, headers=auth,
                                       content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"] == "the request body has a value that cannot be stored"
    assert fetch_all(db, "SELECT id FROM events WHERE kind = 'settings.changed'") == []
