"""`handoff bench handoff`: how fast an escalation reaches the inbox and the customer, under steady load.

A deployment in miniature, started as the Procfile says: the web app under
gunicorn (`gunicorn --config python:gateway.gunicorn_conf "gateway.app:create_app()"`)
and `handoff worker` processes (RQ workers with the scheduler), against a
fresh database holding one WhatsApp channel, the sample knowledge base (the
kb bot answers) and three teams (Billing, Technical, General) that do not
auto-assign, each with agents online: an escalation waits in its team's
queue and the customer is told their place in line ("I'm connecting you with
our Billing team. You're #4 in line — about 12 minutes.").

Twilio's REST API is a stand-in in this process (TWILIO_API_BASE_URL) that
answers every Messages.json create at once and notes when it arrived. A
thread here subscribes to the inbox live channel (gateway.live, Redis
pub/sub, as the inbox's SSE stream does) and notes when each conversation's
"conversation.escalated" event arrived.

A load generator (this module run as `python -m bench.handoff`, its own
process) sends signed Twilio webhooks at a fixed rate, open loop, from many
customers: questions the bot answers (each customer asks a few, some seconds
apart), and a share of escalating messages (a person asked for, an urgent
topic) from customers whose conversation is still with the bot, each
escalating once. The plan is checked first against the real trigger engine
and kb responder in this process, so that every message does what it is
meant to do. Per message, t0 is taken just before its POST; measured:

- escalation -> inbox event: the live event's arrival at the subscriber;
- escalation -> queue message: the stand-in's arrival of "I'm connecting you…";
- the baseline, in the same run: ordinary message -> the bot's answer at the stand-in.

Both paths run webhook -> process_inbound (RQ) -> send_message (RQ) ->
Twilio, so their ratio is what escalating costs over answering. A message
with nothing by its deadline is a failure, reported with what happened.
Timestamps are CLOCK_MONOTONIC (time.monotonic_ns), one clock for every
process on the machine.

Servers: DATABASE_URL / REDIS_URL when set, but a dedicated database
(handoff_bench_handoff, created fresh) and Redis db (7); otherwise embedded
PostgreSQL and Valkey in a temporary directory. Everything it starts is
stopped and its data removed at the end, Ctrl-C included.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, deque
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from fractions import Fraction
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

from redis import Redis
from rq import Queue
from twilio.request_validator import RequestValidator

from bench import load
from bench.ingest import HANDOFF_APP, Gunicorn, machine_busy, seed_channel
from bench.services import backing_services, interrupt, load_average, number, say
from gateway.queues import QUEUES

# Overridable (HANDOFF_BENCH_HANDOFF_DATABASE, HANDOFF_BENCH_HANDOFF_REDIS_DB): never the
# test suite's (handoff_test, db 15) nor the other benchmarks' (13, 12).
BENCH_DATABASE = "handoff_bench_handoff"
BENCH_REDIS_DB = 7
PUBLIC_URL = "https://handoff-bench.example.com"
QUEUE_NOTICE = "I'm connecting you"
TEAMS = ("Billing", "Technical", "General")  # where the default routing sends escalations
AGENTS_PER_TEAM = 2
# Agents stay online for the whole run without an inbox sending heartbeats.
PRESENCE_TTL_SECONDS = 3600
# A customer waits about this long between their messages (they read the answer).
CUSTOMER_PAUSE_SECONDS = 3.0
# Concurrent keep-alive connections of the load generator: a slow webhook
# answer delays no other message's send (the schedule is open loop).
LOAD_CONNECTIONS = 8
SEED = 20240612
# Not passed on to the web and workers: every escalation would alert Slack and mail its team for real.
NOT_INHERITED = ("SLACK_WEBHOOK_URL", "SMTP_URL")

# Requests for a person that name a topic, so that routing picks a team from them.
TOPIC_REQUESTS = (
    "I want to talk to a person about my invoice",
    "Can I speak to someone about a payment on my card?",
    "I need a human to help me, I can't log in to the app",
    "Please connect me with an agent about my subscription plan",
    "I'd like to talk to a real person about the error on your website",
)


@dataclass
class Options:
    rate: float = 4.0            # webhooks per second (2 workers on 2 CPUs sustain about 5)
    seconds: float = 40.0        # the measured load
    warmup: float = 3.0          # questions only, not measured
    escalations: float = 0.2     # share of the measured messages that escalate
    workers: int = 2             # `handoff worker` processes
    processes: int | None = None  # gunicorn processes; None: $WEB_CONCURRENCY or 2
    turns: int = 3               # questions a customer asks at most
    deadline: float = 15.0       # seconds a message may wait for its answer


# --- the plan: who writes what, when ---------------------------------------------------------


@dataclass(frozen=True)
class Planned:
    at: float    # seconds after the load starts
    kind: str    # warmup | ordinary | escalation
    sender: str
    name: str
    text: str
    sid: str
    earlier: int  # the customer's messages before this one


def message_pools(brain, threshold: float) -> tuple[list[str], list[str]]:
    """(questions the kb bot answers confidently, messages that escalate at once),
    from bench/brain.py's corpus, each checked alone by the real engine."""
    from bench.brain import (
        DETAIL_QUESTIONS,
        HUMAN_REQUESTS,
        KB_QUESTIONS,
        URGENT,
        Conversation,
        replay,
    )

    def alone(category: str, text: str):
        return replay(brain, [Conversation(((category, text),))])[0]

    answered = []
    for text in KB_QUESTIONS + DETAIL_QUESTIONS:
        step = alone("kb", text)
        if step.outcome == "answered" and step.reply.confidence >= threshold:
            answered.append(text)
    escalating = [text for text in HUMAN_REQUESTS + URGENT + list(TOPIC_REQUESTS)
                  if alone("human", text).outcome == "escalated"]
    return answered, escalating


