"""send_email: a plain-text email over SMTP_URL.

SMTP_URL forms:

    smtp://user:password@host:port    plain SMTP (port 25 by default), upgraded
                                      with STARTTLS whenever the server offers it
    smtp://...?starttls=true          STARTTLS required: refuse to send without it
    smtps://user:password@host:port   implicit TLS (port 465 by default)

The user and password are optional (percent-encode any @ : / in them), and
`from=` in the query sets the From address (default handoff@<host of
PUBLIC_URL>). The password is never logged nor put in an error message.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import parse_qs, unquote, urlsplit

from gateway.config import Config

log = logging.getLogger(__name__)

DEFAULT_PORTS = {"smtp": 25, "smtps": 465}


class MailError(Exception):
    """The email could not be sent (no SMTP_URL, bad SMTP_URL, or the server refused).

    `permanent`: trying again cannot help — the server refused the recipient
    or the message (a 5xx answer), or the configuration is wrong — as opposed
    to a connection failure or a temporary (4xx) answer."""

    def __init__(self, message: str, *, permanent: bool = True):
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class SmtpSettings:
    scheme: str
    host: str
    port: int
    username: str | None
    password: str | None
    require_starttls: bool
    from_address: str


def smtp_settings(config: Config) -> SmtpSettings:
    if not config.smtp_url:
        raise MailError("SMTP_URL is not set: email cannot be sent")
    try:
        parts = urlsplit(config.smtp_url)
        port = parts.port
    except ValueError:
        raise MailError("SMTP_URL is not a valid URL (smtp://user:password@host:port)") from None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise MailError("SMTP_URL must look like smtp://user:password@host:port or smtps://...")
    query = parse_qs(parts.query)
    starttls = query.get("starttls", ["false"])[-1].lower()
    if starttls not in ("true", "false"):
        raise MailError(f"SMTP_URL: starttls must be true or false, not {starttls!r}")
    return SmtpSettings(
        scheme=parts.scheme,
        host=parts.hostname,
        port=port or DEFAULT_PORTS[parts.scheme],
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        require_starttls=starttls == "true",
        from_address=query.get("from", [f"handoff@{urlsplit(config.public_url).hostname}"])[-1],
    )


def send_email(config: Config, to: str | list[str], subject: str, body: str, *,
               reply_to: str | None = None) -> str:
    """Send a plain-text email; returns its Message-ID. Raises MailError."""
    settings = smtp_settings(config)
    recipients = [to] if isinstance(to, str) else list(to)
    if not recipients:
        raise MailError("no recipient")
    message = EmailMessage()
    message["From"] = settings.from_address
    message["To"] = ", ".join(recipients)
    # A subject is often built from customer text: a line break in it would
    # let that text write headers of its own.
    message["Subject"] = " ".join(subject.split())
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=settings.from_address.rpartition("@")[2] or None)
    if reply_to:
        message["Reply-To"] = reply_to
    message.set_content(body)
    try:
        with _connect(settings, config.provider_timeout) as smtp:
            smtp.send_message(message)
    except (smtplib.SMTPException, OSError) as error:
        raise MailError(f"sending email through {settings.host}:{settings.port} failed: {error}",
                        permanent=refused_for_good(error)) from None
    log.info("email %s sent to %d recipient(s) through %s:%s", message["Message-ID"], len(recipients),
             settings.host, settings.port)
    return message["Message-ID"]


def refused_for_good(error: Exception) -> bool:
    """A 5xx answer about the recipients or the message (not a login refused:
    an admin may fix the credentials while the send is being retried)."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(500 <= code < 600 for code, _ in error.recipients.values())
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return False
    return isinstance(error, smtplib.SMTPResponseException) and 500 <= error.smtp_code < 600


def _connect(settings: SmtpSettings, timeout: float) -> smtplib.SMTP:
    """A connected, secured (as SMTP_URL asks) and logged-in SMTP client."""
    tls = ssl.create_default_context()
    if settings.scheme == "smtps":
        smtp = smtplib.SMTP_SSL(settings.host, settings.port, timeout=timeout, context=tls)
    else:
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=timeout)
    try:
        smtp.ehlo()
        if settings.scheme == "smtp":
            if smtp.has_extn("starttls"):
                smtp.starttls(context=tls)
                smtp.ehlo()
            elif settings.require_starttls:
                raise MailError(f"{settings.host}:{settings.port} does not offer STARTTLS, "
                                "which SMTP_URL requires (starttls=true)")
        if settings.username:
            smtp.login(settings.username, settings.password or "")
    except BaseException:
        smtp.close()
        raise
    return smtp
