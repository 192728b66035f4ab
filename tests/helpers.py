"""Builders for test data and correctly signed provider requests."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from gateway.store.channels import create_channel
from tests.conftest import PUBLIC_URL

TWILIO_NUMBER = "whatsapp:+14155238886"
TWILIO_SID = "AC" + "1" * 32
TWILIO_TOKEN = "twilio-auth-token"
PAGE_ID = "1234567890"
APP_SECRET = "messenger-app-secret"
VERIFY_TOKEN = "messenger-verify-token"


def add_whatsapp_channel(db, number: str = TWILIO_NUMBER, token: str = TWILIO_TOKEN, **kwargs):
    with db() as conn:
        return create_channel(conn, kind="whatsapp", name=kwargs.pop("name", "WhatsApp"), address=number,
                              credentials={"account_sid": TWILIO_SID, "auth_token": token}, **kwargs)


def add_messenger_channel(db, page_id: str = PAGE_ID, app_secret: str = APP_SECRET, **kwargs):
    with db() as conn:
        return create_channel(conn, kind="messenger", name=kwargs.pop("name", "Messenger"), address=page_id,
                              credentials={"page_token": "page-token-" + page_id, "app_secret": app_secret,
                                           "verify_token": VERIFY_TOKEN}, **kwargs)


def whatsapp_form(sid: str = "SM" + "a" * 32, body: str = "Hello", sender: str = "whatsapp:+15551230001",
                  to: str = TWILIO_NUMBER, **extra) -> dict:
    """A text message as Twilio posts it (field order of a real capture)."""
    form = {
        "SmsMessageSid": sid, "NumMedia": "0", "ProfileName": "Ada Lovelace", "MessageType": "text",
        "SmsSid": sid, "WaId": sender.removeprefix("whatsapp:+"), "SmsStatus": "received", "Body": body,
        "To": to, "NumSegments": "1", "ReferralNumMedia": "0", "MessageSid": sid,
        "AccountSid": TWILIO_SID, "From": sender, "ApiVersion": "2010-04-01",
    }
    form.update(extra)
    return form


def twilio_signature(path: str, form: dict, token: str = TWILIO_TOKEN) -> str:
    return RequestValidator(token).compute_signature(PUBLIC_URL + path, form)


def post_twilio(client, path: str, form: dict, *, token: str = TWILIO_TOKEN, signature: str | None = None):
    return client.post(
        path,
        data=urlencode(form),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature or twilio_signature(path, form, token)},
    )


def messenger_signature(raw: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def post_messenger(client, body: dict | bytes, *, secret: str = APP_SECRET, signature: str | None = None):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(
        "/webhooks/messenger",
        data=raw,
        content_type="application/json",
        headers={"X-Hub-Signature-256": signature or messenger_signature(raw, secret)},
    )


def count(db, table: str) -> int:
    with db() as conn:
        return conn.execute(f"SELECT count(*) AS n FROM {table}").fetchone()["n"]


def add_article(db, title: str, body: str) -> None:
    with db() as conn:
        conn.execute("INSERT INTO kb_articles (title, body, source) VALUES (%s, %s, %s)", (title, body, title))


# --- WhatsApp pipeline helpers (appended) ----------------------------------------------

CUSTOMER = "whatsapp:+15551230001"


def add_twilio_channel(db, number: str, *, account_sid: str, token: str, name: str = "WhatsApp", **kwargs):
    """A WhatsApp channel on its own Twilio account (add_whatsapp_channel shares TWILIO_SID)."""
    with db() as conn:
        return create_channel(conn, kind="whatsapp", name=name, address=number,
                              credentials={"account_sid": account_sid, "auth_token": token}, **kwargs)


def twilio_status_form(sid: str, status: str, *, our_number: str = TWILIO_NUMBER, customer: str = CUSTOMER,
                       **extra) -> dict:
    """A delivery status callback as Twilio posts it: From is our number."""
    form = {
        "ChannelPrefix": "whatsapp", "ApiVersion": "2010-04-01", "MessageStatus": status, "SmsSid": sid,
        "SmsStatus": status, "ChannelInstallSid": "XE" + "c" * 32, "To": customer, "From": our_number,
        "MessageSid": sid, "StructuredMessage": "false", "AccountSid": TWILIO_SID,
        "ChannelToAddress": customer.removeprefix("whatsapp:"),
    }
    if status in ("delivered", "read"):
        form["EventType"] = status.upper()
    form.update(extra)
    return form


def fetch_all(db, query: str, *params) -> list[dict]:
    with db() as conn:
        return conn.execute(query, params).fetchall()


def fetch_one(db, query: str, *params) -> dict | None:
    with db() as conn:
        return conn.execute(query, params).fetchone()


# --- Agent login and inbox helpers (appended) ---------------------------------------------

AGENT_EMAIL = "ada@example.com"
AGENT_PASSWORD = "correct horse battery staple"


def add_agent(db, email: str = AGENT_EMAIL, password: str = AGENT_PASSWORD, name: str = "Ada Agent",
              **kwargs) -> dict:
    from gateway.store.agents import create_agent

    with db() as conn:
        return create_agent(conn, email=email, name=name, password=password, **kwargs)


def csrf_from(html: str) -> str:
    """The CSRF token of the first form on a page."""
    import re

    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no csrf_token field on the page"
    return match.group(1)


def log_in(client, email: str = AGENT_EMAIL, password: str = AGENT_PASSWORD, next_url: str | None = None):
    """Log in through the form, as a browser does (GET for the CSRF token, then POST)."""
    token = csrf_from(client.get("/login").get_data(as_text=True))
    form = {"csrf_token": token, "email": email, "password": password}
    if next_url is not None:
        form["next"] = next_url
    return client.post("/login", data=form)


def seed_conversation(db, channel, address: str, messages: list, *, profile_name: str | None = None,
                      phone: str | None = None, email: str | None = None, status: str | None = None,
                      **columns) -> int:
    """A conversation on `channel` from `address`, with its messages; returns its id.

    messages: (sender, text) pairs or dicts with sender, text and any other
    messages column (status, error_code, error_message, bot_confidence,
    private, attachments, created_at...). status and **columns set
    conversation columns (escalation_reason, priority, collected...).
    """
    from psycopg.types.json import Jsonb

    from gateway.store import contacts, conversations

    with db() as conn:
        identity = contacts.ensure_identity(conn, channel.id, address, profile_name=profile_name,
                                            phone=phone, email=email)
        conversation_id = conversations.open_conversation_for(
            conn, channel_id=channel.id, contact_id=identity["contact_id"], identity_id=identity["id"],
            mode=channel.mode, team_id=channel.team_id)["id"]
        for item in messages:
            row = dict(zip(("sender", "text"), item)) if isinstance(item, tuple) else dict(item)
            row.setdefault("direction", "inbound" if row["sender"] == "customer" else "outbound")
            row.setdefault("status", "received" if row["direction"] == "inbound" else "sent")
            row = {key: Jsonb(value) if isinstance(value, (dict, list)) else value for key, value in row.items()}
            names = ["conversation_id", "channel_id", *row]
            conn.execute(
                f"INSERT INTO messages ({', '.join(names)}) VALUES ({', '.join('%s' for _ in names)})",
                [conversation_id, channel.id, *row.values()],
            )
        updates = dict(columns, **({"status": status} if status else {}))
        if updates:
            updates = {key: Jsonb(value) if isinstance(value, (dict, list)) else value for key, value in updates.items()}
            conn.execute(
                f"UPDATE conversations SET {', '.join(f'{key} = %s' for key in updates)} WHERE id = %s",
                [*updates.values(), conversation_id],
            )
    return conversation_id


# --- Messenger payload helpers (appended) ----------------------------------------------

PSID = "6543210987654321"


def now_ms() -> int:
    import time

    return int(time.time() * 1000)


def messenger_item(kind: str, event: dict, *, psid: str = PSID, page_id: str = PAGE_ID,
                   timestamp: int | None = None) -> dict:
    """One messaging[] item from the customer to the Page: kind is message, postback, delivery, read, ..."""
    return {"sender": {"id": psid}, "recipient": {"id": page_id},
            "timestamp": now_ms() if timestamp is None else timestamp, kind: event}


def messenger_text(mid: str, text: str, **kwargs) -> dict:
    return messenger_item("message", {"mid": mid, "text": text}, **kwargs)


def messenger_batch(*entries: tuple[str, list[dict]]) -> dict:
    """{"object": "page", "entry": [...]} from (page_id, messaging items) pairs."""
    return {"object": "page", "entry": [
        {"id": page_id, "time": now_ms(), "messaging": items} for page_id, items in entries
    ]}


def messenger_events(*items: dict, page_id: str = PAGE_ID) -> dict:
    """A POST body with one entry for one Page."""
    return messenger_batch((page_id, list(items)))


def add_messenger_page(db, page_id: str, *, app_secret: str = APP_SECRET, page_token: str | None = None,
                       verify_token: str = VERIFY_TOKEN, name: str = "Messenger", **kwargs):
    """A Messenger channel with every credential chosen by the test."""
    with db() as conn:
        return create_channel(conn, kind="messenger", name=name, address=page_id,
                              credentials={"page_token": page_token if page_token is not None else
                                           "page-token-" + page_id, "app_secret": app_secret,
                                           "verify_token": verify_token}, **kwargs)


def configure_workers(config, **changes):
    """Run the jobs that follow (run_jobs, or a job function called directly)
    with this config changed, e.g. a Twilio URL that does not answer."""
    from dataclasses import replace

    from workers import context

    changed = replace(config, **changes)
    context.configure(changed)
    return changed


# --- Web widget helpers (appended) -------------------------------------------------------


def add_web_channel(db, key: str | None = None, *, name: str = "Website", **kwargs):
    """A web channel; its address is the widget key (a new one unless given)."""
    from channels.web import new_widget_key

    with db() as conn:
        return create_channel(conn, kind="web", name=name, address=key or new_widget_key(), credentials={},
                              **kwargs)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def widget_session(client, key: str, **body) -> dict:
    """Start (or, with visitor_token=..., continue) a widget session; its JSON."""
    response = client.post(f"/api/widget/{key}/session", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def post_widget_message(client, token: str, text: str, client_id: str = "client-message-1"):
    return client.post("/api/widget/messages", json={"text": text, "client_id": client_id}, headers=bearer(token))


class LiveServer:
    """The real app served over HTTP by werkzeug in a thread (for browsers and
    streaming clients): `with LiveServer(app) as server: server.url`."""

    def __init__(self, app):
        from werkzeug.serving import make_server

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def __enter__(self):
        import threading

        self.thread = threading.Thread(target=self.server.serve_forever, name="live-server", daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def staff_team(db, name: str, *, agents: int = 1, online: bool = True, auto_assign: bool = False,
               hours: dict | None = None, capacity: int = 5) -> tuple[int, list[dict]]:
    """A team with `agents` agents (named "<Name> Agent N"), online for an hour or offline."""
    from gateway.store import agents as agents_store
    from gateway.store import teams

    with db() as conn:
        team_id = teams.ensure_team(conn, name)
        teams.update_team(conn, team_id, auto_assign=auto_assign, hours=hours)
        members = []
        for number in range(1, agents + 1):
            agent = agents_store.create_agent(conn, email=f"{name.lower()}{number}@example.com",
                                              name=f"{name} Agent{number}", password="correct horse battery")
            agents_store.set_capacity(conn, agent["id"], capacity)
            teams.add_member(conn, team_id, agent["id"])
            if online:
                agent = agents_store.set_presence(conn, agent["id"], "online", ttl_seconds=3600)
            members.append(agent)
    return team_id, members


def next_live_event(pubsub, event_type: str, timeout: float = 5.0) -> dict:
    """The first live event of this type (pub/sub channels are shared by every
    Redis db, so other test runs on this server may publish there too)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.2)
        if message is not None and json.loads(message["data"])["type"] == event_type:
            return json.loads(message["data"])
    raise AssertionError(f"no {event_type} live event")


# --- Fault helpers (appended) -------------------------------------------------------------


def closed_port_url() -> str:
    """http://127.0.0.1:<a port nobody listens on>: connections are refused."""
    import socket

    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return f"http://127.0.0.1:{port}"


def client_at(app, address: str):
    """A test client at `address`, as one trusted proxy in front reports it (X-Forwarded-For)."""
    client = app.test_client()
    client.environ_base["HTTP_X_FORWARDED_FOR"] = address
    return client
