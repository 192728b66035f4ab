"""The agent inbox, read-only for now: the conversation list and one conversation.

Claiming, replying, queues and presence come with the agent JSON API; these
pages only read. Every page needs a logged-in agent (`login_required`), and
all customer text goes through Jinja's autoescaping (never `|safe`).
"""

from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, abort, redirect, render_template, request, url_for

from gateway.services import services
from gateway.store import contacts, conversations, tickets
from gateway.web.auth import add_security_headers, login_required

bp = Blueprint("inbox", __name__)
bp.after_request(add_security_headers)

PAGE_SIZE = 50
TRANSCRIPT_LIMIT = 300
PREVIEW_LENGTH = 120
CHANNEL_KINDS = {"whatsapp": "WhatsApp", "messenger": "Messenger", "web": "Web chat"}
# Outbound delivery states as the agent reads them.
DELIVERY_LABELS = {
    "pending": "waiting to send", "retrying": "retrying", "sending": "sending", "queued": "sent to provider",
    "accepted": "sent to provider", "sent": "sent", "delivered": "delivered", "read": "read",
    "undelivered": "not delivered", "failed": "failed",
}


@bp.get("/")
def home():
    return redirect(url_for("inbox.index"))


@bp.get("/inbox")
@login_required
def index():
    status = request.args.get("status") or None
    if status is not None and status not in conversations.STATUSES:
        abort(400, f"unknown status {status!r}: use one of {', '.join(conversations.STATUSES)}")
    before_id = request.args.get("before", type=int)
    with services().pool.connection() as conn:
        rows = conversations.inbox_list(conn, status=status, before_id=before_id, limit=PAGE_SIZE + 1)
        counts = conversations.count_by_status(conn)
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return render_template(
        "inbox.html", conversations=rows, status=status, counts=counts, statuses=conversations.STATUSES,
        total=sum(counts.values()), before_id=before_id,
        older_url=url_for("inbox.index", status=status, before=rows[-1]["id"]) if more else None,
    )


@bp.get("/inbox/conversations/<int:conversation_id>")
@login_required
def conversation(conversation_id: int):
    with services().pool.connection() as conn:
        found = conversations.conversation_detail(conn, conversation_id)
        if found is None:
            return render_template("conversation.html", conversation=None, conversation_id=conversation_id), 404
        contact = contacts.get_contact(conn, found["contact_id"])
        identities = contacts.identities_of(conn, found["contact_id"])
        others = conversations.conversations_of_contact(conn, found["contact_id"], exclude_id=conversation_id)
        messages, message_count = conversations.transcript_tail(conn, conversation_id, limit=TRANSCRIPT_LIMIT)
        events = conversations.conversation_events(conn, conversation_id)
        ticket = tickets.ticket_of_conversation(conn, conversation_id)
    contact_name = contact_label({**contact, "identity_profile_name": found["identity_profile_name"],
                                  "identity_address": found["identity_address"]})
    return render_template(
        "conversation.html", conversation=found, conversation_id=conversation_id, contact=contact,
        contact_name=contact_name,
        identities=identities, others=others, messages=messages, message_count=message_count, events=events,
        ticket=ticket,
    )


# --- Template helpers -------------------------------------------------------------------------

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
    return CHANNEL_KINDS.get(kind or "", kind or "")


@bp.app_template_filter("delivery_label")
def delivery_label(status: str | None) -> str:
    return DELIVERY_LABELS.get(status or "", status or "")


@bp.app_template_filter("percent")
def percent(value: float | None) -> str:
    return "" if value is None else f"{round(value * 100)}%"