def checking_brain():
    """bench/brain.py's Brain (process_inbound's decisions without a database) with
    the settings and knowledge base the benchmark seeds; and the confidence threshold."""
    from bench.brain import Brain
    from gateway.bot.settings import default_bot_settings
    from gateway.local.demo import sample_articles

    settings = default_bot_settings()
    articles = [{"title": draft.title, "body": draft.body} for draft in sample_articles()]
    return Brain(settings, articles), settings["confidence_threshold"]


def escalates_at(measured_index: int, share: float) -> bool:
    """Spreads the escalations evenly: one in five for 0.2."""
    return math.floor((measured_index + 1) * share + 1e-9) > math.floor(measured_index * share + 1e-9)


def rotation_slots(options: Options) -> list[tuple[int, str, int]]:
    """(customer, kind, the customer's earlier messages) of each webhook, in order.

    Customers take turns, in a rotation long enough that each waits about
    CUSTOMER_PAUSE_SECONDS between messages; one who has asked `turns`
    questions, or escalated, leaves, and a new customer joins at the end."""
    warm = round(options.warmup * options.rate)
    total = warm + round(options.seconds * options.rate)
    size = max(2, math.ceil(options.rate * CUSTOMER_PAUSE_SECONDS))
    # A rotation whose length shares no factor with the escalations' period, so
    # that escalations fall on every place in it (not always on newcomers).
    period = Fraction(options.escalations).limit_denominator(100).denominator
    while math.gcd(size, period) != 1:
        size += 1
    rotation = deque((customer, 0) for customer in range(size))
    newcomers = itertools.count(size)
    slots = []
    for slot in range(total):
        measured = slot - warm
        escalating = measured >= 0 and escalates_at(measured, options.escalations)
        customer, sent = rotation.popleft()
        slots.append((customer, "escalation" if escalating else "warmup" if measured < 0 else "ordinary", sent))
        sent += 1
        rotation.append((next(newcomers), 0) if escalating or sent >= options.turns else (customer, sent))
    return slots


def script_texts(kinds: list[str], brain, answered: list[str], escalating: list[str],
                 rng: random.Random) -> tuple[list[str], bool]:
    """What one customer writes, message by message, and whether the engine
    agreed: every question answered, the escalating message escalated."""
    from bench.brain import Conversation, replay

    expected = ["escalated" if kind == "escalation" else "answered" for kind in kinds]
    for _attempt in range(20):  # questions that look alike can trip the repeated-question rule: draw again
        questions = iter(rng.sample(answered, len(kinds)))
        drawn = [rng.choice(escalating) if kind == "escalation" else next(questions) for kind in kinds]
        steps = replay(brain, [Conversation(tuple(("kb", text) for text in drawn))])
        if [step.outcome for step in steps] == expected:
            return drawn, True
    return drawn, False


def build_plan(options: Options, run_tag: int) -> tuple[list[Planned], dict]:
    """Every webhook of the run, at a fixed rate; and how well the plan was verified."""
    slots = rotation_slots(options)
    brain, threshold = checking_brain()
    answered, escalating = message_pools(brain, threshold)
    rng = random.Random(SEED)
    kinds: dict[int, list[str]] = {}
    for customer, kind, _ in slots:
        kinds.setdefault(customer, []).append(kind)
    texts, unverified = {}, 0
    for customer, script in kinds.items():
        texts[customer], verified = script_texts(script, brain, answered, escalating, rng)
        unverified += not verified
    said = Counter()
    plan = []
    for slot, (customer, kind, earlier) in enumerate(slots):
        plan.append(Planned(
            at=slot / options.rate, kind=kind, sender=load.sender_address(customer),
            name=load.NAMES[customer % len(load.NAMES)], text=texts[customer][said[customer]],
            sid=load.message_sid(run_tag, 0, slot), earlier=earlier,
        ))
        said[customer] += 1
    return plan, {"customers": len(kinds), "questions_pool": len(answered), "escalating_pool": len(escalating),
                  "scripts_unverified": unverified}


# --- the Twilio stand-in and the inbox subscriber ---------------------------------------------

MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-zA-Z]+)/Messages\.json$")


