"""`handoff bench reports`: the report's time over a large history, against a small one.

Builds, with SQL alone (generate_series), a history of N conversations and M
messages spread over DAYS days (a customer message and the bot's answer in
turn, a fifth of the conversations escalated with their audit events and the
agents' replies, some tickets, missed chats and ratings), VACUUM ANALYZEs it,
and times gateway.reporting.figures.build_report (what /reports, the API and
`handoff report` run) over the last week and over the whole history. The
same on a history of 1 000 messages gives the ratio. --explain prints the
plans of the report's queries. Uses DATABASE_URL / REDIS_URL when set (a
throwaway database, HANDOFF_BENCH_REPORTS_DATABASE, default
handoff_bench_reports), an embedded PostgreSQL otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import psycopg
from psycopg.rows import dict_row

from bench.services import backing_services, say

BENCH_DATABASE = "handoff_bench_reports"
BENCH_REDIS_DB = 3
RULES = ("human_request", "low_confidence", "urgent_topic", "frustration", "trigger_phrase")


@dataclass(frozen=True)
class Options:
    conversations: int = 100_000
    messages: int = 1_000_000
    days: int = 30
    repeats: int = 5
    explain: bool = False


def fill(conn, conversations: int, messages: int, days: int) -> None:
    """The history, in a few statements (each conversation gets messages // conversations messages)."""
    per = max(2, messages // conversations)
    conn.execute("""
        INSERT INTO channels (kind, name, address) VALUES
            ('whatsapp', 'WhatsApp', 'whatsapp:+14155238886'), ('messenger', 'Page', '1234'), ('web', 'Site', 'wk_x');
        INSERT INTO teams (name) VALUES ('General'), ('Billing'), ('Technical');
        INSERT INTO agents (email, name, password_hash)
            SELECT 'agent' || n || '@example.com', 'Agent ' || n, 'x' FROM generate_series(1, 8) n;
    """)
    # A contact writes about twice over the period: repeat escalations happen.
    contacts = max(1, conversations // 2)
    conn.execute("INSERT INTO contacts (name) SELECT 'Customer ' || n FROM generate_series(1, %(n)s) n",
                 {"n": contacts})
    conn.execute("""
        INSERT INTO contact_identities (contact_id, channel_id, address)
        SELECT n, 1 + n %% 3, 'address-' || n FROM generate_series(1, %(n)s) n
    """, {"n": contacts})
    # Conversation i: created at a pseudo-random moment of the period; every fifth escalated.
    conn.execute("""
        INSERT INTO conversations (id, channel_id, contact_id, identity_id, status, team_id, created_at,
                                   escalated_at, first_agent_reply_at, resolved_at, csat, escalation_reason)
        OVERRIDING SYSTEM VALUE
        SELECT i, 1 + (i %% %(contacts)s) %% 3, 1 + i %% %(contacts)s, 1 + i %% %(contacts)s, 'resolved',
               1 + i %% 3, created,
               CASE WHEN i %% 5 = 0 THEN created + interval '2 minutes' END,
               CASE WHEN i %% 5 = 0 AND i %% 4 <> 0 THEN created + interval '2 minutes' + (i %% 600) * interval '1 second' END,
               created + interval '1 hour',
               CASE WHEN i %% 3 = 0 THEN 1 + i %% 5 END,
               CASE WHEN i %% 5 = 0 THEN (%(rules)s::text[])[1 + i %% 5] END
          FROM (SELECT i, now() - (%(days)s * interval '1 day') * ((i * 7919) %% 100003) / 100003.0 AS created
                  FROM generate_series(1, %(n)s) i) c
    """, {"n": conversations, "contacts": contacts, "days": days, "rules": list(RULES)})
    say(f"    {conversations:,} conversations")
    # Messages: customer, bot, customer, bot... 30 s apart; the bot's answer replies to the message before.
    conn.execute("""
        INSERT INTO messages (id, conversation_id, channel_id, direction, sender, text, status, bot_confidence,
                              reply_to_id, processed_at, created_at, metadata)
        OVERRIDING SYSTEM VALUE
        SELECT (c.id - 1) * %(per)s + k, c.id, c.channel_id,
               CASE WHEN k %% 2 = 1 THEN 'inbound' ELSE 'outbound' END,
               CASE WHEN k %% 2 = 1 THEN 'customer' ELSE 'bot' END,
               CASE WHEN k %% 2 = 1 THEN 'question ' || (c.id %% 50) || ' about order ' || k ELSE 'an answer' END,
               CASE WHEN k %% 2 = 1 THEN 'received' ELSE 'delivered' END,
               CASE WHEN k %% 2 = 0 THEN ((c.id * k) %% 100) / 100.0 END,
               CASE WHEN k %% 2 = 0 THEN (c.id - 1) * %(per)s + k - 1 END,
               c.created_at, c.created_at + k * interval '30 seconds',
               CASE WHEN k %% 2 = 0 THEN '{"sources": ["Shipping"]}'::jsonb ELSE '{}'::jsonb END
          FROM conversations c CROSS JOIN generate_series(1, %(per)s) k
    """, {"per": per})
    say(f"    {conversations * per:,} messages")
    conn.execute("SELECT setval(pg_get_serial_sequence('messages', 'id'), (SELECT max(id) FROM messages))")
    conn.execute("""
        INSERT INTO messages (conversation_id, channel_id, direction, sender, agent_id, text, status, created_at)
        SELECT id, channel_id, 'outbound', 'agent', 1 + id %% 8, 'a person answers', 'delivered', first_agent_reply_at
        FROM conversations WHERE first_agent_reply_at IS NOT NULL
    """, {"per": per})
    conn.execute("""
        INSERT INTO events (kind, conversation_id, message_id, detail, created_at)
        SELECT 'conversation.escalated', id, (id - 1) * %(per)s + 3,
        jsonb_build_object('rule', escalation_reason, 'score', 1.0), escalated_at
        FROM conversations WHERE escalated_at IS NOT NULL
    """, {"per": per})
    conn.execute("""
        INSERT INTO events (kind, conversation_id, agent_id, created_at)
        SELECT 'conversation.resolved', id, 1 + id %% 8, resolved_at FROM conversations
    """, {"per": per})
    conn.execute("""
        INSERT INTO events (kind, conversation_id, created_at)
        SELECT 'conversation.missed', id, escalated_at + interval '3 minutes'
        FROM conversations WHERE escalated_at IS NOT NULL AND first_agent_reply_at IS NULL
    """, {"per": per})
    conn.execute("""
        INSERT INTO tickets (conversation_id, contact_id, team_id, subject, status, created_at, due_at, closed_at)
        SELECT id, contact_id, team_id, 'help', 'closed', escalated_at, escalated_at + interval '8 hours',
        escalated_at + interval '1 day'
        FROM conversations WHERE escalated_at IS NOT NULL AND id %% 2 = 0
    """, {"per": per})
    conn.execute("SELECT setval(pg_get_serial_sequence('conversations', 'id'), (SELECT max(id) FROM conversations))")
    say("    events, agent replies, tickets; VACUUM ANALYZE…")
    conn.execute("VACUUM ANALYZE")


def time_report(database_url: str, repeats: int, days: int) -> dict:
    """Median seconds of build_report over the last week and over the whole history."""
    from gateway.reporting.figures import Range, build_report

    today = datetime.now(UTC).date()
    ranges = {"week": Range(today - timedelta(days=6), today), "all": Range(today - timedelta(days=days), today)}
    timings = {}
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        for name, window in ranges.items():
            build_report(conn, window)  # warm the cache: the figure is the steady state
            samples = []
            for _ in range(repeats):
                started = time.perf_counter()
                figures = build_report(conn, window)
                samples.append(time.perf_counter() - started)
            timings[name] = {"seconds": round(statistics.median(samples), 4), "conversations": figures["conversations"],
                             "customer_messages": figures["customer_messages"], "handoffs": figures["handoffs"]}
    return timings


def explain(database_url: str) -> list[tuple[str, str]]:
    """EXPLAIN ANALYZE of every report query over the last week."""
    from gateway.reporting.figures import Range
    from gateway.store import reports

    today = datetime.now(UTC).date()
    scope = Range(today - timedelta(days=6), today).scope()
    plans = []
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        original = conn.execute

        def explaining(query, params=None, **kwargs):
            if isinstance(query, str) and query.lstrip().upper().startswith(("SELECT", "WITH")):
                rows = original("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + query, params).fetchall()
                plans.append((name, "\n".join(row["QUERY PLAN"] for row in rows)))
            return original(query, params, **kwargs)

        conn.execute = explaining
        for name, run in (("conversation_buckets", lambda: reports.conversation_buckets(conn, scope)),
                          ("customer_messages_by_channel", lambda: reports.customer_messages_by_channel(conn, scope)),
                          ("agent_activity", lambda: reports.agent_activity(conn, scope)),
                          ("escalations", lambda: reports.escalations(conn, scope)),
                          ("resolutions", lambda: reports.resolutions(conn, scope)),
                          ("unanswered_questions", lambda: reports.unanswered_questions(conn, scope, threshold=0.5)),
                          ("articles_before_escalations", lambda: reports.articles_before_escalations(conn, scope))):
            run()
    return plans


def run_reports(options: Options) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="handoff-bench-reports-"))
    results = {}
    try:
        for label, conversations, messages in (("small", 100, 1_000),
                                               ("large", options.conversations, options.messages)):
            say(f"{label}: {conversations:,} conversations, {messages:,} messages")
            database = (os.environ.get("HANDOFF_BENCH_REPORTS_DATABASE") or BENCH_DATABASE) + f"_{label}"
            with backing_services(workdir, database_name=database,
                                  redis_db=int(os.environ.get("HANDOFF_BENCH_REPORTS_REDIS_DB") or BENCH_REDIS_DB),
                                  prepare=lambda conn: fill(conn, conversations, messages, options.days)) as backing:
                results[label] = time_report(backing.database_url, options.repeats, options.days)
                if options.explain and label == "large":
                    results["plans"] = explain(backing.database_url)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return {"benchmark": "reports", "settings": {"conversations": options.conversations,
                                                 "messages": options.messages, "days": options.days,
                                                 "repeats": options.repeats, "cpus": os.cpu_count()},
            **results,
            "ratio": {name: round(results["large"][name]["seconds"] / results["small"][name]["seconds"], 1)
                      for name in ("week", "all")}}


def print_report(report: dict, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({key: value for key, value in report.items() if key != "plans"}, indent=2))
        return
    for plan_name, plan in report.get("plans", []):
        click.echo(f"--- {plan_name}\n{plan}\n")
    click.echo("range   history                                 report    ratio")
    for name in ("week", "all"):
        for label in ("small", "large"):
            row = report[label][name]
            click.echo(f"{name:<7} {label:<5} {row['conversations']:>7,} conversations {row['customer_messages']:>8,} "
                       f"customer messages  {row['seconds'] * 1000:7.1f} ms"
                       + (f"   {report['ratio'][name]}x" if label == "large" else ""))
