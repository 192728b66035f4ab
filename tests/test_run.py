"""`handoff run` end to end, as a newcomer runs it: no DATABASE_URL, no REDIS_URL.

A real `handoff run` in a fresh directory starts the embedded PostgreSQL and
Valkey, the web server and a worker; a signed WhatsApp message gets the bot's
answer from the sample knowledge base through the (fake) Twilio API; Ctrl-C
stops every process it started. A second run on the same ./var finds the
data of the first, and stops everything when one of its children dies.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import psycopg
import pytest
import requests
from click.testing import CliRunner
from redis import Redis
from twilio.request_validator import RequestValidator

from gateway.cli import main
from tests.helpers import TWILIO_NUMBER, TWILIO_SID, TWILIO_TOKEN, whatsapp_form

WEBHOOK = "/webhooks/twilio/whatsapp"
CUSTOMER = "whatsapp:+15551230001"


def handoff_command() -> list[str]:
    script = Path(sys.executable).with_name("handoff")
    return [str(script)] if script.exists() else [sys.executable, "-m", "gateway.cli"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def eventually(check, timeout: float, describe):
    """check()'s first truthy value, polling until the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {describe()}")
        time.sleep(0.1)


class HandoffRun:
    """A `handoff run` subprocess whose output is collected as it comes."""

    def __init__(self, cwd: Path, port: int, env: dict):
        self.port = port
        self.process = subprocess.Popen(
            handoff_command() + ["run", "--port", str(port)], cwd=cwd, env=env, text=True,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_until_running(self, timeout: float = 120) -> str:
        eventually(lambda: "Press Ctrl-C to stop." in self.output or self.process.poll() is not None,
                   timeout, lambda: self.output)
        assert self.process.poll() is None, self.output
        ready = requests.get(f"http://127.0.0.1:{self.port}/readyz", timeout=5)
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
        return self.output

    def exported(self, name: str) -> str:
        return re.search(rf"export {name}='([^']+)'", self.output).group(1)

    def processes(self, var: Path) -> list[psutil.Process]:
        """Every process this run started: its children (and theirs), PostgreSQL, Valkey."""
        started = psutil.Process(self.process.pid).children(recursive=True)
        for pid_file in (var / "postgres" / "postmaster.pid", var / "valkey" / "valkey.pid"):
            started.append(psutil.Process(int(pid_file.read_text().split()[0])))
        return started

    def finish(self, timeout: float = 60) -> int:
        try:
            code = self.process.wait(timeout=timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()  # its children get SIGTERM from the kernel (parent-death signal)
                self.process.wait()
            self.reader.join(30)
            if not self.reader.is_alive():  # closing a pipe another thread reads would block
                self.process.stdout.close()
        return code


def gone(processes: list[psutil.Process]) -> list[str]:
    """The processes still alive (a zombie waiting for a reaper counts as gone)."""
    alive = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(f"{process.pid} {' '.join(process.cmdline())[:80]}")
        except psutil.NoSuchProcess:
            pass
    return alive


@pytest.fixture
def run_env(fake_twilio):
    env = {name: value for name, value in os.environ.items()
           if name not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "PUBLIC_URL", "PORT", "HOST")}
    env.update(TWILIO_API_BASE_URL=fake_twilio.url, WEB_CONCURRENCY="1", PYTHONUNBUFFERED="1")
    return env


@pytest.mark.timeout(300)
def test_handoff_run_starts_answers_stops_and_keeps_its_data(tmp_path, run_env, fake_twilio):
    var = tmp_path / "var"
    first = HandoffRun(tmp_path, free_port(), run_env)
    try:
        output = first.wait_until_running()
        public_url = f"http://127.0.0.1:{first.port}"
        assert "PostgreSQL  starting the embedded server (data in ./var/postgres)" in output
        assert "Redis       starting the embedded Valkey (data in ./var/valkey)" in output
        assert f"  Inbox         {public_url}/inbox" in output
        assert f"  Demo page     {public_url}/demo" in output
        assert f"    Twilio WhatsApp  {public_url}/webhooks/twilio/whatsapp" in output
        assert f"    Twilio status    {public_url}/webhooks/twilio/status" in output
        assert f"    Messenger        {public_url}/webhooks/messenger" in output
        password = re.search(r"Admin login   admin@example.com  password: (\S+)", output).group(1)
        assert stat.S_IMODE((var / "secret_key").stat().st_mode) == 0o600
        database_url, redis_url = first.exported("DATABASE_URL"), first.exported("REDIS_URL")

        # A second `handoff run` on the same ./var is refused at once.
        refused = subprocess.run(handoff_command() + ["run", "--port", str(free_port())], cwd=tmp_path,
                                 env=run_env, capture_output=True, text=True, timeout=60)
        assert refused.returncode == 1
        assert refused.stderr.startswith(f"Error: another `handoff run` (pid {first.process.pid}) is already using ./var")

        # A WhatsApp channel, added with the CLI, answers a signed message with the sample knowledge base.
        added = CliRunner().invoke(main, ["channel", "add", "whatsapp", "--name", "WhatsApp", "--account-sid",
                                          TWILIO_SID, "--auth-token", TWILIO_TOKEN, "--number", TWILIO_NUMBER],
                                   env={"DATABASE_URL": database_url, "PUBLIC_URL": public_url})
        assert added.exit_code == 0, added.output
        form = whatsapp_form(body="How long does shipping take?", sender=CUSTOMER, to=TWILIO_NUMBER)
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(public_url + WEBHOOK, form)
        response = requests.post(public_url + WEBHOOK, data=form, headers={"X-Twilio-Signature": signature},
                                 timeout=10)
        assert response.status_code == 200, response.text
        [reply] = eventually(fake_twilio.sent, 30, lambda: first.output)
        assert reply["To"] == CUSTOMER and reply["From"] == TWILIO_NUMBER
        assert "3 to 5 business days" in reply["Body"]
        assert reply["StatusCallback"] == f"{public_url}/webhooks/twilio/status"
        Redis.from_url(redis_url).set("handoff:test:survives-restart", "yes")

        started = first.processes(var)
        assert len(started) >= 5  # gunicorn and its worker, the RQ worker, PostgreSQL, Valkey
    finally:
        asked = time.monotonic()
        first.process.send_signal(signal.SIGINT)
        code = first.finish()
    assert code == 0, first.output
    # Ctrl-C stops the web server, the worker and both databases promptly (no 60 s pub/sub poll).
    assert time.monotonic() - asked < 20, first.output
    assert "Stopping (SIGINT)..." in first.output
    assert first.output.rstrip().endswith("Stopped."), first.output
    assert gone(started) == []
    assert "Traceback" not in first.output

    # Same directory again: the data survived, the admin is not re-created.
    second = HandoffRun(tmp_path, free_port(), run_env)
    try:
        output = second.wait_until_running()
        assert "Demo        seeded at an earlier start" in output
        assert "admin@example.com (the password was shown at the first start" in output
        assert password not in output
        with psycopg.connect(second.exported("DATABASE_URL")) as conn:
            assert conn.execute("SELECT count(*) FROM agents").fetchone()[0] == 1
            assert conn.execute("SELECT address FROM channels WHERE kind = 'whatsapp'").fetchall() == [
                (TWILIO_NUMBER,)]
            assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] == 2
        assert Redis.from_url(second.exported("REDIS_URL")).get("handoff:test:survives-restart") == b"yes"
        # The URLs the first run printed still work: the embedded servers kept their addresses.
        assert (second.exported("DATABASE_URL"), second.exported("REDIS_URL")) == (database_url, redis_url)

        # A child that dies stops everything, with a non-zero exit.
        started = second.processes(var)
        [worker] = [p for p in psutil.Process(second.process.pid).children()
                    if "gateway.cli" in " ".join(p.cmdline())]
        worker.kill()
        code = second.finish()
    finally:
        if second.process.poll() is None:
            second.process.send_signal(signal.SIGINT)
            second.finish()
    assert code == 1, second.output
    assert "the worker exited unexpectedly (killed by SIGKILL): stopping everything" in second.output
    assert gone(started) == []
