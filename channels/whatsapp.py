"""WhatsApp through Twilio: signature check, inbound and status parsing, sending.

Wire facts (shared/PROTOCOLS.md §1): Twilio posts form-encoded fields and signs
the full public URL plus every field with HMAC-SHA1 of the account's auth
token; it may add fields without notice, so every field is passed to the
validator and unknown fields are kept, never rejected.
"""

from __future__ import annotations

import hmac
import json
import re
from typing import Any, Mapping

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from channels.base import (
    ATTACHMENT_LIMIT,
    NAME_LIMIT,
    URL_LIMIT,
    Attachment,
    InboundMessage,
    MalformedPayload,
    OutboundMessage,
    SendError,
    SendResult,
    StatusUpdate,
    clean_text,
    http_failure,
    retry_after_seconds,
    transient_http_status,
    transport_failure,
)

kind = "whatsapp"

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
ADDRESS = re.compile(r"^whatsapp:\+[1-9]\d{6,14}$")
# Twilio error codes that will not succeed on retry even though they are not 4xx
# at the HTTP level are rare; these 4xx ones are worth retrying.
TRANSIENT_TWILIO_CODES = {20429}  # "Too Many Requests"
AUTHENTICATION_FAILED = 20003


def verify_signature(auth_token: str, url: str, form: Any, signature: str | None) -> bool:
    """Twilio's RequestValidator over the public URL Twilio called and all form fields.

    `form` is a MultiDict (Flask's request.form) so repeated fields are signed
    the way Twilio signs them.
    """
    if not signature or not auth_token:
        return False
    validator = RequestValidator(auth_token)
    # The URL exactly as given is what Twilio signs in practice: check it with
    # one HMAC. validate() also tries the URL with and without the default port
    # (two more HMACs), which only a differently configured webhook URL needs.
    expected = validator.compute_signature(url, form)
    return hmac.compare_digest(expected, signature) or validator.validate(url, form, signature)


def channel_address_of_inbound(form: Mapping[str, str]) -> str:
    to = form.get("To", "")
    if not ADDRESS.match(to):
        raise MalformedPayload("To must be a WhatsApp address like whatsapp:+14155238886", {"To": to})
    return to


def channel_address_of_status(form: Mapping[str, str]) -> str:
    sender = form.get("From", "")
    if not ADDRESS.match(sender):
        raise MalformedPayload("From must be a WhatsApp address like whatsapp:+14155238886", {"From": sender})
    return sender


def parse_inbound(form: Mapping[str, str]) -> InboundMessage:
    """One inbound WhatsApp message from Twilio's form fields."""
    errors = {}
    sid = form.get("MessageSid") or form.get("SmsMessageSid") or ""
    if not sid:
        errors["MessageSid"] = "missing"
    elif len(sid) > NAME_LIMIT or not sid.isprintable():
        errors["MessageSid"] = f"must be printable text of at most {NAME_LIMIT} characters"
    sender = form.get("From", "")
    if not ADDRESS.match(sender):
        errors["From"] = "must look like whatsapp:+15551230001"
    try:
        num_media = int(form.get("NumMedia") or 0)
    except ValueError:
        num_media = -1
    if not 0 <= num_media <= ATTACHMENT_LIMIT:
        errors["NumMedia"] = f"must be a number from 0 to {ATTACHMENT_LIMIT}"
    if errors:
        raise MalformedPayload("not a Twilio WhatsApp message", errors)

    attachments = []
    for index in range(num_media):
        url = form.get(f"MediaUrl{index}")
        if not url or len(url) > URL_LIMIT:
            raise MalformedPayload("missing media field", {f"MediaUrl{index}": f"missing or over {URL_LIMIT} characters"})
        content_type = clean_text(form.get(f"MediaContentType{index}"), NAME_LIMIT) or None
        attachments.append(Attachment(url=url, content_type=content_type, kind=_media_kind(content_type)))
    if form.get("Latitude") and form.get("Longitude"):
        attachments.append(Attachment(
            url=clean_text(f"geo:{form['Latitude']},{form['Longitude']}", NAME_LIMIT), kind="location"))

    body = clean_text(form.get("Body", ""))
    payload = clean_text(form.get("ButtonPayload"), NAME_LIMIT * 5) or None
    if payload and not body:
        body = clean_text(form.get("ButtonText", ""), NAME_LIMIT)
    metadata = {
        key: clean_text(form[key], NAME_LIMIT)
        for key in ("MessageType", "WaId", "ButtonText", "OriginalRepliedMessageSid", "ListId", "ListTitle",
                    "Address", "Label")  # Address and Label name a shared location
        if form.get(key)
    }
    return InboundMessage(
        channel_address=channel_address_of_inbound(form),
        sender_address=sender,
        provider_message_id=sid,
        text=body,
        attachments=tuple(attachments),
        payload=payload,
        profile_name=clean_text(form.get("ProfileName"), NAME_LIMIT) or None,
        phone=sender.removeprefix("whatsapp:"),
        metadata=metadata,
    )


