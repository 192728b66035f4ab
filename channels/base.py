"""What every channel adapter speaks: normalized inbound events, outbound
messages, send results, and the errors a send can raise.

Adapters import provider SDKs; nothing else in Handoff does. They know nothing
of Flask, the database or the queue: the web layer hands them the raw request
parts, and the outbound job hands them an OutboundMessage.
"""

from __future__ import annotations

import json
import math
from http import HTTPStatus
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Mapping, Protocol, Sequence

# Deeper JSON than this is refused: no payload we read nests half as deep,
# and walking a deeper one (marshmallow, jsonb) could exhaust the stack.
MAX_JSON_DEPTH = 32
# What PostgreSQL's bigint holds: a larger number can never match a row.
INT64 = (-(2**63), 2**63 - 1)
# Customer text longer than this is cut (WhatsApp's own limit is 4096).
TEXT_LIMIT = 4096
# Ids, addresses and names longer than this are not ids, addresses and names.
NAME_LIMIT = 200
URL_LIMIT = 2000
ATTACHMENT_LIMIT = 10
ELLIPSIS = "…"


class MalformedPayload(ValueError):
    """The request is not a payload this channel understands (HTTP 400)."""

    def __init__(self, message: str, details: Any = None):
        super().__init__(message)
        self.details = details


class _Refused(ValueError):
    """Raised inside json.loads hooks; becomes a MalformedPayload."""


def _parse_int(text: str) -> int:
    if len(text) > 100:  # int() of thousands of digits is slow (Python refuses past 4300)
        raise _Refused(f"number {text[:24]}… is out of range")
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"number {text[:24]} is out of range")
    return value


def _refuse_constant(name: str):
    raise _Refused(f"{name} is not a JSON number")


