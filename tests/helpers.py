"""Builders for test data and correctly signed provider requests."""

from __future__ import annotations

import hashlib
import hmac
import json
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