def parse_status(form: Mapping[str, str]) -> StatusUpdate:
    sid = form.get("MessageSid") or form.get("SmsSid") or ""
    status = (form.get("MessageStatus") or form.get("SmsStatus") or "").lower()
    if not sid or not status:
        raise MalformedPayload("not a Twilio status callback", {"MessageSid": sid or "missing", "MessageStatus": status or "missing"})
    return StatusUpdate(
        channel_address=channel_address_of_status(form),
        provider_message_id=sid,
        status=clean_text(status, NAME_LIMIT),
        error_code=clean_text(form.get("ErrorCode"), NAME_LIMIT) or None,
        error_message=clean_text(form.get("ErrorMessage"), 1000) or None,
    )


def _media_kind(content_type: str | None) -> str:
    major = (content_type or "").split("/", 1)[0]
    return major if major in ("image", "audio", "video") else "file"


class RetryAfterHttpClient(TwilioHttpClient):
    """Twilio's HTTP client, remembering the last answer's Retry-After (a
    429's TwilioRestException carries no headers)."""

    retry_after: float | None = None

    def request(self, *args, **kwargs):
        response = super().request(*args, **kwargs)
        self.retry_after = retry_after_seconds((response.headers or {}).get("Retry-After"))
        return response


class WhatsAppChannel:
    """Sends through Twilio's Messages API with the channel's credentials."""

    kind = kind

    def __init__(self, credentials: Mapping[str, str], address: str, *, api_base_url: str, timeout: float,
                 status_callback_url: str | None = None):
        self.address = address
        # Where Twilio posts the delivery statuses of what we send.
        self.status_callback_url = status_callback_url
        self.timeout = timeout
        self.http = RetryAfterHttpClient(timeout=timeout)
        self.client = Client(credentials["account_sid"], credentials["auth_token"], http_client=self.http)
        # Only the Messages API is used, so pointing its domain is enough
        # (this is also how tests reach the local stand-in).
        self.client.api.base_url = api_base_url.rstrip("/")

    def send(self, message: OutboundMessage) -> SendResult:
        params: dict[str, Any] = {"from_": self.address, "to": message.recipient_address}
        if message.template_sid:
            params["content_sid"] = message.template_sid
            if message.template_variables:
                params["content_variables"] = json.dumps(dict(message.template_variables))
        else:
            params["body"] = message.text
            if message.attachments:
                params["media_url"] = [a.url for a in message.attachments]
        if self.status_callback_url:
            params["status_callback"] = self.status_callback_url
        try:
            created = self.client.messages.create(**params)
        except TwilioRestException as exc:
            transient = transient_http_status(exc.status) or exc.code in TRANSIENT_TWILIO_CODES
            raise SendError(f"Twilio answered {http_failure(exc.status)}: {exc.msg}", transient=transient,
                            code=str(exc.code or exc.status), retry_after=self.http.retry_after,
                            auth=exc.status == 401 or exc.code == AUTHENTICATION_FAILED) from None
        except requests.RequestException as exc:
            raise SendError(f"cannot reach Twilio: {transport_failure(exc, self.timeout)}", transient=True) from None
        return SendResult(provider_message_id=created.sid, status=created.status or "queued")


def load_client_modules() -> None:
    """Import what the twilio client loads lazily on its first send (about
    100 ms of CPU), so that a worker does it once, before forking the
    work-horses that send."""
    Client("AC" + "0" * 32, "not-a-token").api.v2010.account.messages  # noqa: B018 - the access loads them
