"""The load generator of `handoff bench ingest`: signed Twilio WhatsApp webhooks.

Runs as its own process (`python -m bench.load`, a JSON spec on stdin, a JSON
result on stdout, progress on stderr) so that it does not share a GIL with
the orchestrator. Each client is a thread with one persistent HTTP/1.1
connection to 127.0.0.1; requests are pre-built bytes (form body, real
X-Twilio-Signature, unique MessageSid) made before any traffic is sent, so
the timed window only costs a sendall() and a few recv()s per request.

Timing: all clients start together, run the warm-up and then the timed
window without pausing; a request counts in the window when it completes
inside it. The window ends early if the pre-built requests run out (the
request bound), and the result says so.
"""

from __future__ import annotations

import itertools
import json
import resource
import socket
import sys
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

WEBHOOK_PATH = "/webhooks/twilio/whatsapp"
CHANNEL_NUMBER = "whatsapp:+14155238886"
ACCOUNT_SID = "AC" + "b" * 32
AUTH_TOKEN = "bench-twilio-auth-token"
# Lines on stderr that tell the orchestrator when the timed window starts and
# ends (it samples CPU use then); every other stderr line is progress.
WINDOW_START = "@window-start"
WINDOW_END = "@window-end"

# What customers write: short texts of the length real chats have.
TEXTS = (
    "Hi, where is my order?",
    "I ordered a blue jacket last week and it still says processing. Can you check order 48213?",
    "How long does shipping to Canada take?",
    "Can I change the delivery address?",
    "I want to return the shoes, they are too small",
    "thanks!",
    "Is there someone I can talk to? The tracking link does not work.",
    "Do you ship on weekends?",
)
NAMES = ("Ada Lovelace", "Grace Hopper", "Alan Turing", "Katherine Johnson", "Edsger Dijkstra",
         "Barbara Liskov", "Donald Knuth", "Margaret Hamilton", "Ken Thompson", "Frances Allen")


def sender_address(index: int) -> str:
    return f"whatsapp:+1555010{index:04d}"


def whatsapp_form(sid: str, body: str, sender: str, profile_name: str, to: str = CHANNEL_NUMBER,
                  account_sid: str = ACCOUNT_SID) -> dict:
    """A text message as Twilio posts it (the fields and order of tests.helpers.whatsapp_form)."""
    return {
        "SmsMessageSid": sid, "NumMedia": "0", "ProfileName": profile_name, "MessageType": "text",
        "SmsSid": sid, "WaId": sender.removeprefix("whatsapp:+"), "SmsStatus": "received", "Body": body,
        "To": to, "NumSegments": "1", "ReferralNumMedia": "0", "MessageSid": sid,
        "AccountSid": account_sid, "From": sender, "ApiVersion": "2010-04-01",
    }


def message_sid(run_tag: int, point_tag: int, index: int) -> str:
    """A Twilio-shaped SID (SM + 32 hex digits), unique per run, point and request."""
    return f"SM{run_tag & 0xFFFFFFFF:08x}{point_tag & 0xFFFF:04x}{index:020x}"


