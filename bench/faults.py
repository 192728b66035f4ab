"""`handoff bench faults`: the fault suite of issue 13 at full size, with figures.

A deployment in miniature, as the Procfile starts it: two gunicorn web
servers and two `handoff worker` processes, against PostgreSQL and Valkey of
its own (embedded, in a temporary directory: it stops and restarts them,
which the machine's shared servers must never be) and a Twilio stand-in in
this process that creates each message it is sent. Signed WhatsApp webhooks
from many customers go to both web servers at once; then, in turn:

- re-deliveries: every message delivered once, 30 % of them two or three
  times, some of those concurrently;
- worker kills: a worker's whole process tree SIGKILLed mid-jobs, then
  restarted, `--kills` times, under load;
- Redis restarted empty under load;
- PostgreSQL restarted under load: webhooks answer 503 while it is down
  (and the sender retries them), never a 200 for a message not stored;
- Twilio answering 500, 429 with Retry-After, and hanging, for a while;
- ordering: each customer's messages sent one after the other (alternating
  web servers), answered in the order they were written.

Then it waits until everything is answered and sent, and counts from the
database and the stand-in: messages acknowledged, stored, processed, sent;
what was lost (acknowledged, never stored or never answered) and what was
duplicated (two stored copies of one provider message, or two sends of one
reply). The goal is zero of both, except at most one duplicate send per
kill (a worker killed between Twilio's answer and its own commit).

The same counting (`tally`) backs tests/test_faults.py, which runs light
versions of these in `make test`.

Servers: embedded PostgreSQL and Valkey always (FAULTS_DATA_DIR or a
temporary directory), so it never collides with other benchmarks or runs.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import psycopg
import requests
from psycopg.rows import dict_row
from twilio.request_validator import RequestValidator

from bench.services import say

TWILIO_NUMBER = "whatsapp:+14155238886"
TWILIO_SID = "AC" + "f" * 32
TWILIO_TOKEN = "bench-faults-token"
PUBLIC_URL = "https://faults.example.com"
WEBHOOK = "/webhooks/twilio/whatsapp"
QUESTIONS = ("How long does shipping take?", "Can I return an item?", "Which payment methods do you take?",
             "Do you ship abroad?", "Where is my parcel?", "Can I change my address?")


# --- counting -----------------------------------------------------------------------------------


def tally(database_url: str, *, created_at_provider: int, acknowledged: set[str]) -> dict:
    """What happened to the messages, from the database: the figures of a run.

    `acknowledged`: the MessageSids some web server answered 200 (a sender
    retries anything else); `created_at_provider`: the messages the Twilio
    stand-in created (accepted sends, duplicates included).
    """
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        stored = {row["provider_message_id"] for row in conn.execute(
            "SELECT provider_message_id FROM messages WHERE direction = 'inbound'")}
        row = conn.execute(
            """
            SELECT count(*) FILTER (WHERE direction = 'inbound') AS inbound_rows,
                   count(*) FILTER (WHERE direction = 'inbound' AND processed_at IS NULL) AS unprocessed,
                   count(*) FILTER (WHERE direction = 'outbound' AND NOT private) AS outbound,
                   count(*) FILTER (WHERE direction = 'outbound' AND status IN ('pending', 'retrying', 'sending'))
                       AS unsent,
                   count(*) FILTER (WHERE direction = 'outbound' AND status = 'failed') AS failed,
                   count(*) FILTER (WHERE direction = 'outbound' AND provider_message_id IS NOT NULL) AS sent,
                   (SELECT count(*) FROM (SELECT reply_to_id FROM messages WHERE sender = 'bot'
                       AND reply_to_id IS NOT NULL GROUP BY reply_to_id HAVING count(*) > 1) twice)
                       AS inbound_answered_twice
              FROM messages
            """).fetchone()
    return {
        "acknowledged": len(acknowledged), "stored": len(stored),
        "lost": len(acknowledged - stored), "stored_twice": row["inbound_rows"] - len(stored),
        "unprocessed": row["unprocessed"], "inbound_answered_twice": row["inbound_answered_twice"],
        "replies": row["outbound"], "sent": row["sent"], "unsent": row["unsent"], "failed": row["failed"],
        "duplicate_sends": max(0, created_at_provider - row["sent"]),
    }


def backlog(database_url: str) -> int:
    """Messages left to process or to send."""
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT count(*) FROM messages WHERE (direction = 'inbound' AND processed_at IS NULL) "
            "OR status IN ('pending', 'retrying', 'sending')").fetchone()[0]


def settled(database_url: str) -> bool:
    """Nothing left to process or to send."""
    return backlog(database_url) == 0


# --- the traffic ----------------------------------------------------------------------------------


def customer(number: int) -> str:
    return f"whatsapp:+1555{number:07d}"


def inbound_form(sid: str, sender: str, text: str) -> dict:
    return {"SmsMessageSid": sid, "NumMedia": "0", "ProfileName": "Bench Customer", "MessageType": "text",
            "SmsSid": sid, "WaId": sender.removeprefix("whatsapp:+"), "SmsStatus": "received", "Body": text,
            "To": TWILIO_NUMBER, "NumSegments": "1", "MessageSid": sid, "AccountSid": TWILIO_SID,
            "From": sender, "ApiVersion": "2010-04-01"}


@dataclass
class Sender:
    """Posts signed Twilio webhooks to some web servers, as Twilio would:
    anything but a 200 is sent again (after a pause), until `give_up_after`."""

    base_urls: list[str]
    give_up_after: float = 120.0
    public_url: str = PUBLIC_URL  # what the web servers' PUBLIC_URL is: Twilio signs it
    acknowledged: set[str] = field(default_factory=set)
    refused: dict[int, int] = field(default_factory=dict)  # status -> answers (503 while PostgreSQL is down)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self):
        self.validator = RequestValidator(TWILIO_TOKEN)
        self.local = threading.local()

    def deliver(self, form: dict, server: int = 0) -> None:
        signature = self.validator.compute_signature(self.public_url + WEBHOOK, form)
        session = getattr(self.local, "session", None) or requests.Session()
        self.local.session = session
        deadline = time.monotonic() + self.give_up_after
        while True:
            url = self.base_urls[server % len(self.base_urls)] + WEBHOOK
            try:
                status = session.post(url, data=form, headers={"X-Twilio-Signature": signature}, timeout=20).status_code
            except requests.RequestException:
                status = 0
            if status == 200:
                with self.lock:
                    self.acknowledged.add(form["MessageSid"])
                return
            with self.lock:
                self.refused[status] = self.refused.get(status, 0) + 1
            if time.monotonic() > deadline:
                return
            server += 1  # Twilio retries; another web server may take it
            time.sleep(0.2)


def redelivery_plan(messages: int, customers: int, *, share: float, seed: int, tag: str) -> list[list[dict]]:
    """Each message as a list of its deliveries: once, or (`share` of them)
    two or three times; each customer asks the questions in turn."""
    rng = random.Random(seed)
    plan = []
    for index in range(messages):
        number = index % customers
        form = inbound_form(f"SM{tag}{index:0{32 - len(tag)}x}", customer(number),
                            QUESTIONS[(index // customers) % len(QUESTIONS)])
        copies = rng.choice((2, 3)) if rng.random() < share else 1
        plan.append([form] * copies)
    return plan


def deliver_all(sender: Sender, plan: list[list[dict]], *, threads: int = 8) -> None:
    """Every delivery of the plan; the copies of a re-delivered message go
    out together from different threads (concurrently), to both servers."""
    with ThreadPoolExecutor(threads) as pool:
        for copies in plan:
            for server, form in enumerate(copies):
                pool.submit(sender.deliver, form, server)


# --- the Twilio stand-in -----------------------------------------------------------------------


class TwilioStandIn:
    """Creates every message it is sent (201), or answers as told for a while:
    `outage(status, seconds, retry_after)`, or hangs (status 0)."""

    def __init__(self):
        self.created: list[dict] = []
        self.lock = threading.Lock()
        self.failing_until, self.failure = 0.0, (0, None)
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode()
                                                     ).items()}
                status, retry_after = stand_in.failure if time.monotonic() < stand_in.failing_until else (201, None)
                if status == 0:
                    time.sleep(30)  # hangs: the client's timeout ends it
                    return
                with stand_in.lock:
                    if status == 201:
                        stand_in.created.append(form)
                    number = len(stand_in.created)
                body = (f'{{"sid": "SM{number:032x}", "status": "queued"}}' if status == 201 else
                        f'{{"code": 20500, "message": "bench outage", "status": {status}}}').encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                if retry_after:
                    self.send_header("Retry-After", str(retry_after))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def outage(self, status: int, seconds: float, retry_after: int | None = None) -> None:
        self.failure, self.failing_until = (status, retry_after), time.monotonic() + seconds

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# --- the run ------------------------------------------------------------------------------------


@dataclass
class Options:
    messages: int = 10_000
    customers: int = 500
    share: float = 0.3
    kills: int = 6
    data_dir: Path | None = None


def seed(database_url: str) -> None:
    """The WhatsApp channel the sender signs for, and the sample knowledge
    base (the kb bot answers the QUESTIONS)."""
    from gateway.bot.articles import save_articles
    from gateway.local.demo import sample_articles
    from gateway.store.channels import create_channel

    with psycopg.connect(database_url, row_factory=dict_row, autocommit=True) as conn:
        create_channel(conn, kind="whatsapp", name="Bench", address=TWILIO_NUMBER,
                       credentials={"account_sid": TWILIO_SID, "auth_token": TWILIO_TOKEN})
        save_articles(conn, sample_articles())


def wait_until_settled(database_url: str, *, stalled_after: float = 180) -> float:
    """Until nothing is left to do, or the backlog stopped shrinking for
    `stalled_after` seconds (a send waiting for its lease takes 2 minutes)."""
    started = last_progress = time.monotonic()
    smallest = backlog(database_url)
    while smallest and time.monotonic() - last_progress < stalled_after:
        time.sleep(1)
        left = backlog(database_url)
        if left < smallest:
            smallest, last_progress = left, time.monotonic()
    return time.monotonic() - started


def run_faults(options: Options) -> dict:
    from bench.handoff import RqWorkers
    from bench.ingest import Gunicorn
    from gateway.local import embedded
    from gateway.migrate import apply_migrations

    workdir = Path(options.data_dir or tempfile.mkdtemp(prefix="handoff-faults-"))
    postgres = embedded.start_postgres(workdir / "postgres" / "data")
    valkey = embedded.start_redis(workdir / "valkey", persist=False)
    twilio = TwilioStandIn()
    web, workers = [], None
    figures: dict = {"phases": {}}
    try:
        database_url = postgres.ensure_database("handoff_faults")
        apply_migrations(database_url)
        seed(database_url)
        env = {"DATABASE_URL": database_url, "REDIS_URL": valkey.url, "PUBLIC_URL": PUBLIC_URL,
               "SECRET_KEY": "bench-faults-secret", "TWILIO_API_BASE_URL": twilio.url, "PROVIDER_TIMEOUT": "2",
               "OUTBOUND_RETRY_DELAYS": "1,2,5,10,20", "SWEEP_AFTER_SECONDS": "5", "WEB_CONCURRENCY": "2"}
        env = {**os.environ, **env}
        for name in ("web-1", "web-2"):
            web.append(Gunicorn(name, "gateway.app:create_app()", env, workdir / f"{name}.log").start())
        for server in web:
            server.wait_ready(2)
        workers = RqWorkers(2, env, workdir).start()
        workers.wait_ready(valkey.url)
        sender = Sender([f"http://127.0.0.1:{server.port}" for server in web])

        def phase(name: str, action, plan):
            say(f"  {name}: {sum(len(copies) for copies in plan)} deliveries of {len(plan)} messages…")
            started = time.monotonic()
            load = threading.Thread(target=deliver_all, args=(sender, plan))
            load.start()
            action()
            load.join()
            figures["phases"][name] = {"messages": len(plan), "deliveries": sum(len(c) for c in plan),
                                       "seconds": round(time.monotonic() - started, 1)}

        per_phase = max(50, options.messages // 5)
        phase("re-deliveries", lambda: None,
              redelivery_plan(options.messages, options.customers, share=options.share, seed=1, tag="a"))

        def kill_workers():
            for _ in range(options.kills):
                time.sleep(2)
                victim = workers.processes[0]
                os.killpg(victim.pid, signal.SIGKILL)
                victim.wait()
                workers.processes[0] = RqWorkers(1, env, workdir).start().processes[0]
        phase("worker kills", kill_workers, redelivery_plan(per_phase, options.customers, share=0, seed=2, tag="b"))

        def restart_redis():
            time.sleep(2)
            valkey.pause()
            time.sleep(3)
            valkey.resume()
        phase("Redis restarted empty", restart_redis,
              redelivery_plan(per_phase, options.customers, share=0, seed=3, tag="c"))

        def restart_postgres():
            time.sleep(2)
            postgres.pause()
            time.sleep(5)
            postgres.resume()
        phase("PostgreSQL restarted", restart_postgres,
              redelivery_plan(per_phase, options.customers, share=0, seed=4, tag="d"))

        def outages():
            for status, retry_after in ((500, None), (429, 3), (0, None)):
                twilio.outage(status, 5, retry_after)
                time.sleep(6)
        phase("Twilio outages (500, 429, hanging)", outages,
              redelivery_plan(per_phase, options.customers, share=0, seed=5, tag="e"))

        figures["settle_seconds"] = round(wait_until_settled(database_url), 1)
        figures["refused_deliveries"] = dict(sender.refused)
        figures.update(tally(database_url, created_at_provider=len(twilio.created), acknowledged=sender.acknowledged))
        figures["kills"] = options.kills
        figures["out_of_order"] = out_of_order(database_url, twilio.created)
        return figures
    finally:
        if workers is not None:
            workers.stop()
        for server in web:
            server.stop()
        twilio.stop()
        valkey.stop()
        postgres.stop()
        if options.data_dir is None:
            shutil.rmtree(workdir, ignore_errors=True)


def out_of_order(database_url: str, created: list[dict]) -> int:
    """Customers whose answers reached Twilio in another order than their messages were stored."""
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        rows = conn.execute(
            """
            SELECT i.address, m.text FROM messages m
              JOIN conversations c ON c.id = m.conversation_id JOIN contact_identities i ON i.id = c.identity_id
             WHERE m.sender = 'bot' AND m.provider_message_id IS NOT NULL ORDER BY m.reply_to_id
            """).fetchall()
    expected: dict[str, list[str]] = {}
    for row in rows:
        expected.setdefault(row["address"], []).append(row["text"])
    arrived: dict[str, list[str]] = {}
    for form in created:
        arrived.setdefault(form.get("To", ""), []).append(form.get("Body", ""))

    def firsts(texts: list[str], answers: set[str]) -> list[str]:
        # The bot's answers only (not "I'm connecting you…"), each at its first
        # arrival: a send repeated after a kill is a duplicate, not disorder.
        return list(dict.fromkeys(text for text in texts if text in answers))

    return sum(1 for address, texts in expected.items()
               if firsts(arrived.get(address, []), set(texts)) != firsts(texts, set(texts)))


def format_report(figures: dict) -> str:
    lines = ["Fault suite (2 gunicorn web servers, 2 `handoff worker` processes):"]
    for name, phase in figures["phases"].items():
        lines.append(f"  {name:<36} {phase['messages']:>6} messages, {phase['deliveries']:>6} deliveries, "
                     f"{phase['seconds']:>6} s")
    lines += [
        f"  worker kills (SIGKILL of the process tree): {figures['kills']}",
        f"  deliveries refused and resent: {figures['refused_deliveries'] or 'none'}",
        f"  settled {figures['settle_seconds']} s after the load",
        f"  acknowledged {figures['acknowledged']}, stored {figures['stored']}, lost {figures['lost']}, "
        f"stored twice {figures['stored_twice']}, unprocessed {figures['unprocessed']}",
        f"  replies {figures['replies']}, sent {figures['sent']}, unsent {figures['unsent']}, "
        f"failed {figures['failed']}, duplicate sends {figures['duplicate_sends']}, "
        f"answered twice {figures['inbound_answered_twice']}, customers answered out of order "
        f"{figures['out_of_order']}",
    ]
    return "\n".join(lines)
