"""/reports: how the bot and the handoff perform over a date range, for admins.

Server-rendered tables with bars drawn as inline SVG (no script, no chart
library: the strict CSP holds), filters in a GET form, CSV exports of the
figures and of the conversations behind them, and the learning loop's
actions (add an article for a group of unanswered questions, mark a group
handled). The figures are gateway/reporting/figures.py's, as the API and
`handoff report` give them.
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, stream_with_context, url_for

from gateway.db import transaction
from gateway.reporting.figures import DEFAULT_DAYS, Range, build_report, figure_rows
from gateway.services import services
from gateway.store import channels, reports, teams
from gateway.web.auth import add_security_headers, admin_required, check_csrf, current_agent

bp = Blueprint("reports", __name__, url_prefix="/reports")
bp.after_request(add_security_headers)

MAX_DAYS = 366
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def requested_range(args) -> Range:
    """The range and filters of the query string (the last 7 days by default); 400 for nonsense."""
    default = Range.last_days(DEFAULT_DAYS)
    try:
        since = date.fromisoformat(args["since"]) if args.get("since") else default.since
        until = date.fromisoformat(args["until"]) if args.get("until") else max(default.until, since)
        team_id = int(args["team"]) if args.get("team") else None
        channel_id = int(args["channel"]) if args.get("channel") else None
    except ValueError:
        abort(400, "since and until are dates like 2026-11-30; team and channel are ids")
    if until < since or (until - since).days >= MAX_DAYS:
        abort(400, f"until must be on or after since, at most {MAX_DAYS} days later")
    return Range(since, until, team_id, channel_id)


def range_args(window: Range) -> dict:
    return {key: value for key, value in (("since", window.since.isoformat()), ("until", window.until.isoformat()),
                                          ("team", window.team_id), ("channel", window.channel_id)) if value}


def requested_report() -> tuple[Range, dict]:
    window = requested_range(request.args)
    with services().pool.connection() as conn:
        return window, build_report(conn, window)


@bp.get("")
@admin_required
def index():
    window, report = requested_report()
    with services().pool.connection() as conn:
        team_rows = teams.list_teams(conn)
        channel_rows = channels.list_channels(conn)
    busiest = max((count for row in report["heatmap"] for count in row), default=0)
    return render_template("reports/index.html", r=report, window=window, args=range_args(window), teams=team_rows,
                           channels=channel_rows, weekdays=WEEKDAYS, busiest=busiest,
                           presets=[(days, (window.until - timedelta(days=days - 1)).isoformat())
                                    for days in (7, 30, 90)])


def _csv(rows, header: tuple, name: str) -> Response:
    def lines():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for row in [header, *rows]:
            writer.writerow(["" if value is None else value for value in row])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()

    return Response(stream_with_context(lines()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.get("/figures.csv")
@admin_required
def figures_csv():
    window, report = requested_report()
    return _csv(figure_rows(report), ("section", "figure", "value"),
                f"handoff-figures-{window.since}-{window.until}.csv")


CONVERSATION_COLUMNS = ("id", "created_at", "channel_kind", "channel", "team", "status", "escalated_at", "rule",
                        "first_agent_reply_at", "resolved_at", "csat", "customer_messages")


@bp.get("/conversations.csv")
@admin_required
def conversations_csv():
    window = requested_range(request.args)

    def rows():
        with services().pool.connection() as conn, conn.transaction():  # a named cursor lives in a transaction
            for row in reports.conversations_in_window(conn, window.scope()):
                yield tuple(row[column] for column in CONVERSATION_COLUMNS)

    return _csv(rows(), CONVERSATION_COLUMNS, f"handoff-conversations-{window.since}-{window.until}.csv")


@bp.post("/unanswered/handled")
@admin_required
def mark_handled():
    """A group of unanswered questions is dealt with: it leaves the list (new questions like it come back)."""
    if not check_csrf():
        abort(400, "This form expired: reload the page and try again.")
    ids = [int(value) for value in request.form.getlist("message_ids") if value.isdigit()]
    with transaction(services().pool) as conn:
        marked = reports.mark_handled(conn, ids, current_agent()["id"])
    flash(f"Marked {marked} question(s) handled.")
    return redirect(url_for(".index", **{key: value for key, value in request.form.items()
                                         if key in ("since", "until", "team", "channel") and value}), code=303)