class TwilioRecorder:
    """Twilio's Messages API, answering each create at once (201 and the
    message resource, as tests/fakes/twilio_api.py) and noting when it
    arrived: the time is taken as the request is handled, before its body is read."""

    def __init__(self):
        self.lock = threading.Lock()
        self.arrived: dict[str, int] = {}  # the sid it answered -> arrival, monotonic ns
        self.queue_notices: dict[str, tuple[int, str]] = {}  # customer address -> (arrival, text)
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as api.twilio.com

            def do_POST(self):
                arrived = time.monotonic_ns()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("utf-8")
                match = MESSAGES_PATH.match(urlsplit(self.path).path)
                if match is None:
                    self.answer(404, {"code": 20404, "message": "The requested resource was not found", "status": 404})
                    return
                form = {name: values[0] for name, values in parse_qs(body, keep_blank_values=True).items()}
                self.answer(201, recorder.record(match.group(1), form, arrived))

            def answer(self, status: int, resource: dict) -> None:
                # One write: a head and a body written apart would wait for the
                # client's delayed ACK (Nagle, 40 ms) on a kept-alive connection.
                body = json.dumps(resource).encode()
                head = (f"HTTP/1.1 {status} {self.responses[status][0]}\r\nContent-Type: application/json\r\n"
                        f"Content-Length: {len(body)}\r\n\r\n")
                self.wfile.write(head.encode() + body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="twilio stand-in", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def record(self, account_sid: str, form: dict, arrived: int) -> dict:
        to, text = form.get("To", ""), form.get("Body", "")
        with self.lock:
            sid = f"SM{len(self.arrived) + 1:032x}"
            self.arrived[sid] = arrived
            if text.startswith(QUEUE_NOTICE):
                self.queue_notices.setdefault(to, (arrived, text))
        return {"sid": sid, "account_sid": account_sid, "status": "queued", "to": to, "from": form.get("From", ""),
                "body": text, "num_media": "0", "direction": "outbound-api", "api_version": "2010-04-01",
                "error_code": None, "error_message": None}

    def start(self) -> "TwilioRecorder":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class InboxListener:
    """What the inbox's live stream sees: gateway.live.subscribe on the inbox
    channel, in a thread; notes the arrival of each conversation's first
    "conversation.escalated" event and counts every event type."""

    def __init__(self, redis_url: str):
        self.redis = Redis.from_url(redis_url)
        self.escalated: dict[int, int] = {}  # conversation id -> arrival, monotonic ns
        self.seen: Counter = Counter()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._listen, name="inbox listener", daemon=True)

    def _listen(self) -> None:
        from gateway import live

        events = live.subscribe(self.redis, live.inbox_channel(self.redis), heartbeat_seconds=0.2)
        try:
            for event in events:
                if self.stopping.is_set():
                    break
                if event is None:
                    continue
                arrived = time.monotonic_ns()
                self.seen[event["type"]] += 1
                if event["type"] == "conversation.escalated":
                    self.escalated.setdefault(event["conversation_id"], arrived)
        finally:
            events.close()

    def start(self, timeout: float = 10) -> "InboxListener":
        """Returns once Redis counts the subscription (no event of the load can be missed)."""
        from gateway import live

        self.thread.start()
        deadline = time.monotonic() + timeout
        channel = live.inbox_channel(self.redis)
        while dict(self.redis.pubsub_numsub(channel)).get(channel.encode(), 0) < 1:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("could not subscribe to the inbox live channel")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        self.redis.close()


# --- the deployment ---------------------------------------------------------------------------


def seed(database_url: str) -> None:
    """The WhatsApp channel the load generator signs for, the sample knowledge
    base, and the teams, each with agents online and a queue (no auto-assign)."""
    from gateway.bot.articles import save_articles
    from gateway.db import connect
    from gateway.local.demo import sample_articles
    from gateway.store import agents, teams

    seed_channel(database_url)
    with connect(database_url) as conn:
        save_articles(conn, sample_articles())
        for team_name in TEAMS:
            team_id = teams.ensure_team(conn, team_name)
            teams.update_team(conn, team_id, auto_assign=False)
            for number in range(1, AGENTS_PER_TEAM + 1):
                agent = agents.create_agent(conn, email=f"{team_name.lower()}{number}@bench.example.com",
                                            name=f"{team_name} Agent {number}", password=secrets.token_urlsafe(16))
                teams.add_member(conn, team_id, agent["id"])
                agents.set_presence(conn, agent["id"], "online", ttl_seconds=PRESENCE_TTL_SECONDS)
        conn.commit()


