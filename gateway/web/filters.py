"""Template filters of the agent pages: names, times, previews, labels.

Registered on the app by the pages' blueprint (app_template_filter), so
every template may use them.
"""

from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint

from channels.registry import KINDS, capabilities

bp = Blueprint("filters", __name__)

PREVIEW_LENGTH = 120
# Outbound delivery states as the agent reads them.
DELIVERY_LABELS = {
    "pending": "waiting to send", "retrying": "retrying", "sending": "sending", "queued": "sent to provider",
    "accepted": "sent to provider", "sent": "sent", "delivered": "delivered", "read": "read",
    "undelivered": "not delivered", "failed": "failed",
}


@bp.app_template_filter("contact_label")
def contact_label(row: dict) -> str:
    """What to call a contact: name, channel profile name, phone, email, address."""
    for key in ("contact_name", "name", "identity_profile_name", "contact_phone", "phone", "contact_email",
                "email"):
        if row.get(key):
            return row[key]
    address = row.get("identity_address") or ""
    if address.startswith("v_"):  # an anonymous widget visitor: a short, stable handle
        return f"Visitor {address[2:8]}"
    return address or "Unknown contact"


@bp.app_template_filter("ago")
def ago(moment: datetime | None, now: datetime | None = None) -> str:
    """'just now', '5 min', '3 h', 'yesterday', '12 Mar', '12 Mar 2023'."""
    if moment is None:
        return ""
    now = now or datetime.now(timezone.utc)
    seconds = (now - moment).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h"
    if seconds < 2 * 86400:
        return "yesterday"
    moment = moment.astimezone(timezone.utc)
    if moment.year == now.year:
        return f"{moment.day} {moment:%b}"
    return f"{moment.day} {moment:%b %Y}"


@bp.app_template_filter("when")
def when(moment: datetime | None) -> str:
    """ago() as a phrase: '5 min ago', 'yesterday', 'on 12 Mar'."""
    text = ago(moment)
    if text.endswith((" min", " h")):
        return text + " ago"
    if text and text[0].isdigit():
        return "on " + text
    return text


@bp.app_template_filter("day")
def day(moment: datetime | None) -> str:
    if moment is None:
        return ""
    moment = moment.astimezone(timezone.utc)
    return f"{moment:%A} {moment.day} {moment:%B %Y}"


@bp.app_template_filter("utc")
def utc(moment: datetime | None) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else ""


@bp.app_template_filter("clock")
def clock(moment: datetime | None) -> str:
    return moment.astimezone(timezone.utc).strftime("%H:%M") if moment else ""


@bp.app_template_filter("preview")
def preview(text: str | None, length: int = PREVIEW_LENGTH) -> str:
    """One line of at most `length` characters (escaped later by Jinja)."""
    flat = " ".join((text or "").split())
    return flat if len(flat) <= length else flat[: length - 1].rstrip() + "…"


@bp.app_template_filter("http_url")
def http_url(url) -> str | None:
    """The URL if it is http(s), else None: an attachment link must never be
    javascript: or data: (escaping does not make those harmless)."""
    if isinstance(url, str) and url.lower().startswith(("https://", "http://")):
        return url
    return None


@bp.app_template_filter("channel_kind")
def channel_kind(kind: str | None) -> str:
    return capabilities(kind).label if kind in KINDS else kind or ""


@bp.app_template_filter("delivery_label")
def delivery_label(status: str | None) -> str:
    return DELIVERY_LABELS.get(status or "", status or "")


@bp.app_template_filter("percent")
def percent(value: float | None) -> str:
    return "" if value is None else f"{round(value * 100)}%"
