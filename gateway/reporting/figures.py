"""The report over a date range: one dict with every figure (the page renders
it, `handoff report --json` prints it, the API returns it, CSV exports it).

Definitions (the README repeats them):
- conversations: created in the range (UTC days, `until` included);
  customer_messages: sent in the range.
- bot_resolution_rate: the share of those conversations that ended with the
  bot alone: never escalated, no agent reply.
- handoff_rate: the share of those conversations escalated to people at
  least once (target: below 20 %); handoffs_by_rule: the escalations that
  happened in the range, by the rule the audit trail recorded (a
  conversation escalated twice counts twice there, once in the rate).
- first_response_seconds_p50/p90: from each escalation to the first public
  agent reply after it (not from the conversation's start), over the
  escalations answered; first_response_under_5_min_in_hours: of the
  escalations made while their team was open, the share answered within
  5 minutes (unanswered ones count as not).
- resolution_seconds_p50/p90: from the conversation's start, or its last
  reopening, to each resolution in the range.
- csat_*: ratings (conversations.csat) of the conversations created in the
  range; response rate over those resolved; post-handoff: of the escalated ones.
- repeat_escalations: escalations in the range of a contact escalated
  already in the 7 days before (the root cause was not solved).
- unanswered_groups: the learning loop (gateway/reporting/gaps.py).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from gateway.bot.settings import load_bot_settings
from gateway.handoff.hours import BusinessHours
from gateway.reporting.gaps import group_questions
from gateway.store import channels, reports, teams
from gateway.store.reports import Scope

HANDOFF_TARGET = 0.20
FAST_REPLY_SECONDS = 300
DEFAULT_DAYS = 7


@dataclass(frozen=True)
class Range:
    since: date
    until: date                   # included
    team_id: int | None = None
    channel_id: int | None = None

    @classmethod
    def last_days(cls, days: int = DEFAULT_DAYS, today: date | None = None, **filters) -> "Range":
        today = today or datetime.now(UTC).date()
        return cls(today - timedelta(days=days - 1), today, **filters)

    def scope(self) -> Scope:
        start = datetime.combine(self.since, time(), tzinfo=UTC)
        end = datetime.combine(self.until + timedelta(days=1), time(), tzinfo=UTC)
        return Scope(start, end, self.team_id, self.channel_id)

    def days(self) -> list[date]:
        return [self.since + timedelta(days=offset) for offset in range((self.until - self.since).days + 1)]


def share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def percentile(values: list[float], fraction: float) -> float | None:
    """Linear interpolation between the closest ranks (PostgreSQL's percentile_cont)."""
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 1)
    return round(statistics.quantiles(values, n=100, method="inclusive")[round(fraction * 100) - 1], 1)


