"""`handoff bench …`: the benchmarks. gateway/cli/__init__.py attaches this group with
`main.add_command(bench)`; `python -m bench.cli ingest` runs it without that."""

from __future__ import annotations

import json
from pathlib import Path

import click


def _levels(ctx, param, value: str) -> list[int]:
    try:
        levels = [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise click.BadParameter("a comma-separated list of client counts, like 4,50") from None
    if not levels or any(level < 1 for level in levels):
        raise click.BadParameter("a comma-separated list of client counts (each at least 1), like 4,50")
    return levels


@click.group(name="bench")
def bench() -> None:
    """Benchmarks (run by hand, not by pytest)."""


@bench.command("ingest")
@click.option("--clients", default="4,50", show_default=True, callback=_levels,
              help="Concurrency levels: comma-separated numbers of concurrent keep-alive clients.")
@click.option("--seconds", default=5.0, show_default=True, type=click.FloatRange(min=0.5),
              help="Length of the timed window of each measurement.")
@click.option("--warmup", default=2.0, show_default=True, type=click.FloatRange(min=0),
              help="Warm-up before each timed window (not counted).")
@click.option("--senders", default=8, show_default=True, type=click.IntRange(min=1, max=9999),
              help="Distinct WhatsApp senders (conversations are reused, as in real traffic).")
@click.option("--processes", type=click.IntRange(min=1), default=None,
              help="gunicorn processes (WEB_CONCURRENCY) for both apps  [default: $WEB_CONCURRENCY or 2]")
@click.option("--max-requests", type=click.IntRange(min=100), default=None,
              help="Pre-built requests per measurement (bounds it)  [default: 4000 per second of warm-up + window]")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON (progress still goes to stderr).")
@click.option("--check", is_flag=True, help="Exit with status 1 if a target is missed.")
def ingest(clients, seconds, warmup, senders, processes, max_requests, as_json, check) -> None:
    """Webhook ingest throughput and latency: Handoff against a store-and-enqueue floor.

    Runs gunicorn as the Procfile does for Handoff and for a minimal Flask app
    (one INSERT, one RQ enqueue) side by side, and drives both with signed
    Twilio WhatsApp webhooks from a separate load-generator process. Uses
    DATABASE_URL / REDIS_URL when set (in a dedicated handoff_bench database
    and Redis db 13, both wiped), embedded servers otherwise. No RQ worker
    runs: queued jobs are flushed at the end.
    """
    from bench.ingest import Options, print_report, run_ingest

    options = Options(clients=clients, seconds=seconds, warmup=warmup, senders=senders, processes=processes,
                      max_requests=max_requests)
    try:
        report = run_ingest(options)
    except KeyboardInterrupt:
        click.echo("interrupted: servers stopped, benchmark data removed", err=True)
        raise SystemExit(130)
    print_report(report, as_json)
    if check and not all(target["met"] for target in report["targets"]):
        raise SystemExit(1)


@bench.command("brain")
@click.option("--messages", default=400, show_default=True, type=click.IntRange(min=10),
              help="Messages stored and processed end to end, by process_inbound and by the floor job each.")
@click.option("--seconds", default=2.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Length of each in-process timed window (brain, triggers, responder, details).")
@click.option("--no-end-to-end", "skip_end_to_end", is_flag=True,
              help="Only the in-process measurements: no database, no Redis.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON (progress still goes to stderr).")
def brain(messages, seconds, skip_end_to_end, as_json) -> None:
    """The bot brain's throughput and latency per message, in one worker process.

    Replays a built-in corpus of customer messages (answerable questions about
    the sample knowledge base, off-topic ones, greetings, requests for a
    person, frustrated and urgent messages) as conversations of a few turns.
    In process, without a database: the triggers, the kb responder and the
    judge of its answer, together and each alone. End to end: the real
    process_inbound job on stored messages, against a floor job (the same
    locking read, one INSERT, mark processed). Uses DATABASE_URL / REDIS_URL
    when set (a dedicated handoff_bench_brain database and Redis db 12, both
    removed at the end), embedded servers otherwise.
    """
    from bench.brain import Options, print_report, run_brain

    try:
        report = run_brain(Options(messages=messages, seconds=seconds, end_to_end=not skip_end_to_end))
    except KeyboardInterrupt:
        click.echo("interrupted: benchmark database dropped, Redis db flushed", err=True)
        raise SystemExit(130)
    print_report(report, as_json)


@bench.command("handoff")
@click.option("--rate", default=4.0, show_default=True, type=click.FloatRange(min=0.5, max=500),
              help="Webhooks per second, sent at a fixed rate whatever the answers (open loop). Keep it below what "
                   "the workers sustain (about 5/s for 2 workers on 2 CPUs), or the report says SATURATED.")
@click.option("--seconds", default=40.0, show_default=True, type=click.FloatRange(min=1),
              help="Length of the measured load.")
@click.option("--warmup", default=3.0, show_default=True, type=click.FloatRange(min=0),
              help="Questions only before the measured load (not counted): customers start their conversations.")
@click.option("--escalations", default=0.2, show_default=True, type=click.FloatRange(min=0, max=1, min_open=True),
              help="Share of the measured messages that escalate (0.2: one in five), each from a customer whose "
                   "conversation is still with the bot; the others are questions the bot answers.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(min=1, max=32),
              help="`handoff worker` processes (RQ workers).")
@click.option("--processes", type=click.IntRange(min=1), default=None,
              help="gunicorn processes (WEB_CONCURRENCY)  [default: $WEB_CONCURRENCY or 2]")
@click.option("--turns", default=3, show_default=True, type=click.IntRange(min=1, max=20),
              help="Questions a customer asks at most before leaving (and a new customer arriving).")
@click.option("--deadline", default=15.0, show_default=True, type=click.FloatRange(min=1),
              help="Seconds a message may wait for its answer; later or never is a failure.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON (progress still goes to stderr).")
def handoff(rate, seconds, warmup, escalations, workers, processes, turns, deadline, as_json) -> None:
    """Escalation latency under a steady load: webhook -> inbox live event and -> the customer's queue message.

    Runs gunicorn and `handoff worker` processes as the Procfile does, with a
    WhatsApp channel whose Twilio API is a recording stand-in, the kb bot on
    the sample knowledge base, and teams with agents online that queue
    conversations. A load-generator process sends signed Twilio webhooks at a
    fixed rate from many customers: questions the bot answers (the baseline:
    webhook -> the bot's answer at the stand-in) and escalating messages.
    Reports p50/p99 of each, the ratios to the baseline, and every message
    without its answer by the deadline (exit status 1 if there is one). Uses
    DATABASE_URL / REDIS_URL when set (a dedicated handoff_bench_handoff
    database and Redis db 7, both removed at the end), embedded servers otherwise.
    """
    from bench.handoff import Options, print_report, run_handoff

    options = Options(rate=rate, seconds=seconds, warmup=warmup, escalations=escalations, workers=workers,
                      processes=processes, turns=turns, deadline=deadline)
    try:
        report = run_handoff(options)
    except KeyboardInterrupt:
        click.echo("interrupted: web and workers stopped, benchmark data removed", err=True)
        raise SystemExit(130)
    print_report(report, as_json)
    if report["failures"] or report["load_errors"]:
        raise SystemExit(1)


@bench.command("faults")
@click.option("--messages", default=10_000, show_default=True, type=click.IntRange(min=50),
              help="Messages of the re-delivery phase (each later phase sends a fifth as many).")
@click.option("--customers", default=500, show_default=True, type=click.IntRange(min=1),
              help="Distinct WhatsApp customers (each asks the questions in turn).")
@click.option("--redelivered", default=0.3, show_default=True, type=click.FloatRange(min=0, max=1),
              help="Share of the re-delivery phase's messages delivered two or three times, concurrently.")
@click.option("--kills", default=6, show_default=True, type=click.IntRange(min=0, max=100),
              help="Times a worker's whole process tree is SIGKILLed (and restarted) under load.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the embedded PostgreSQL and Valkey keep their data (kept afterwards) "
                   "[default: a temporary directory, removed]")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON (progress still goes to stderr).")
def faults(messages, customers, redelivered, kills, data_dir, as_json) -> None:
    """The fault suite at full size: re-deliveries, killed workers, Redis and
    PostgreSQL restarts, Twilio outages, ordering; what was lost or duplicated.

    Two gunicorn web servers and two `handoff worker` processes against an
    embedded PostgreSQL and Valkey of its own (never DATABASE_URL / REDIS_URL:
    it restarts them) and a Twilio stand-in. Exit status 1 if anything was
    lost, stored twice, left unanswered, sent out of order, or sent twice
    more often than there were kills.
    """
    from bench.faults import Options, format_report, run_faults

    try:
        figures = run_faults(Options(messages=messages, customers=customers, share=redelivered, kills=kills,
                                     data_dir=data_dir))
    except KeyboardInterrupt:
        click.echo("interrupted: web servers, workers and servers stopped", err=True)
        raise SystemExit(130)
    click.echo(json.dumps(figures, indent=2) if as_json else format_report(figures))
    if (figures["lost"] or figures["stored_twice"] or figures["unprocessed"] or figures["unsent"]
            or figures["out_of_order"] or figures["duplicate_sends"] > kills):
        raise SystemExit(1)


@bench.command("reports")
@click.option("--conversations", default=100_000, show_default=True, type=click.IntRange(min=100),
              help="Conversations in the large history.")
@click.option("--messages", default=1_000_000, show_default=True, type=click.IntRange(min=1000),
              help="Messages in the large history (spread evenly over the conversations).")
@click.option("--days", default=30, show_default=True, type=click.IntRange(min=7, max=365),
              help="Days the history spans (the report covers the last week, then all of them).")
@click.option("--repeats", default=5, show_default=True, type=click.IntRange(min=1), help="Timed runs of each report.")
@click.option("--explain", is_flag=True, help="Print EXPLAIN ANALYZE of every report query over the large history.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON (progress still goes to stderr).")
def reports(conversations, messages, days, repeats, explain, as_json) -> None:
    """The report (/reports, `handoff report`) over a large history against a small one (1 000 messages).

    Builds the histories with SQL in throwaway databases (DATABASE_URL when set:
    handoff_bench_reports_small and _large, dropped at the end; embedded
    PostgreSQL otherwise) and prints the median time of a week's report and of
    the whole history's, and the ratio large / small.
    """
    from bench.reports import Options, print_report, run_reports

    try:
        report = run_reports(Options(conversations=conversations, messages=messages, days=days, repeats=repeats,
                                     explain=explain))
    except KeyboardInterrupt:
        click.echo("interrupted: benchmark databases dropped", err=True)
        raise SystemExit(130)
    print_report(report, as_json)


if __name__ == "__main__":
    bench()
