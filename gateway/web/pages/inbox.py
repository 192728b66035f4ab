"""The agent inbox, read-only for now: the conversation list and one conversation.

Claiming, replying, queues and presence come with the agent JSON API; these
pages only read. Every page needs a logged-in agent (`login_required`) and
shows only what gateway/desk/access.py lets that agent see; all customer
text goes through Jinja's autoescaping (never `|safe`).
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for

from channels.base import INT64
from gateway.desk.access import access_of
from gateway.desk.actions import now_utc
from gateway.desk.views import conversation_view
from gateway.errors import ApiError
from gateway.services import services
from gateway.store import conversations
from gateway.web.auth import add_security_headers, current_agent, login_required
from gateway.web.filters import contact_label

bp = Blueprint("inbox", __name__)
bp.after_request(add_security_headers)

PAGE_SIZE = 50


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
    if before_id is not None and not 0 <= before_id <= INT64[1]:
        abort(400, "before must be a conversation id")
    with services().pool.connection() as conn:
        visible_to = access_of(conn, current_agent()).sql_params()
        rows = conversations.inbox_list(conn, visible_to, status=status, before_id=before_id, limit=PAGE_SIZE + 1)
        counts = conversations.count_by_status(conn, visible_to)
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return render_template(
        "inbox/index.html", conversations=rows, status=status, counts=counts, statuses=conversations.STATUSES,
        total=sum(counts.values()), before_id=before_id,
        older_url=url_for("inbox.index", status=status, before=rows[-1]["id"]) if more else None,
    )


@bp.get("/inbox/conversations/<int:conversation_id>")
@login_required
def conversation(conversation_id: int):
    try:
        with services().pool.connection() as conn:
            view = conversation_view(conn, current_agent(), conversation_id, now_utc())
    except ApiError as refusal:  # 404 or 403: the page says which, and shows nothing of the conversation
        return render_template("inbox/conversation.html", view=None, refusal=refusal,
                               conversation_id=conversation_id), refusal.status
    detail = view.conversation
    contact_name = contact_label({**view.contact, "identity_profile_name": detail["identity_profile_name"],
                                  "identity_address": detail["identity_address"]})
    return render_template("inbox/conversation.html", view=view, conversation=detail, contact=view.contact,
                           contact_name=contact_name, identities=view.identities, others=view.others,
                           messages=view.messages, message_count=view.message_count, events=view.events,
                           ticket=view.ticket, conversation_id=conversation_id)
