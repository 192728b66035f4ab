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
  app unsubscribed. For the same reason an item of a signed batch that
  cannot be used (a message without a mid, an id that is not text, a
  watermark out of range) is acknowledged with the rest and returned as
  Skipped, for the webhook to record; only what cannot be attributed to a
  Page before the signature check (not JSON, no entry ids) is a 400.
- Ids must be text (or integers): an id of any other type is not coerced
  into a Python repr. Customer text keeps what PostgreSQL can store (NUL
  removed, unpaired surrogates replaced) and is cut at TEXT_LIMIT.
- Text longer than the Send API limit is truncated, not split: one outbound
  message is one Graph call with one message id, so a retry can never
  re-send half of a split message.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any, Mapping

import requests
from pymessenger.bot import Bot

from channels.base import (
    ATTACHMENT_LIMIT,
    ELLIPSIS,
    INT64,
    NAME_LIMIT,
    URL_LIMIT,
    Attachment,
    InboundEvent,
    InboundMessage,
    MalformedPayload,
    OutboundMessage,
    SendError,
    SendResult,
    Watermark,
    clean_text,
    http_failure,
    identifier,
    load_json,
    retry_after_seconds,
    transient_http_status,
    transport_failure,
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
    """The event batch, before its signature is checked: what cannot even be
    attributed to a Page (not JSON, absurdly nested, no entries) is a 400."""
    body = load_json(raw_body)
    if not isinstance(body, dict) or body.get("object") != "page" or not isinstance(body.get("entry"), list):
        got = body.get("object") if isinstance(body, dict) else body
        raise MalformedPayload('expected {"object": "page", "entry": [...]}',
                               {"object": got[:60] if isinstance(got, str) else type(got).__name__})
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
        page_id = identifier(entry["id"], "entry.id")
        if page_id not in ids:
            ids.append(page_id)
    return ids


@dataclass(frozen=True)
class Skipped:
    """An item of a signed batch that Handoff cannot use, and why. Meta
    retries a batch until it is answered 200, so the batch is acknowledged
    and the webhook records these instead of refusing the whole batch."""

    page_id: str
    where: dict
    reason: str


def parse_events(body: dict) -> tuple[list[InboundEvent], list[Skipped]]:
    """Every message, postback, delivery and read in every entry, in order,
    and the items that could not be read.

    Echoes of our own sends are dropped (answering them would loop), as are
    event kinds Handoff does not use (standby, reactions, feed changes).
    """
    events: list[InboundEvent] = []
    skipped: list[Skipped] = []
    for entry_index, entry in enumerate(body["entry"]):
        page_id = identifier(entry["id"], "entry.id")
        items = entry.get("messaging") or []
        if not isinstance(items, list):
            skipped.append(Skipped(page_id, {"entry": entry_index}, "messaging must be a list"))
            continue
        for item_index, item in enumerate(items):
            where = {"entry": entry_index, "messaging": item_index}
            try:
                if not isinstance(item, dict):
                    raise MalformedPayload("messaging items must be objects", where)
                event = _parse_item(page_id, item, where)
            except MalformedPayload as error:
                skipped.append(Skipped(page_id, where, str(error)))
                continue
            if event is not None:
                events.append(event)
    return events, skipped


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
        if not message.get("mid"):
            raise MalformedPayload("message without mid", where)
        quick_reply = message.get("quick_reply") if isinstance(message.get("quick_reply"), dict) else {}
        reply_to = message.get("reply_to") if isinstance(message.get("reply_to"), dict) else {}
        return InboundMessage(
            channel_address=page_id,
            sender_address=sender,
            provider_message_id=identifier(message["mid"], "message.mid"),
            text=clean_text(message.get("text")),
            attachments=tuple(_attachments(message.get("attachments") or [], where)),
            payload=clean_text(quick_reply.get("payload"), NAME_LIMIT * 5) or None,
            metadata={"reply_to": identifier(reply_to["mid"], "reply_to.mid")} if reply_to.get("mid") else {},
        )
    if isinstance(postback, dict):
        mid = postback.get("mid")
        return InboundMessage(
            channel_address=page_id,
            sender_address=sender,
            provider_message_id=identifier(mid, "postback.mid") if mid else _postback_id(sender, item),
            text=clean_text(postback.get("title"), NAME_LIMIT),
            payload=clean_text(postback.get("payload"), NAME_LIMIT * 5) or None,
        )
    key, receipt = receipts[0]
    watermark = receipt.get("watermark")
    if isinstance(watermark, str) and watermark.isdigit():
        watermark = int(watermark)
    # Milliseconds since 1970 that fit in a bigint; anything else matches no message.
    if not isinstance(watermark, int) or isinstance(watermark, bool) or not 0 <= watermark <= INT64[1]:
        raise MalformedPayload(f"{key} without a numeric watermark", where)
    return Watermark(channel_address=page_id, sender_address=sender,
                     kind="delivered" if key == "delivery" else "read", watermark=watermark)


def _sender(item: dict, where: dict) -> str:
    sender = item.get("sender")
    sender_id = sender.get("id") if isinstance(sender, dict) else None
    if not sender_id:
        raise MalformedPayload("messaging item without sender.id", where)
    return identifier(sender_id, "sender.id")


def _postback_id(sender: str, item: dict) -> str:
    """Postbacks before Graph v11 carry no mid. A retry repeats the item as it
    was, timestamp included, so an id derived from it dedupes retries."""
    timestamp = item.get("timestamp")
    if isinstance(timestamp, int) and not isinstance(timestamp, bool):
        return f"postback:{sender}:{timestamp}"
    digest = hashlib.sha256(json.dumps(item, sort_keys=True).encode("utf-8", "replace")).hexdigest()[:32]
    return f"postback:{sender}:{digest}"


def _attachments(raw: Any, where: dict) -> list[Attachment]:
    if not isinstance(raw, list):
        raise MalformedPayload("attachments must be a list", where)
    found = []
    for attachment in raw[:ATTACHMENT_LIMIT]:
        if not isinstance(attachment, dict):
            raise MalformedPayload("attachments must be objects", where)
        payload = attachment.get("payload") if isinstance(attachment.get("payload"), dict) else {}
        kind_ = clean_text(attachment.get("type") or "file", 20)
        coordinates = payload.get("coordinates")
        if kind_ == "location" and isinstance(coordinates, dict):
            url = f"geo:{coordinates.get('lat')},{coordinates.get('long')}"
        else:
            # Fallback attachments (shared links) carry their URL beside a null payload.
            url = payload.get("url") or attachment.get("url") or ""
        found.append(Attachment(url=clean_text(url, URL_LIMIT), kind=kind_))
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

    def __init__(self, credentials: Mapping[str, str], address: str, *, graph_url: str, graph_version: str,
                 timeout: float):
        self.page_id = address
        self.page_token = credentials.get("page_token") or ""
        self.timeout = timeout
        # With the app secret, pymessenger adds appsecret_proof (required when the
        # app enables "Require App Secret"; harmless otherwise).
        self.bot = Bot(self.page_token, api_version=graph_version.removeprefix("v"),
                       app_secret=credentials.get("app_secret") or None)
        # pymessenger builds the URL from a hard-coded host; point it at ours.
        self.bot.graph_url = f"{graph_url.rstrip('/')}/{graph_version}"

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
        # pymessenger's send_raw is this same POST without a timeout: a Graph
        # that hangs would hold the worker until the job is killed, with no
        # reason shown. So the request is made here, bounded, with the URL and
        # the auth arguments (token, appsecret_proof) pymessenger computed.
        try:
            response = requests.post(f"{self.bot.graph_url}/me/messages", params=self.bot.auth_args,
                                     json=self.payload(message), timeout=self.timeout)
        except requests.RequestException as exc:
            raise SendError(f"cannot reach Graph: {transport_failure(exc, self.timeout)}", transient=True) from None
        retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        try:
            result = response.json()
        except ValueError:  # a non-JSON page (a proxy's 502, say)
            raise SendError(f"Graph answered {http_failure(response.status_code)} with a non-JSON page",
                            transient=True, retry_after=retry_after) from None
        if not isinstance(result, dict):
            raise SendError("Graph answered with an unexpected body", transient=True)
        if "error" in result:
            error = result["error"] if isinstance(result["error"], dict) else {"message": str(result["error"])}
            code = _int_or_none(error.get("code"))
            raise SendError(
                f"Graph error {code}: {error.get('message', 'unknown')}",
                transient=code in TRANSIENT_GRAPH_CODES or error.get("is_transient") is True
                or (code is None and transient_http_status(response.status_code)),
                code=str(code) if code is not None else None, retry_after=retry_after,
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