def build_requests(*, count: int, port: int, public_url: str, auth_token: str, senders: int,
                   run_tag: int, point_tag: int) -> list[bytes]:
    """`count` complete HTTP requests, each with its own MessageSid and signature."""
    validator = RequestValidator(auth_token)
    signed_url = public_url.rstrip("/") + WEBHOOK_PATH
    head = (f"POST {WEBHOOK_PATH} HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{port}\r\n"
            "User-Agent: TwilioProxy/1.1\r\n"
            "Accept: */*\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            "Cache-Control: max-age=259200\r\n")
    requests = []
    for index in range(count):
        sender = index % senders
        form = whatsapp_form(
            message_sid(run_tag, point_tag, index),
            TEXTS[index % len(TEXTS)],
            sender_address(sender),
            NAMES[sender % len(NAMES)],
        )
        body = urlencode(form).encode()
        signature = validator.compute_signature(signed_url, form)
        requests.append(
            (head
             + f"I-Twilio-Idempotency-Token: {form['MessageSid']}-bench\r\n"
             + f"X-Twilio-Signature: {signature}\r\n"
             + f"Content-Length: {len(body)}\r\n\r\n").encode() + body
        )
    return requests


class ConnectionClosed(Exception):
    pass


class HttpConnection:
    """A persistent HTTP/1.1 connection that sends pre-built requests.

    Reads just enough of each response: the status line, Content-Length and
    Connection headers, and the body.
    """

    def __init__(self, port: int):
        self.port = port
        self.sock: socket.socket | None = None
        self.buffer = b""
        self.connects = 0

    def connect(self) -> None:
        self.close()
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""
        self.connects += 1

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None

    def exchange(self, request: bytes) -> int:
        """Send one request and read its response; returns the HTTP status."""
        sock = self.sock
        sock.sendall(request)
        buffer = self.buffer
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end >= 0:
                break
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionClosed()
            buffer += chunk
        head = buffer[:end].decode("latin-1")
        lines = head.split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = 0
        close = False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.strip().lower() == "close":
                close = True
        total = end + 4 + length
        while len(buffer) < total:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionClosed()
            buffer += chunk
        self.buffer = buffer[total:]
        if close:
            self.close()
        return status


@dataclass
class ClientResult:
    ends: list  # completion time of each request, perf_counter_ns
    latencies: list  # ns, same order
    statuses: dict
    errors: list
    reconnects: int


def client_loop(port: int, requests: list[bytes], counter, timing: dict, start: threading.Barrier,
                exhausted: list, result: ClientResult) -> None:
    connection = HttpConnection(port)
    try:
        connection.connect()
    except OSError as error:
        result.errors.append(f"connect: {error}")
        start.abort()
        return
    try:
        start.wait()
    except threading.BrokenBarrierError:
        connection.close()
        return
    stop_at = timing["stop_at"]  # set by the barrier's action, before anyone is released
    ends, latencies, statuses = result.ends, result.latencies, result.statuses
    clock = time.perf_counter_ns
    total = len(requests)
    try:
        while True:
            index = next(counter)  # atomic under the GIL
            began = clock()
            if index >= total:
                if not exhausted:
                    exhausted.append(began)
                return
            if began >= stop_at:
                return
            request = requests[index]
            for attempt in (1, 2):
                try:
                    if connection.sock is None:
                        connection.connect()
                    status = connection.exchange(request)
                    break
                except (ConnectionClosed, ConnectionResetError, BrokenPipeError):
                    # The server closed a keep-alive connection: reconnect once.
                    connection.close()
                    if attempt == 2:
                        raise
                    result.reconnects += 1
            finished = clock()
            ends.append(finished)
            latencies.append(finished - began)
            statuses[status] = statuses.get(status, 0) + 1
    except Exception as error:  # reported, never silently dropped
        result.errors.append(f"{type(error).__name__}: {error}")
    finally:
        connection.close()


def percentile(sorted_values: list, fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, int(-(-fraction * len(sorted_values) // 1)))  # ceil
    return sorted_values[min(rank, len(sorted_values)) - 1]


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(spec: dict) -> dict:
    """Build the requests, connect the clients, warm up, measure; returns the figures."""
    clients = int(spec["clients"])
    warmup_s = float(spec["warmup"])
    window_s = float(spec["seconds"])
    label = spec.get("label", "")
    port = int(spec["port"])

    progress(f"    {label}: building {spec['max_requests']} signed requests ({spec['senders']} senders)…")
    requests = build_requests(
        count=int(spec["max_requests"]), port=port, public_url=spec["public_url"],
        auth_token=spec["auth_token"], senders=int(spec["senders"]), run_tag=int(spec["run_tag"]),
        point_tag=int(spec["point_tag"]),
    )
    counter = itertools.count()
    exhausted: list = []
    results = [ClientResult([], [], {}, [], 0) for _ in range(clients)]
    timing: dict = {}

    def set_deadlines() -> None:
        now = time.perf_counter_ns()
        timing["started"] = now
        timing["warm_end"] = now + int(warmup_s * 1e9)
        timing["stop_at"] = timing["warm_end"] + int(window_s * 1e9)

    # Everyone (the clients, connected, and this thread) meets here; the last
    # to arrive sets the deadlines before any client is released.
    barrier = threading.Barrier(clients + 1, action=set_deadlines)
    progress(f"    {label}: opening {clients} keep-alive connection(s)…")
    threads = [
        threading.Thread(target=client_loop, args=(port, requests, counter, timing, barrier, exhausted, result),
                         daemon=True)
        for result in results
    ]
    for thread in threads:
        thread.start()
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    try:
        barrier.wait(timeout=30)
    except threading.BrokenBarrierError:
        for thread in threads:
            thread.join()
        errors = [e for r in results for e in r.errors]
        raise SystemExit(f"could not connect to 127.0.0.1:{port}: {'; '.join(errors) or 'timeout'}")
    started = timing["started"]
    progress(f"    {label}: warming up {warmup_s:g} s…")
    time.sleep(max(0.0, (timing["warm_end"] - time.perf_counter_ns()) / 1e9))
    progress(f"    {label}: measuring {window_s:g} s…")
    progress(WINDOW_START)
    while True:  # the window ends at stop_at, or earlier if the requests run out
        remaining = (timing["stop_at"] - time.perf_counter_ns()) / 1e9
        if remaining <= 0 or exhausted:
            break
        time.sleep(min(remaining, 0.05))
    progress(WINDOW_END)
    for thread in threads:
        thread.join()
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)

    warm_end = timing["warm_end"]
    window_end = min(timing["stop_at"], exhausted[0]) if exhausted else timing["stop_at"]
    latencies = []
    statuses: dict = {}
    for result in results:
        for code, n in result.statuses.items():
            statuses[code] = statuses.get(code, 0) + n
        for end, latency in zip(result.ends, result.latencies):
            if warm_end <= end <= window_end:
                latencies.append(latency)
    completed_total = sum(len(r.ends) for r in results)
    errors = [e for r in results for e in r.errors]
    latencies.sort()
    window_seconds = max(1e-9, (window_end - warm_end) / 1e9)
    loadgen_cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    elapsed_total = max(1e-9, (max((r.ends[-1] for r in results if r.ends), default=started) - started) / 1e9)
    return {
        "clients": clients,
        "requests": len(latencies),
        "window_seconds": round(window_seconds, 4),
        "rps": len(latencies) / window_seconds,
        "p50_ms": percentile(latencies, 0.50) / 1e6 if latencies else None,
        "p90_ms": percentile(latencies, 0.90) / 1e6 if latencies else None,
        "p99_ms": percentile(latencies, 0.99) / 1e6 if latencies else None,
        "max_ms": latencies[-1] / 1e6 if latencies else None,
        "statuses": {str(code): n for code, n in sorted(statuses.items())},
        "non_200": sum(n for code, n in statuses.items() if code != 200),
        "errors": errors,
        "reconnects": sum(r.reconnects for r in results),
        "completed_total": completed_total,
        "request_bound_reached": bool(exhausted) and exhausted[0] < timing["stop_at"],
        "warmup_too_short_for_bound": bool(exhausted) and exhausted[0] < warm_end,
        "loadgen_cpu_percent": 100.0 * loadgen_cpu / elapsed_total,
    }


def main() -> None:
    spec = json.load(sys.stdin)
    try:
        result = run(spec)
    except KeyboardInterrupt:
        sys.exit(130)
    json.dump(result, sys.stdout)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
