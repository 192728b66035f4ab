"""`handoff report`: the figures of /reports on the command line (--json: one JSON object)."""

from __future__ import annotations

import click

from gateway.cli.support import database
from gateway.cli.triggers import echo_json, iso_date


def _percent(value) -> str:
    return "-" if value is None else f"{value * 100:.1f} %"


def _seconds(value) -> str:
    return "-" if value is None else (f"{value:.0f} s" if value < 90 else f"{value / 60:.1f} min")


@click.command()
@click.option("--since", required=True, callback=iso_date, help="First day (UTC), e.g. 2026-11-01.")
@click.option("--until", callback=lambda ctx, param, value: value and iso_date(ctx, param, value),
              help="Last day, included (default: today).")
@click.option("--team", default=None, help="Only this team's conversations (its name).")
@click.option("--channel", "channel_id", type=int, default=None, help="Only this channel's (its id).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object with every figure.")
def report(since, until, team: str | None, channel_id: int | None, as_json: bool) -> None:
    """How the bot and the handoff performed from SINCE to UNTIL."""
    from datetime import UTC, datetime

    from gateway.reporting.figures import Range, build_report
    from gateway.store.teams import team_by_name

    until = until or datetime.now(UTC).date()
    if until < since:
        raise click.BadParameter("must be on or after --since", param_hint="'--until'")
    with database() as conn:
        conn.read_only = True
        team_id = None
        if team is not None:
            found = team_by_name(conn, team)
            if found is None:
                raise click.ClickException(f"no team {team!r}: see `handoff team list`")
            team_id = found["id"]
        figures = build_report(conn, Range(since, until, team_id, channel_id))
    if as_json:
        echo_json(figures)
        return
    click.echo(f"{figures['since']} to {figures['until']} (UTC)")
    for label, value in (
            ("conversations", figures["conversations"]), ("customer messages", figures["customer_messages"]),
            ("bot alone", _percent(figures["bot_resolution_rate"])),
            ("handed to people", f"{_percent(figures['handoff_rate'])} (target below 20 %)"),
            ("first reply after handoff", f"p50 {_seconds(figures['first_response_seconds_p50'])}, "
                                          f"p90 {_seconds(figures['first_response_seconds_p90'])}"),
            ("within 5 min in hours", _percent(figures["first_response_under_5_min_in_hours"])),
            ("missed chats", figures["missed_chats"]),
            ("tickets", f"{figures['tickets_opened']} opened, {figures['tickets_overdue']} past due, "
                        f"{figures['tickets_closed']} closed"),
            ("CSAT", f"{figures['csat_average'] or '-'} ({figures['csat_responses']} ratings)"),
            ("repeat escalations", figures["repeat_escalations"])):
        click.echo(f"  {label:<26} {value}")
    for rule, count in figures["handoffs_by_rule"].items():
        click.echo(f"  handoffs by {rule:<15} {count}")
    for group in figures["unanswered_groups"][:10]:
        click.echo(f"  unanswered x{group['count']:<4} {group['question'][:70]}")