def log_lines(path: Path, count: int, *, problems_only: bool = False) -> str:
    """The last lines of a log; with problems_only, without its INFO lines
    (a worker logs several per job): warnings, errors and tracebacks."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    if problems_only:
        lines = [line for line in lines if " INFO " not in line and "[INFO]" not in line]
    return "\n".join(lines[-count:]) or "(no warnings or errors)"


def worker_command() -> list[str]:
    """The Procfile's worker: line, with this interpreter's `handoff`."""
    script = Path(sys.executable).with_name("handoff")
    return ([str(script)] if script.exists() else [sys.executable, "-m", "gateway.cli"]) + ["worker"]


class RqWorkers:
    """`handoff worker` processes, each leading its own process group (its work-horses are in it)."""

    def __init__(self, count: int, env: dict, workdir: Path):
        self.count, self.env, self.workdir = count, env, workdir
        self.processes: list[subprocess.Popen] = []

    def log_path(self, number: int) -> Path:
        return self.workdir / f"worker-{number}.log"

    def start(self) -> "RqWorkers":
        say(f"  starting {self.count} x `{' '.join(worker_command()[-2:])}` (RQ workers with the scheduler)…")
        for index in range(1, self.count + 1):
            with open(self.log_path(index), "ab") as log:
                self.processes.append(subprocess.Popen(
                    worker_command(), env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                    start_new_session=True,  # Ctrl-C goes to us; we stop them ourselves
                ))
        return self

    def wait_ready(self, redis_url: str, timeout: float = 60) -> None:
        """Until every worker has registered with RQ (it has warmed up and listens)."""
        from rq import Worker

        deadline = time.monotonic() + timeout
        with Redis.from_url(redis_url) as redis:
            while Worker.count(connection=redis) < self.count:
                exited = [n for n, p in enumerate(self.processes, 1) if p.poll() is not None]
                if exited or time.monotonic() > deadline:
                    number = exited[0] if exited else 1
                    raise RuntimeError(f"worker {number} {'exited' if exited else 'did not register'}:\n"
                                       + log_lines(self.log_path(number), 30))
                time.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM to all (RQ lets the current job finish), then SIGKILL to any group left."""
        running = [p for p in self.processes if p.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for process in self.processes:
            try:
                os.killpg(process.pid, signal.SIGKILL)  # work-horses left by a killed worker, if any
            except (ProcessLookupError, PermissionError):
                pass
            if process.poll() is None:
                process.wait(timeout=5)


# --- the load generator (its own process: python -m bench.handoff) -----------------------------


def signed_webhook(form: dict, *, port: int, signed_url: str, validator: RequestValidator) -> bytes:
    """One complete HTTP request, as Twilio posts an inbound WhatsApp message."""
    body = urlencode(form).encode()
    headers = {
        "Host": f"127.0.0.1:{port}", "User-Agent": "TwilioProxy/1.1",
        "Content-Type": "application/x-www-form-urlencoded",
        "I-Twilio-Idempotency-Token": f"{form['MessageSid']}-bench",
        "X-Twilio-Signature": validator.compute_signature(signed_url, form), "Content-Length": str(len(body)),
    }
    head = f"POST {load.WEBHOOK_PATH} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return (head + "\r\n").encode() + body


def post(connection: load.HttpConnection, request: bytes) -> int:
    """The webhook's HTTP status; reopens a keep-alive connection the server closed, once."""
    try:
        if connection.sock is None:
            connection.connect()
        return connection.exchange(request)
    except (load.ConnectionClosed, ConnectionResetError, BrokenPipeError):
        connection.connect()
        return connection.exchange(request)


def generate_load(spec: dict) -> dict:
    """Send every planned webhook at its time; [sid, t0, status, response ns, late ns] each."""
    port = int(spec["port"])
    planned = spec["messages"]  # [at, sid, sender, name, text]
    validator = RequestValidator(spec["auth_token"])
    signed_url = spec["public_url"].rstrip("/") + load.WEBHOOK_PATH
    requests = [signed_webhook(load.whatsapp_form(sid, text, sender, name), port=port, signed_url=signed_url,
                               validator=validator) for _, sid, sender, name, text in planned]
    lanes = max(1, min(int(spec["connections"]), len(planned)))
    results: list = [None] * len(planned)
    errors: list[str] = []
    start = time.monotonic_ns() + 100_000_000

    def lane(first: int) -> None:
        connection = load.HttpConnection(port)
        for index in range(first, len(planned), lanes):
            due = start + int(planned[index][0] * 1e9)
            pause = due - time.monotonic_ns()
            if pause > 0:
                time.sleep(pause / 1e9)
            t0 = time.monotonic_ns()  # just before the POST
            try:
                status = post(connection, requests[index])
            except Exception as error:  # reported with its message, never dropped
                errors.append(f"{planned[index][1]}: {type(error).__name__}: {error}")
                status = None
            results[index] = [planned[index][1], t0, status, time.monotonic_ns() - t0, t0 - due]
        connection.close()

    threads = [threading.Thread(target=lane, args=(first,), daemon=True) for first in range(lanes)]
    for thread in threads:
        thread.start()
    next_progress = time.monotonic() + 5
    for thread in threads:
        while thread.is_alive():
            thread.join(timeout=max(0.0, next_progress - time.monotonic()))
            if time.monotonic() >= next_progress:
                next_progress += 5
                sent = sum(result is not None for result in results)
                print(f"    load: {sent}/{len(planned)} webhooks sent", file=sys.stderr, flush=True)
    return {"sent": results, "errors": errors}


def drive_load(plan: list[Planned], port: int, on_progress) -> dict:
    """Run the load generator process; on_progress() every few seconds meanwhile."""
    spec = {"port": port, "public_url": PUBLIC_URL, "auth_token": load.AUTH_TOKEN, "connections": LOAD_CONNECTIONS,
            "messages": [[p.at, p.sid, p.sender, p.name, p.text] for p in plan]}
    generator = subprocess.Popen(
        [sys.executable, "-m", "bench.handoff"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace",
        cwd=str(Path(__file__).resolve().parent.parent), env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    output: list[str] = []
    readers = [threading.Thread(target=lambda: output.append(generator.stdout.read()), daemon=True),
               threading.Thread(target=lambda: [say(line.rstrip("\n")) for line in generator.stderr], daemon=True)]
    try:
        for reader in readers:
            reader.start()
        generator.stdin.write(json.dumps(spec))
        generator.stdin.close()
        while True:
            try:
                generator.wait(timeout=5)
                break
            except subprocess.TimeoutExpired:
                on_progress()
        for reader in readers:
            reader.join()
    finally:
        if generator.poll() is None:
            generator.kill()
            generator.wait()
    if generator.returncode != 0 or not output or not output[0]:
        raise RuntimeError(f"the load generator failed (exit {generator.returncode})")
    return json.loads(output[0])


# --- waiting for the last answers, and what happened to each message ----------------------------

PENDING_WORK = """
SELECT (SELECT count(*) FROM messages WHERE direction = 'inbound' AND processed_at IS NULL) AS unprocessed,
       (SELECT count(*) FROM messages WHERE direction = 'outbound'
                                        AND status IN ('pending', 'retrying', 'sending')) AS unsent,
       (SELECT count(*) FROM events WHERE kind = 'conversation.escalated') AS escalated
"""

# Each inbound message: its conversation, the bot's answer, whether it escalated,
# and the first thing the system told the customer after it.
MESSAGE_OUTCOMES = """
SELECT m.provider_message_id AS sid, m.conversation_id, m.processed_at IS NOT NULL AS processed,
       r.provider_message_id AS answer_sid, r.status AS answer_status, t.name AS team,
       EXISTS (SELECT 1 FROM events e WHERE e.kind = 'conversation.escalated' AND e.message_id = m.id) AS escalated,
       notice.text AS notice, notice.status AS notice_status
  FROM messages m
  JOIN conversations c ON c.id = m.conversation_id
  LEFT JOIN teams t ON t.id = c.team_id
  LEFT JOIN messages r ON r.reply_to_id = m.id AND r.sender = 'bot'
  LEFT JOIN LATERAL (SELECT s.text, s.status FROM messages s
                      WHERE s.conversation_id = m.conversation_id AND s.sender = 'system' AND s.id > m.id
                      ORDER BY s.id LIMIT 1) notice ON true
 WHERE m.direction = 'inbound'
"""


def wait_for_quiet(database_url: str, inbox: InboxListener, until_ns: int) -> bool:
    """Until every message is processed, every answer sent and every escalation
    seen by the inbox; False if the deadline came first."""
    from gateway.db import connect

    with connect(database_url, autocommit=True) as conn:
        while time.monotonic_ns() < until_ns:
            pending = conn.execute(PENDING_WORK).fetchone()
            if not pending["unprocessed"] and not pending["unsent"] and len(inbox.escalated) >= pending["escalated"]:
                return True
            time.sleep(0.2)
    return False


def series(latencies_ns: list[int]) -> dict:
    ordered = sorted(latencies_ns)
    figures = {"count": len(ordered)}
    for name, fraction in (("p50", 0.50), ("p99", 0.99)):
        figures[name] = load.percentile(ordered, fraction) / 1e6 if ordered else None
    figures["max"] = ordered[-1] / 1e6 if ordered else None
    return figures


def evaluate(plan: list[Planned], sent: list, rows: dict, recorder: TwilioRecorder, inbox: InboxListener,
             deadline_ns: int) -> dict:
    """The latencies of every measured message, and every failure with what happened instead."""
    latencies: dict[str, list[tuple[int, int]]] = {"bot_answer": [], "inbox_event": [], "queue_message": []}
    failures: list[dict] = []
    teams: Counter = Counter()
    positions: list[int] = []

    def fail(message: Planned, what: str, *measurements: str, seconds: float | None = None) -> None:
        failures.append({"kind": message.kind, "what": what, "measurements": list(measurements), "seconds": seconds,
                         "customer": message.sender, "text": message.text, "sid": message.sid})

    def arrival(message: Planned, name: str, t0: int, arrived: int | None, missing: str) -> None:
        if arrived is None:
            fail(message, missing, name)
        elif arrived - t0 > deadline_ns:
            fail(message, f"{name.replace('_', ' ')} past the deadline", name, seconds=(arrived - t0) / 1e9)
        else:
            latencies[name].append((t0, arrived - t0))

    for message, (_, t0, status, _, _) in zip(plan, sent):
        if message.kind == "warmup":  # not measured, but a conversation it escalates changes the queues
            if rows.get(message.sid, {}).get("escalated"):
                fail(message, f"escalated to {rows[message.sid]['team']} (a question the bot was expected to answer)")
            continue
        expected = ("bot_answer",) if message.kind == "ordinary" else ("inbox_event", "queue_message")
        row = rows.get(message.sid)
        if status != 200:
            fail(message, "the webhook failed (see the load generator's errors)" if status is None
                 else f"the webhook answered {status}", *expected)
        elif row is None:
            fail(message, "the webhook answered 200 but the message is not stored", *expected)
        elif not row["processed"]:
            fail(message, "never processed (process_inbound did not finish)", *expected)
        elif message.kind == "ordinary" and row["escalated"]:
            fail(message, f"escalated to {row['team']} (a question the bot was expected to answer)", *expected)
        elif message.kind == "ordinary":
            arrival(message, "bot_answer", t0, recorder.arrived.get(row["answer_sid"]),
                    "no bot answer stored" if row["answer_status"] is None else
                    f"the bot's answer was not sent ({row['answer_status']})")
        elif not row["escalated"]:
            fail(message, "did not escalate" + ("; the bot answered" if row["answer_status"] else ""), *expected)
        else:
            teams[row["team"]] += 1
            arrival(message, "inbox_event", t0, inbox.escalated.get(row["conversation_id"]),
                    "no conversation.escalated event in the inbox")
            notice = recorder.queue_notices.get(message.sender)
            arrival(message, "queue_message", t0, notice[0] if notice else None,
                    "no message to the customer stored" if row["notice"] is None else
                    f"the queue message was not sent ({row['notice_status']})"
                    if row["notice"].startswith(QUEUE_NOTICE) else f"the customer was told {row['notice']!r} instead")
            if notice:
                place = re.search(r"#(\d+) in line", notice[1])
                positions.append(int(place.group(1)) if place else 1)
    return {"latencies": latencies, "failures": failures, "teams": dict(teams), "positions": positions}


def latency_trend(timed: list[tuple[int, int]]) -> dict:
    """The median latency of the first and of the last quarter of the load,
    (t0, latency) pairs: a deployment that keeps up has about the same."""
    ordered = [latency for _, latency in sorted(timed)]
    quarter = len(ordered) // 4
    if quarter < 3:
        return {"first_quarter_p50": None, "last_quarter_p50": None, "falling_behind": False}
    first = load.percentile(sorted(ordered[:quarter]), 0.5) / 1e6
    last = load.percentile(sorted(ordered[-quarter:]), 0.5) / 1e6
    return {"first_quarter_p50": first, "last_quarter_p50": last, "falling_behind": last > 2 * first and last > 1000}


def _ratio(a, b):
    return (a / b) if (a is not None and b) else None


def _stored_counts(database_url: str) -> dict:
    from gateway.db import connect

    with connect(database_url) as conn:
        return dict(conn.execute(
            """
            SELECT count(*) FILTER (WHERE direction = 'inbound') AS inbound,
                   count(*) FILTER (WHERE sender = 'bot') AS bot_answers,
                   count(*) FILTER (WHERE sender = 'system') AS system_messages,
                   (SELECT count(*) FROM conversations WHERE status = 'queued') AS queued_conversations,
                   (SELECT count(*) FROM tickets) AS tickets
              FROM messages
            """).fetchone())


# --- the whole run ----------------------------------------------------------------------------


def run_handoff(options: Options) -> dict:
    """Start the deployment, run the load, wait for the answers, stop everything; returns the report."""
    started = time.perf_counter()
    processes = options.processes or int(os.environ.get("WEB_CONCURRENCY") or 2)
    threads = int(os.environ.get("WEB_THREADS") or 32)
    run_tag = secrets.randbits(32)
    say(f"handoff bench handoff: {options.rate:g} webhooks/s for {options.seconds:g} s (+{options.warmup:g} s "
        f"warm-up), {100 * options.escalations:g}% escalating; {processes} gunicorn process(es), "
        f"{options.workers} RQ worker(s)")
    plan, plan_info = build_plan(options, run_tag)
    by_kind = Counter(p.kind for p in plan)
    say(f"  plan: {len(plan)} webhooks from {plan_info['customers']} customers: {by_kind['warmup']} warm-up, "
        f"{by_kind['ordinary']} questions, {by_kind['escalation']} escalations; each customer's messages checked in "
        f"process against the trigger engine and kb responder ({plan_info['scripts_unverified']} unverified)")
    workdir = Path(tempfile.mkdtemp(prefix="handoff-bench-handoff-"))
    previous_sigterm = signal.signal(signal.SIGTERM, interrupt)
    try:
        with backing_services(workdir,
                              database_name=os.environ.get("HANDOFF_BENCH_HANDOFF_DATABASE") or BENCH_DATABASE,
                              redis_db=int(os.environ.get("HANDOFF_BENCH_HANDOFF_REDIS_DB") or BENCH_REDIS_DB)
                              ) as backing, ExitStack() as running:
            seed(backing.database_url)
            recorder = TwilioRecorder().start()
            running.callback(recorder.stop)
            inbox = InboxListener(backing.redis_url)
            running.callback(inbox.stop)
            env = {key: value for key, value in os.environ.items() if key not in NOT_INHERITED}
            env.update({"DATABASE_URL": backing.database_url, "REDIS_URL": backing.redis_url,
                        "PUBLIC_URL": PUBLIC_URL, "SECRET_KEY": secrets.token_hex(32),
                        "TWILIO_API_BASE_URL": recorder.url, "AI_PROVIDER": "kb",
                        "WEB_CONCURRENCY": str(processes), "PYTHONUNBUFFERED": "1"})
            say(f"  Twilio stand-in on {recorder.url}; logs in {workdir} (removed at the end)")
            web = Gunicorn("Handoff", HANDOFF_APP, env, workdir / "web.log")
            running.callback(web.stop)
            workers = RqWorkers(options.workers, env, workdir)
            running.callback(workers.stop)
            web.start()
            workers.start()
            web.wait_ready(processes)
            workers.wait_ready(backing.redis_url)
            inbox.start()
            say("  web, workers and the inbox subscriber ready")

            redis = running.enter_context(Redis.from_url(backing.redis_url))
            backlog_max = [0]

            def progress() -> None:
                backlog = sum(Queue(name, connection=redis).count for name in QUEUES)
                backlog_max[0] = max(backlog_max[0], backlog)
                say(f"    stand-in: {len(recorder.arrived)} messages ({len(recorder.queue_notices)} queue notices); "
                    f"inbox: {len(inbox.escalated)} escalations; RQ backlog {backlog} job(s)")

            busy_before, load_before = machine_busy(), load_average()
            result = drive_load(plan, web.port, progress)
            last_t0 = max((s[1] for s in result["sent"] if s), default=time.monotonic_ns())
            say(f"  load sent; waiting for the last answers (at most {options.deadline:g} s after the last webhook)…")
            quiet = wait_for_quiet(backing.database_url, inbox, last_t0 + int(options.deadline * 1e9))
            busy_after, load_after = machine_busy(), load_average()
            progress()

            from gateway.db import connect

            with connect(backing.database_url) as conn:
                rows = {row["sid"]: row for row in conn.execute(MESSAGE_OUTCOMES)}
            outcome = evaluate(plan, result["sent"], rows, recorder, inbox, int(options.deadline * 1e9))
            stored = _stored_counts(backing.database_url)
            log_tails = {}
            if outcome["failures"] or result["errors"]:
                logs = {"web": web.log_path,
                        **{f"worker {n}": workers.log_path(n) for n in range(1, options.workers + 1)}}
                log_tails = {name: log_lines(path, 20, problems_only=True) for name, path in logs.items()}
            say("  stopping web and workers, dropping the benchmark database, flushing the benchmark Redis db…")
    finally:
        signal.signal(signal.SIGTERM, previous_sigterm)
        shutil.rmtree(workdir, ignore_errors=True)

    figures = {name: series([latency for _, latency in timed]) for name, timed in outcome["latencies"].items()}
    baseline = figures["bot_answer"]
    sent = [s for s in result["sent"] if s]
    measured = {p.sid for p in plan if p.kind != "warmup"}
    machine = None
    if busy_before and busy_after and busy_after[1] > busy_before[1]:
        machine = 100.0 * (busy_after[0] - busy_before[0]) / (busy_after[1] - busy_before[1])
    return {
        "benchmark": "handoff",
        "settings": {**asdict(options), "processes": processes, "threads": threads, "cpus": os.cpu_count(),
                     "database": backing.database_kind, "redis": backing.redis_kind, "public_url": PUBLIC_URL,
                     "teams": list(TEAMS), "agents_per_team": AGENTS_PER_TEAM, "auto_assign": False,
                     "customer_pause_seconds": CUSTOMER_PAUSE_SECONDS, "load_connections": LOAD_CONNECTIONS,
                     **plan_info},
        "messages": {"warmup": by_kind["warmup"], "ordinary": by_kind["ordinary"],
                     "escalations": by_kind["escalation"],
                     "escalations_after_earlier_messages": dict(sorted(Counter(
                         p.earlier for p in plan if p.kind == "escalation").items()))},
        "latency_ms": figures,
        "ratio_to_bot_answer": {
            name: {"p50": _ratio(figures[name]["p50"], baseline["p50"]),
                   "p99": _ratio(figures[name]["p99"], baseline["p99"])}
            for name in ("queue_message", "inbox_event")
        },
        "webhook_ms": series([s[3] for s in sent if s[0] in measured]),
        "send_late_max_ms": max((s[4] for s in sent), default=0) / 1e6,
        "load_errors": result["errors"],
        "escalations": {"teams": outcome["teams"],
                        "max_position": max(outcome["positions"], default=None),
                        "last_notice": max(recorder.queue_notices.values(), default=(0, None))[1]},
        "failures": outcome["failures"],
        "complete": quiet,
        "inbox_events_seen": dict(inbox.seen),
        "rq_backlog_max": backlog_max[0],
        "bot_answer_trend": latency_trend(outcome["latencies"]["bot_answer"]),
        "stored": stored,
        "machine": {"busy_percent": machine, "load_average_before": load_before, "load_average_after": load_after},
        "log_tails": log_tails,
        "elapsed_seconds": time.perf_counter() - started,
    }


# --- output -----------------------------------------------------------------------------------


def _times(value) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def format_report(report: dict) -> str:
    s, m = report["settings"], report["messages"]
    lines = [
        f"Handoff benchmark: {s['rate']:g} signed WhatsApp webhooks/s for {s['seconds']:g} s (after {s['warmup']:g} s "
        f"of warm-up) from {s['customers']} customers, {m['escalations']} escalating; gunicorn {s['processes']} x "
        f"{s['threads']} threads, {s['workers']} `handoff worker`; kb bot; teams {', '.join(s['teams'])} "
        f"({s['agents_per_team']} agents online each, queue); PostgreSQL {s['database']}, Redis {s['redis']}; "
        f"{s['cpus']} CPUs",
        "",
        f"  {'from the webhook POST to':<44} {'count':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'failed':>7}",
    ]
    failed = Counter(name for f in report["failures"] for name in f["measurements"])
    for name, label in (("bot_answer", "the bot's answer (ordinary; the baseline)"),
                        ("inbox_event", "the inbox live event (escalation)"),
                        ("queue_message", "the customer's queue message (escalation)")):
        f = report["latency_ms"][name]
        lines.append(f"  {label:<44} {f['count']:>6} {number(f['p50'], '.1f'):>8} {number(f['p99'], '.1f'):>8} "
                     f"{number(f['max'], '.1f'):>8} {failed[name]:>7}")
    for name, label in (("queue_message", "queue message / bot answer"), ("inbox_event", "inbox event / bot answer")):
        r = report["ratio_to_bot_answer"][name]
        lines.append(f"  {'ratio ' + label:<44} {'':>6} {_times(r['p50']):>8} {_times(r['p99']):>8}")
    w = report["webhook_ms"]
    e = report["escalations"]
    machine = report["machine"]
    stored = report["stored"]
    lines += [
        "",
        f"Webhook answers: p50 {number(w['p50'], '.1f')} ms, p99 {number(w['p99'], '.1f')} ms; sends at most "
        f"{report['send_late_max_ms']:.1f} ms behind the schedule; RQ backlog up to {report['rq_backlog_max']} job(s).",
        f"Escalations by team: {', '.join(f'{k} {v}' for k, v in sorted(e['teams'].items())) or 'none'}; after "
        + ", ".join(f"{n} earlier message(s): {c}" for n, c in m["escalations_after_earlier_messages"].items())
        + f"; places in line up to #{e['max_position']}.",
        f"  last queue message: {e['last_notice']!r}",
        f"Stored: {stored['inbound']} customer messages, {stored['bot_answers']} bot answers, "
        f"{stored['system_messages']} system messages; {stored['queued_conversations']} conversations queued, "
        f"{stored['tickets']} tickets.",
        f"Machine: {number(machine['busy_percent'], '.0f')}% of {s['cpus']} CPUs busy during the load; load average "
        f"{number(machine['load_average_before'], '.2f')} before, {number(machine['load_average_after'], '.2f')} after.",
        "Both paths go webhook -> process_inbound -> send_message -> Twilio through RQ (a work-horse forked per job):",
        "the ratio is what escalating (routing, packet, queue place and estimate, notifications) costs over answering.",
    ]
    trend = report["bot_answer_trend"]
    if trend["falling_behind"]:
        lines += ["", f"SATURATED: the bot's answers took {trend['first_quarter_p50']:.0f} ms (median) in the first "
                      f"quarter of the load and {trend['last_quarter_p50']:.0f} ms in the last: the workers fell "
                      f"behind {s['rate']:g} webhooks/s, and the figures measure their backlog (it grows with the "
                      "run's length), not a steady state. Lower --rate or add --workers."]
    if not report["complete"]:
        lines += ["", f"NOT DONE {s['deadline']:g} s after the last webhook: the workers fell behind {s['rate']:g} "
                      f"webhooks/s (RQ backlog up to {report['rq_backlog_max']} jobs). Lower --rate or add --workers."]
    if report["load_errors"]:
        lines += ["", "Load generator errors:"] + [f"  {error}" for error in report["load_errors"][:10]]
    if report["failures"]:
        lines += ["", f"FAILURES: {len(report['failures'])} message(s) without their answer within "
                      f"{s['deadline']:g} s (or not doing what was planned):"]
        by_what: dict[tuple[str, str], list[dict]] = {}
        for failure in report["failures"]:
            by_what.setdefault((failure["kind"], failure["what"]), []).append(failure)
        for (kind, what), group in sorted(by_what.items(), key=lambda item: -len(item[1])):
            late = [f["seconds"] for f in group if f["seconds"] is not None]
            after = f" ({min(late):.1f} to {max(late):.1f} s)" if late else ""
            lines.append(f"  {len(group):>4} x {kind}: {what}{after}  (e.g. {group[0]['customer']}: "
                         f"{group[0]['text']!r})")
    for name, tail in report.get("log_tails", {}).items():
        lines += ["", f"Warnings and errors at the end of the {name} log:"]
        lines += [f"  {line}" for line in tail.splitlines()]
    lines.append("")
    lines.append(f"Elapsed: {report['elapsed_seconds']:.1f} s; everything stopped, database dropped, Redis db flushed.")
    return "\n".join(lines)


def print_report(report: dict, as_json: bool) -> None:
    print(json.dumps(report, indent=2, default=str) if as_json else format_report(report))


if __name__ == "__main__":  # the load generator: a JSON spec on stdin, the sends as JSON on stdout
    try:
        json.dump(generate_load(json.load(sys.stdin)), sys.stdout)
    except KeyboardInterrupt:
        sys.exit(130)