def _rounded(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def _mean(total: int, count: int) -> float | None:
    return round(total / count, 2) if count else None


COUNTS = ("conversations", "escalated", "bot_only", "resolved", "csat_1", "csat_2", "csat_3", "csat_4", "csat_5",
          "csat_post_handoff_responses", "csat_post_handoff_sum")


def _sums(buckets: list[dict]) -> dict:
    """The counts of conversation_buckets rows added up, with the ratings' count and sum."""
    sums = {name: sum(bucket[name] for bucket in buckets) for name in COUNTS}
    sums["csat_responses"] = sum(sums[f"csat_{stars}"] for stars in range(1, 6))
    sums["csat_sum"] = sum(stars * sums[f"csat_{stars}"] for stars in range(1, 6))
    return sums


def build_report(conn, window: Range, now: datetime | None = None) -> dict:
    now = now or datetime.now(UTC)
    scope = window.scope()
    buckets = reports.conversation_buckets(conn, scope)
    totals = _sums(buckets)
    channel_names = {row.id: (row.name, row.kind) for row in channels.list_channels(conn)}
    team_rows = {team["id"]: team for team in teams.list_teams(conn)}

    by_channel = {channel_id: dict(_sums([row for row in buckets if row["channel_id"] == channel_id]), messages=0)
                  for channel_id in {row["channel_id"] for row in buckets}}
    for row in reports.customer_messages_by_channel(conn, scope):
        by_channel.setdefault(row["channel_id"], dict(_sums([]), messages=0))["messages"] = row["messages"]
    channel_rows = [{"channel_id": channel_id, "channel": channel_names.get(channel_id, ("deleted", ""))[0],
                     "kind": channel_names.get(channel_id, ("", "?"))[1], "conversations": row["conversations"],
                     "customer_messages": row["messages"], "handoff_rate": share(row["escalated"], row["conversations"])}
                    for channel_id, row in sorted(by_channel.items())]

    escalations = reports.escalations(conn, scope)
    by_rule: dict[str, int] = {}
    waits, fast_in_hours, in_hours = [], 0, 0
    per_agent_waits: dict[int, list[float]] = {}
    hours = {team_id: BusinessHours.from_doc(team["hours"]) for team_id, team in team_rows.items()}
    always = BusinessHours.from_doc({})
    for escalation in escalations:
        by_rule[escalation["rule"] or "unknown"] = by_rule.get(escalation["rule"] or "unknown", 0) + 1
        wait = ((escalation["replied_at"] - escalation["escalated_at"]).total_seconds()
                if escalation["replied_at"] else None)
        if wait is not None:
            waits.append(wait)
            per_agent_waits.setdefault(escalation["replied_by"], []).append(wait)
        team_hours = hours.get(escalation["team_id"], always)
        if team_hours.always_open or team_hours.is_open(escalation["escalated_at"]):
            in_hours += 1
            fast_in_hours += wait is not None and wait <= FAST_REPLY_SECONDS
    resolutions = reports.resolutions(conn, scope)
    tickets = reports.ticket_totals(conn, scope, now)
    settings = load_bot_settings(conn)
    questions = reports.unanswered_questions(conn, scope, threshold=settings["confidence_threshold"])

    day_rows: dict[date, dict] = {}
    heat = [[0] * 24 for _ in range(7)]
    for bucket in buckets:
        day = day_rows.setdefault(bucket["hour"].date(), {"conversations": 0, "escalated": 0})
        day["conversations"] += bucket["conversations"]
        day["escalated"] += bucket["escalated"]
        heat[bucket["hour"].weekday()][bucket["hour"].hour] += bucket["conversations"]
    trend = [{"day": day.isoformat(), "conversations": day_rows[day]["conversations"] if day in day_rows else 0,
              "handoff_rate": share(day_rows[day]["escalated"], day_rows[day]["conversations"])
              if day in day_rows else None} for day in window.days()]

    conversations = totals["conversations"]
    return {
        "since": window.since.isoformat(), "until": window.until.isoformat(), "timezone": "UTC",
        "team_id": window.team_id, "channel_id": window.channel_id,
        "conversations": conversations,
        "customer_messages": sum(row["customer_messages"] for row in channel_rows),
        "by_channel": channel_rows,
        "bot_resolution_rate": share(totals["bot_only"], conversations),
        "handoff_rate": share(totals["escalated"], conversations),
        "handoff_rate_target": HANDOFF_TARGET,
        "handoffs": len(escalations),
        "handoffs_by_rule": dict(sorted(by_rule.items(), key=lambda item: (-item[1], item[0]))),
        "handoff_trend": trend,
        "heatmap": heat,
        "first_response_seconds_p50": percentile(waits, 0.5),
        "first_response_seconds_p90": percentile(waits, 0.9),
        "handoffs_answered": len(waits),
        "first_response_under_5_min_in_hours": share(fast_in_hours, in_hours),
        "resolutions": resolutions["resolutions"],
        "resolution_seconds_p50": _rounded(resolutions["p50"]),
        "resolution_seconds_p90": _rounded(resolutions["p90"]),
        "missed_chats": reports.missed_chats(conn, scope),
        "tickets_opened": tickets["opened"], "tickets_overdue": tickets["overdue"], "tickets_closed": tickets["closed"],
        "csat_average": _mean(totals["csat_sum"], totals["csat_responses"]),
        "csat_responses": totals["csat_responses"],
        "csat_response_rate": share(totals["csat_responses"], totals["resolved"]),
        "csat_distribution": {str(stars): totals[f"csat_{stars}"] for stars in range(1, 6)},
        "csat_post_handoff": _mean(totals["csat_post_handoff_sum"], totals["csat_post_handoff_responses"]),
        "csat_post_handoff_responses": totals["csat_post_handoff_responses"],
        "repeat_escalations": sum(1 for escalation in escalations if escalation["repeat"]),
        "agents": [dict(row, first_response_seconds_p50=percentile(per_agent_waits.get(row["id"], []), 0.5))
                   for row in reports.agent_activity(conn, scope)],
        "unanswered_questions": len(questions),
        "unanswered_groups": group_questions(questions),
        "articles_before_escalation": reports.articles_before_escalations(conn, scope),
    }


# --- CSV ---------------------------------------------------------------------------------------------

SCALARS = ("conversations", "customer_messages", "bot_resolution_rate", "handoff_rate", "handoffs",
           "first_response_seconds_p50", "first_response_seconds_p90", "handoffs_answered",
           "first_response_under_5_min_in_hours", "resolutions", "resolution_seconds_p50", "resolution_seconds_p90",
           "missed_chats", "tickets_opened", "tickets_overdue", "tickets_closed", "csat_average", "csat_responses",
           "csat_response_rate", "csat_post_handoff", "repeat_escalations", "unanswered_questions")


def figure_rows(report: dict) -> list[tuple]:
    """(section, name, value) rows of every figure, for the CSV export."""
    rows = [("summary", name, report[name]) for name in SCALARS]
    rows += [("handoffs_by_rule", rule, count) for rule, count in report["handoffs_by_rule"].items()]
    rows += [("csat_distribution", stars, count) for stars, count in report["csat_distribution"].items()]
    for row in report["by_channel"]:
        rows += [(f"channel {row['channel']}", key, row[key])
                 for key in ("conversations", "customer_messages", "handoff_rate")]
    rows += [("handoff_trend", day["day"], day["handoff_rate"]) for day in report["handoff_trend"]]
    for agent in report["agents"]:
        rows += [(f"agent {agent['name']}", key, agent[key])
                 for key in ("replies", "conversations", "resolved", "first_response_seconds_p50")]
    rows += [("unanswered", group["question"], group["count"]) for group in report["unanswered_groups"]]
    return rows
