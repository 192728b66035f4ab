"""What every channel adapter speaks: normalized inbound events, outbound
messages, send results, and the errors a send can raise.

Adapters import provider SDKs; nothing else in Handoff does. They know nothing
of Flask, the database or the queue: the web layer hands them the raw request
parts, and the outbound job hands them an OutboundMessage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Mapping, Protocol, Sequence


class MalformedPayload(ValueError):
    """The request is not a payload this channel understands (HTTP 400)."""

    def __init__(self, message: str, details: Any = None):
        super().__init__(message)
        self.details = details


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
    """A send failed. `transient` failures are retried with backoff; others are
    final. `auth`: the provider refused the channel's credentials (a wrong or
    revoked token): every send on the channel will fail until they are fixed."""

    def __init__(self, message: str, *, transient: bool, code: str | None = None, auth: bool = False):
        super().__init__(message)
        self.transient = transient
        self.code = code
        self.auth = auth


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
