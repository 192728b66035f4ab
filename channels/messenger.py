"""Facebook Messenger: verification, X-Hub-Signature-256, batched events, Send API.

Wire facts (shared/PROTOCOLS.md §2-3). pymessenger 0.0.7 is unmaintained: we
use only its Bot as a transport (`send_raw`), with the Graph URL and version
from configuration and `messaging_type` always set by us. Its signature helper
is broken on Python 3 and its upload helpers crash, so neither is used.

Decisions worth knowing:

- Signatures are checked over the raw body bytes: Meta signs the payload as
  sent (non-ASCII as \\uXXXX, "/" as "\\/"), which re-serialized JSON never
  reproduces.
- A batch may carry entries for several Pages. Meta signs one body with one
  app secret, so every Page in a genuine batch belongs to one app; the
  webhook requires the signature to verify with the app secret of *every*
  Page the batch names, and rejects the whole batch (403, nothing stored)
  otherwise. A mismatch means a forged body or a channel configured with the
  wrong app secret, and storing part of a batch would hide either.
- Event kinds Handoff does not use (echoes of our own sends, reactions,
  standby, referrals, policy notices, ...) are skipped, never rejected: a
  non-200 answer makes Meta retry, and a webhook that keeps failing gets the
  app unsubscribed.
- Text longer than the Send API limit is truncated, not split: one outbound
  message is one Graph call with one message id, so a retry can never
  re-send half of a split message.
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
from channels.registry import capabilities

kind = "messenger"

# Graph error codes worth retrying: unknown/temporary errors, rate limits
# (4, 17, 32, 613) and "temporary send message failure" (1200). Graph also
# flags retryable errors with "is_transient": true, which we honour.
TRANSIENT_GRAPH_CODES = {-1, 1, 2, 4, 17, 32, 341, 613, 1200}
# "Invalid OAuth access token": the Page token is wrong, expired or revoked.
INVALID_TOKEN = 190
# The Send API's limit on message.text. We count UTF-16 code units, which is
# never fewer than characters, so the text fits however Graph counts.
TEXT_LIMIT = capabilities(kind).text_limit
ELLIPSIS = "…"


def verify_signature(app_secret: str, raw_body: bytes, header: str | None) -> bool:
    """X-Hub-Signature-256 is sha256=<hex HMAC of the raw body bytes with the app secret>."""
    if not header or not app_secret or not header.startswith("sha256="):
        return False
    expected = hmac.new(app_secret.encode("utf-8"), raw_body, hashlib.sha256).hexdigest()
    given = header.removeprefix("sha256=").strip().lower()
    # Compare bytes: compare_digest refuses non-ASCII str, and a forged header may hold any.
    return hmac.compare_digest(expected.encode("ascii"), given.encode("utf-8", "replace"))


def verify_token_matches(expected: str, given: str | None) -> bool:
    return bool(expected) and given is not None and hmac.compare_digest(
        expected.encode("utf-8", "replace"), given.encode("utf-8", "replace"))


def parse_body(raw_body: bytes) -> dict:
    try:
        body = json.loads(raw_body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedPayload("body is not JSON", str(exc)) from None
    if not isinstance(body, dict) or body.get("object") != "page" or not isinstance(body.get("entry"), list):
        got = body.get("object") if isinstance(body, dict) else type(body).__name__
        raise MalformedPayload('expected {"object": "page", "entry": [...]}', {"object": got})
    if not body["entry"]:
        # Nothing to authenticate it against: never answer 200 to an unsigned body.
        raise MalformedPayload("entry is empty", {"entry": "needs at least one entry"})
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
        items = entry.get("messaging") or []
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
    message, postback = item.get("message"), item.get("postback")
    receipts = [(key, item[key]) for key in ("delivery", "read") if isinstance(item.get(key), dict)]
    if isinstance(message, dict):
        if message.get("is_echo"):
            return None
    elif not isinstance(postback, dict) and not receipts:
        return None  # reactions, referrals, optins, policy notices, handover: not ours to handle
    sender = _sender(item, where)
    if isinstance(message, dict):
        mid = message.get("mid")
        if not mid:
            raise MalformedPayload("message without mid", where)
        quick_reply = message.get("quick_reply") if isinstance(message.get("quick_reply"), dict) else {}
        reply_to = message.get("reply_to") if isinstance(message.get("reply_to"), dict) else {}
        return InboundMessage(
            channel_address=page_id,
            sender_address=sender,
            provider_message_id=str(mid),
            text=_clean(message.get("text")),
            attachments=tuple(_attachments(message.get("attachments") or [], where)),
            payload=_clean(quick_reply.get("payload")) or None,
            metadata={"reply_to": str(reply_to["mid"])} if reply_to.get("mid") else {},
        )
    if isinstance(postback, dict):
        return InboundMessage(
            channel_address=page_id,
            sender_address=sender,
            provider_message_id=str(postback.get("mid") or _postback_id(sender, item)),
            text=_clean(postback.get("title")),
            payload=_clean(postback.get("payload")) or None,
        )
    key, receipt = receipts[0]
    try:
        watermark = int(receipt["watermark"])
    except (KeyError, TypeError, ValueError):
        raise MalformedPayload(f"{key} without a numeric watermark", where) from None
    return Watermark(channel_address=page_id, sender_address=sender,
                     kind="delivered" if key == "delivery" else "read", watermark=watermark)


def _sender(item: dict, where: dict) -> str:
    sender = item.get("sender")
    sender_id = sender.get("id") if isinstance(sender, dict) else None
    if not sender_id:
        raise MalformedPayload("messaging item without sender.id", where)
    return str(sender_id)


def _postback_id(sender: str, item: dict) -> str:
    """Postbacks before Graph v11 carry no mid. A retry repeats the item as it
    was, timestamp included, so an id derived from it dedupes retries."""
    if item.get("timestamp") is not None:
        return f"postback:{sender}:{item['timestamp']}"
    digest = hashlib.sha256(json.dumps(item, sort_keys=True).encode()).hexdigest()[:32]
    return f"postback:{sender}:{digest}"


def _clean(value: Any) -> str:
    """Text as PostgreSQL can store it (it refuses NUL, which JSON allows)."""
    return str(value).replace("\x00", "") if value is not None else ""


def _attachments(raw: Any, where: dict) -> list[Attachment]:
    if not isinstance(raw, list):
        raise MalformedPayload("attachments must be a list", where)
    found = []
    for attachment in raw:
        if not isinstance(attachment, dict):
            raise MalformedPayload("attachments must be objects", where)
        payload = attachment.get("payload") if isinstance(attachment.get("payload"), dict) else {}
        kind_ = str(attachment.get("type") or "file")
        coordinates = payload.get("coordinates")
        if kind_ == "location" and isinstance(coordinates, dict):
            url = f"geo:{coordinates.get('lat')},{coordinates.get('long')}"
        else:
            # Fallback attachments (shared links) carry their URL beside a null payload.
            url = payload.get("url") or attachment.get("url") or ""
        found.append(Attachment(url=_clean(url), kind=kind_))
    return found


def fit_text(text: str, limit: int = TEXT_LIMIT) -> str:
    """The text, or its start cut at a word boundary with an ellipsis, within `limit`
    UTF-16 code units (an emoji counts twice)."""
    if len(text.encode("utf-16-le")) // 2 <= limit:
        return text
    budget, cut = limit - len(ELLIPSIS), 0
    for index, char in enumerate(text):
        budget -= 2 if ord(char) > 0xFFFF else 1
        if budget < 0:
            break
        cut = index + 1
    head = text[:cut]
    space = head.rfind(" ")
    if space >= cut * 0.8:  # do not cut a word in two, unless that would lose a lot
        head = head[:space]
    return head.rstrip() + ELLIPSIS


class MessengerChannel:
    """Sends through the Graph Send API with the Page's access token."""

    kind = kind

    def __init__(self, credentials: Mapping[str, str], address: str, *, graph_url: str, graph_version: str):
        self.page_id = address
        self.page_token = credentials.get("page_token") or ""
        # With the app secret, pymessenger adds appsecret_proof (required when the
        # app enables "Require App Secret"; harmless otherwise).
        self.bot = Bot(self.page_token, api_version=graph_version.removeprefix("v"),
                       app_secret=credentials.get("app_secret") or None)
        # pymessenger builds the URL from a hard-coded host; point it at ours.
        self.bot.graph_url = f"{graph_url.rstrip('/')}/{graph_version}"
        # pymessenger sets no timeout: the send job's RQ timeout bounds the call.

    def payload(self, message: OutboundMessage) -> dict:
        body: dict[str, Any] = {"text": fit_text(message.text)}
        if message.quick_replies:
            body["quick_replies"] = [
                {"content_type": "text", "title": reply.title[:20], "payload": reply.payload}
                for reply in message.quick_replies
            ]
        payload: dict[str, Any] = {"recipient": {"id": message.recipient_address}}
        if message.messenger_tag:
            payload["messaging_type"] = "MESSAGE_TAG"
            payload["tag"] = message.messenger_tag
        else:
            payload["messaging_type"] = "RESPONSE"
        payload["message"] = body
        return payload

    def send(self, message: OutboundMessage) -> SendResult:
        if not self.page_token:
            raise SendError(f"Messenger channel for page {self.page_id} has no page_token", transient=False,
                            code="no_page_token")
        try:
            result = self.bot.send_raw(self.payload(message))
        except ValueError:  # a non-JSON page (a proxy's 502, say); requests' JSONDecodeError is one
            raise SendError("Graph answered with a non-JSON page", transient=True) from None
        except requests.RequestException as exc:
            raise SendError(f"Graph unreachable: {exc.__class__.__name__}", transient=True) from None
        if not isinstance(result, dict):
            raise SendError("Graph answered with an unexpected body", transient=True)
        if "error" in result:
            error = result["error"] if isinstance(result["error"], dict) else {"message": str(result["error"])}
            code = _int_or_none(error.get("code"))
            raise SendError(
                f"Graph error {code}: {error.get('message', 'unknown')}",
                transient=code in TRANSIENT_GRAPH_CODES or error.get("is_transient") is True,
                code=str(code) if code is not None else None,
                auth=code == INVALID_TOKEN,
            )
        if not result.get("message_id"):
            raise SendError("Graph answered without a message_id", transient=True)
        return SendResult(provider_message_id=str(result["message_id"]), status="sent")


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