def load_json(raw: bytes) -> Any:
    """A request body decoded as UTF-8 JSON, or MalformedPayload: not UTF-8,
    not JSON, NaN or Infinity, a number of more than 100 digits, or nested
    deeper than MAX_JSON_DEPTH. Strings and the range of numbers are not
    checked here (json_problem does): a signed webhook is verified before its
    content is judged."""
    try:
        value = json.loads(raw.decode("utf-8"), parse_int=_parse_int, parse_float=_parse_float,
                           parse_constant=_refuse_constant)
    except UnicodeDecodeError as error:
        raise MalformedPayload("body is not UTF-8", f"invalid byte at position {error.start}") from None
    except _Refused as error:
        raise MalformedPayload("body is not acceptable JSON", str(error)) from None
    except RecursionError:
        raise MalformedPayload("body is not acceptable JSON", f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as error:  # json.JSONDecodeError
        raise MalformedPayload("body is not JSON", str(error)) from None
    problem = json_problem(value, strict=False)
    if problem:
        raise MalformedPayload("body is not acceptable JSON", problem)
    return value


def json_problem(value: Any, *, strict: bool = True) -> str | None:
    """What makes a decoded JSON value unfit to store, or None: nesting deeper
    than MAX_JSON_DEPTH and, when `strict`, an integer outside int64 or a key
    or string that PostgreSQL cannot store (see text_problem). Walked without
    recursion, so any depth is safe to check."""
    stack = [(value, "$", 1)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                return f"{where}: nested deeper than {MAX_JSON_DEPTH} levels"
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in pairs:
                if strict and isinstance(key, str) and text_problem(key):
                    return f"{where}: a key {text_problem(key)}"
                stack.append((child, f"{where}.{key}" if isinstance(key, str) else f"{where}[{key}]", depth + 1))
        elif strict and isinstance(item, int) and not isinstance(item, bool) and not INT64[0] <= item <= INT64[1]:
            return f"{where}: number out of range (at most {INT64[1]})"
        elif strict and isinstance(item, str) and text_problem(item):
            return f"{where}: {text_problem(item)}"
    return None


def text_problem(text: str) -> str | None:
    """Why PostgreSQL could not store this text, or None: it refuses NUL, and
    a lone UTF-16 surrogate (JSON's \\ud800) is not a character at all."""
    if "\x00" in text:
        return "contains a NUL character"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "contains an unpaired surrogate (not a character)"
    return None


def clean_text(value: Any, limit: int = TEXT_LIMIT) -> str:
    """A provider's free text as we store it: NUL removed, unpaired surrogates
    replaced, cut to `limit` characters. Customer text is kept rather than
    refused: the message is the customer's, and a provider cannot resend it."""
    if value is None:
        return ""
    text = str(value).replace("\x00", "")
    if text_problem(text):
        text = "".join("\ufffd" if 0xD800 <= ord(char) <= 0xDFFF else char for char in text)
    return text if len(text) <= limit else text[:limit - 1] + ELLIPSIS


def identifier(value: Any, what: str) -> str:
    """A provider's id or address as text: a non-empty string (or an integer,
    spelled in decimal) of printable characters within NAME_LIMIT.
    MalformedPayload otherwise: an id that is anything else matches nothing
    we sent and is not a customer we could answer."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value or len(value) > NAME_LIMIT or not value.isprintable():
        shown = value if isinstance(value, str) else type(value).__name__
        raise MalformedPayload(f"{what} must be an id: printable text of 1 to {NAME_LIMIT} characters",
                               {what: repr(shown)[:60]})
    return value


@dataclass(frozen=True)
class Attachment:
    url: str
    content_type: str | None = None
    kind: str = "file"  # image | audio | video | file | location | fallback

    def as_dict(self) -> dict:
        return {"url": self.url, "content_type": self.content_type, "kind": self.kind}


@dataclass(frozen=True)
class InboundMessage:
    """A customer's message, as any channel delivers it."""

    channel_address: str          # which of our channels: Twilio number, Page id, widget key
    sender_address: str           # the customer on that channel: whatsapp:+E164, PSID, visitor id
    provider_message_id: str      # the provider's id: retries of one message share it
    text: str = ""
    attachments: Sequence[Attachment] = ()
    payload: str | None = None    # button / postback / quick-reply payload
    profile_name: str | None = None
    phone: str | None = None      # E.164, when the channel reveals it
    email: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StatusUpdate:
    """A delivery status of one of our outbound messages (Twilio callbacks)."""

    channel_address: str
    provider_message_id: str
    status: str                   # queued | sent | delivered | read | failed | undelivered | ...
    error_code: str | None = None
    error_message: str | None = None


@dataclass(frozen=True)
class Watermark:
    """Everything we sent to sender_address before `watermark` (ms) was delivered/read (Messenger)."""

    channel_address: str
    sender_address: str
    kind: str                     # delivered | read
    watermark: int


InboundEvent = InboundMessage | StatusUpdate | Watermark


@dataclass(frozen=True)
class QuickReply:
    """A button under a message (Messenger quick reply, widget button); tapping
    it sends `payload` back as the customer's message payload."""

    title: str
    payload: str


@dataclass(frozen=True)
class OutboundMessage:
    recipient_address: str
    text: str
    sender: str = "bot"           # bot | agent | system: decides Messenger's messaging_type/tag
    attachments: Sequence[Attachment] = ()
    quick_replies: Sequence[QuickReply] = ()
    # WhatsApp templates outside the 24-hour window.
    template_sid: str | None = None
    template_variables: Mapping[str, str] = field(default_factory=dict)
    # Messenger: "RESPONSE" inside the 24-hour window, "HUMAN_AGENT" tag after.
    messenger_tag: str | None = None


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str
    status: str = "sent"


class SendError(Exception):
    """A send failed, with the reason in words for the agent. `transient`
    failures are retried with backoff (not sooner than `retry_after` seconds
    when the provider said so); others are final. `auth`: the provider refused
    the channel's credentials (a wrong or revoked token): every send on the
    channel will fail until they are fixed."""

    def __init__(self, message: str, *, transient: bool, code: str | None = None,
                 retry_after: float | None = None, auth: bool = False):
        super().__init__(message)
        self.transient = transient
        self.code = code
        self.retry_after = retry_after
        self.auth = auth


def retry_after_seconds(header: str | None) -> float | None:
    """A Retry-After header's delay in seconds (the HTTP-date form is rare for
    APIs and counts as absent)."""
    try:
        seconds = float(header) if header else None
    except ValueError:
        return None
    return seconds if seconds is not None and math.isfinite(seconds) and seconds >= 0 else None


def transport_failure(error: BaseException, timeout: float | None = None) -> str:
    """A failed HTTP call (requests) in a few words for a person: "connection
    refused", "no answer within 10 s". Never the server's own text, which may
    be anything (an internal page, a secret in a URL)."""
    chain = []
    while error is not None and len(chain) < 10:
        chain.append(error)
        error = error.__cause__ or error.__context__ or (error.args[0] if error.args and isinstance(
            error.args[0], BaseException) else None) or getattr(error, "reason", None)
        if isinstance(error, str):
            break
    names = {type(item).__name__ for item in chain}
    refused = next((item for item in chain if type(item).__name__ == "RefusedTarget"), None)
    if refused is not None:
        return str(refused)
    waited = f" within {timeout:g} s" if timeout else ""
    if names & {"ConnectTimeout", "ConnectTimeoutError"}:
        return f"could not connect{waited} (timed out)"
    if names & {"ReadTimeout", "ReadTimeoutError", "TimeoutError", "Timeout"}:
        return f"no answer{waited}"
    if names & {"NameResolutionError", "gaierror"}:
        return "the host name does not resolve"
    if names & {"SSLError", "SSLCertVerificationError"}:
        return "the TLS handshake failed"
    if names & {"ConnectionRefusedError"}:
        return "connection refused"
    if names & {"ConnectionResetError", "RemoteDisconnected", "ProtocolError", "ChunkedEncodingError"}:
        return "the connection was closed before an answer"
    if names & {"TooManyRedirects"}:
        return "redirected (redirects are not followed)"
    return f"network error ({type(chain[0]).__name__})"


def http_failure(status: int) -> str:
    """An HTTP status in words: "HTTP 503 Service Unavailable"."""
    try:
        return f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


def transient_http_status(status: int) -> bool:
    """Rate limits, timeouts and server errors are worth retrying; other 4xx are not."""
    return status in (408, 409, 425, 429) or status >= 500


class Channel(Protocol):
    """An adapter that sends on one configured channel (channels.registry.adapter_for)."""

    kind: str

    def send(self, message: OutboundMessage) -> SendResult: ...


@dataclass(frozen=True)
class Capabilities:
    """What a kind of channel can carry, so that the rest of Handoff asks the
    question ("are there quick replies?") rather than the kind."""

    kind: str
    label: str                        # "WhatsApp", as agents and admins read it
    in_sentence: str                  # "reply on the web chat instead"
    reply_here: str                   # "a person will reply here on WhatsApp"
    text_limit: int                   # characters one message carries
    quick_replies: bool               # buttons under a message (Messenger quick replies, the widget's)
    templates: bool                   # approved templates reach the customer outside the window (WhatsApp)
    # How long after the customer's last message anything may be sent; None: no window.
    window: timedelta | None
    # After the window, how long a person may still reply with Messenger's HUMAN_AGENT tag.
    human_agent_window: timedelta | None
    # The customer may leave and never see a reply here (a web visitor): ask for an email.
    asks_for_email: bool
