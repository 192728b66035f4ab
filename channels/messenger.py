"""Facebook Messenger: verification, X-Hub-Signature-256, batched events, Send API.

Wire facts (shared/PROTOCOLS.md §2-3). pymessenger 0.0.7 is unmaintained: we
use only its Bot as a transport (`send_raw`), with the Graph URL and version
from configuration and `messaging_type` always set by us. Its signature helper
is broken on Python 3 and its upload helpers crash, so neither is used.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any, Mapping

import requests
from pymessenger.bot import Bot

from channels.base import (
    Attachment,
    InboundEvent,
    InboundMessage,
    MalformedPayload,
    OutboundMessage,
    SendError,
    SendResult,
    Watermark,
)

kind = "messenger"

# Graph error codes worth retrying: unknown/temporary errors and rate limits.
TRANSIENT_GRAPH_CODES = {-1, 1, 2, 4, 17, 32, 341, 613}
TEXT_LIMIT = 2000


def verify_signature(app_secret: str, raw_body: bytes, header: str | None) -> bool:
    """X-Hub-Signature-256 is sha256=<hex HMAC of the raw body bytes with the app secret>."""
    if not header or not app_secret or not header.startswith("sha256="):
        return False
    expected = hmac.new(app_secret.encode("utf-8"), raw_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256=").strip().lower())


def verify_token_matches(expected: str, given: str | None) -> bool:
    return bool(expected) and given is not None and hmac.compare_digest(expected.encode(), given.encode())


def parse_body(raw_body: bytes) -> dict:
    try:
        body = json.loads(raw_body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedPayload("body is not JSON", str(exc)) from None
    if not isinstance(body, dict) or body.get("object") != "page" or not isinstance(body.get("entry"), list):
        raise MalformedPayload('expected {"object": "page", "entry": [...]}')
    return body


def page_ids(body: dict) -> list[str]:
    """The Pages an event batch is for (a batch may carry several)."""
    ids = []
    for index, entry in enumerate(body["entry"]):
        if not isinstance(entry, dict) or not entry.get("id"):
            raise MalformedPayload("every entry needs an id", {"entry": index})
        if str(entry["id"]) not in ids:
            ids.append(str(entry["id"]))
    return ids


def parse_events(body: dict) -> list[InboundEvent]:
    """Every message, postback, delivery and read in every entry, in order.

    Echoes of our own sends are dropped (answering them would loop), as are
    event kinds Handoff does not use (standby, reactions, feed changes).
    """
    events: list[InboundEvent] = []
    for entry_index, entry in enumerate(body["entry"]):
        page_id = str(entry["id"])
        items = entry.get("messaging", [])
        if not isinstance(items, list):
            raise MalformedPayload("messaging must be a list", {"entry": entry_index})
        for item_index, item in enumerate(items):
            where = {"entry": entry_index, "messaging": item_index}
            if not isinstance(item, dict):
                raise MalformedPayload("messaging items must be objects", where)
            event = _parse_item(page_id, item, where)
            if event is not None:
                events.append(event)
    return events


def _parse_item(page_id: str, item: dict, where: dict) -> InboundEvent | None:
    sender = (item.get("sender") or {}).get("id")
    message = item.get("message")
    if isinstance(message, dict) and message.get("is_echo"):
        return None
    if not sender:
        raise MalformedPayload("messaging item without sender.id", where)
    sender = str(sender)
    if isinstance(message, dict):
        mid = message.get("mid")
        if not mid:
            raise MalformedPayload("message without mid", where)
        quick_reply = message.get("quick_reply") or {}
        return InboundMessage(
            channel_address=page_id,
            sender_address=sender,
            provider_message_id=str(mid),
            text=str(message.get("text") or ""),
            attachments=tuple(_attachments(message.get("attachments") or [], where)),
            payload=quick_reply.get("payload"),
            metadata={"reply_to": message["reply_to"]["mid"]} if isinstance(message.get("reply_to"), dict) else {},
        )
    postback = item.get("postback")
    if isinstance(postback, dict):
        # Postbacks before Graph v11 carry no mid: derive a stable one so retries still dedupe.
        mid = postback.get("mid") or f"postback:{sender}:{item.get('timestamp')}"
        return InboundMessage(
            channel_address=page_id,
            sender_address=sender,
            provider_message_id=str(mid),
            text=str(postback.get("title") or ""),
            payload=postback.get("payload"),
        )
    for key, watermark_kind in (("delivery", "delivered"), ("read", "read")):
        receipt = item.get(key)
        if isinstance(receipt, dict):
            try:
                watermark = int(receipt["watermark"])
            except (KeyError, TypeError, ValueError):
                raise MalformedPayload(f"{key} without a numeric watermark", where) from None
            return Watermark(channel_address=page_id, sender_address=sender, kind=watermark_kind,
                             watermark=watermark)
    return None


def _attachments(raw: Any, where: dict) -> list[Attachment]:
    if not isinstance(raw, list):
        raise MalformedPayload("attachments must be a list", where)
    found = []
    for attachment in raw:
        if not isinstance(attachment, dict):
            raise MalformedPayload("attachments must be objects", where)
        payload = attachment.get("payload") or {}
        kind_ = attachment.get("type") or "file"
        if kind_ == "location" and "coordinates" in payload:
            coordinates = payload["coordinates"]
            url = f"geo:{coordinates.get('lat')},{coordinates.get('long')}"
        else:
            url = payload.get("url") or ""
        found.append(Attachment(url=url, kind=kind_))
    return found


class MessengerChannel:
    """Sends through the Graph Send API with the Page's access token."""

    kind = kind

    def __init__(self, credentials: Mapping[str, str], address: str, *, graph_url: str, graph_version: str):
        self.page_id = address
        self.bot = Bot(credentials["page_token"], api_version=graph_version.removeprefix("v"))
        # pymessenger builds the URL from a hard-coded host; point it at ours.
        self.bot.graph_url = f"{graph_url.rstrip('/')}/{graph_version}"
        # pymessenger sets no timeout: the send job's RQ timeout bounds the call.

    def payload(self, message: OutboundMessage) -> dict:
        body: dict[str, Any] = {"text": message.text[:TEXT_LIMIT]}
        if message.quick_replies:
            body["quick_replies"] = [
                {"content_type": "text", "title": title[:20], "payload": title} for title in message.quick_replies
            ]
        payload: dict[str, Any] = {"recipient": {"id": message.recipient_address}, "message": body}
        if message.messenger_tag:
            payload["messaging_type"] = "MESSAGE_TAG"
            payload["tag"] = message.messenger_tag
        else:
            payload["messaging_type"] = "RESPONSE"
        return payload

    def send(self, message: OutboundMessage) -> SendResult:
        try:
            result = self.bot.send_raw(self.payload(message))
        except requests.RequestException as exc:
            raise SendError(f"Graph unreachable: {exc.__class__.__name__}", transient=True) from None
        except ValueError:  # a non-JSON error page (a proxy's 502, say)
            raise SendError("Graph answered with a non-JSON page", transient=True) from None
        if not isinstance(result, dict):
            raise SendError("Graph answered with an unexpected body", transient=True)
        if "error" in result:
            error = result["error"] if isinstance(result["error"], dict) else {"message": str(result["error"])}
            code = error.get("code")
            raise SendError(
                f"Graph error {code}: {error.get('message', 'unknown')}",
                transient=code in TRANSIENT_GRAPH_CODES,
                code=str(code) if code is not None else None,
            )
        if not result.get("message_id"):
            raise SendError("Graph answered without a message_id", transient=True)
        return SendResult(provider_message_id=result["message_id"], status="sent")
