"""Process management for `handoff run`: a lock on ./var, child processes, signals.

`handoff run` starts the web server and a worker as child processes, each in
its own process group: a Ctrl-C in the terminal reaches `handoff run` only,
which then stops them in order (SIGTERM, a grace period, then SIGKILL of the
whole group, so gunicorn workers and RQ work-horses go too). On Linux a child
also gets SIGTERM if `handoff run` itself is killed, so nothing keeps the port
or the database busy after a `kill -9`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import fcntl
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, TextIO


class AlreadyRunning(RuntimeError):
    """Another `handoff run` holds the lock on this data directory."""


class RunLock:
    """An exclusive lock on a data directory, held while `handoff run` lives.

    flock() is released by the kernel when the process dies, however it dies,
    so a crashed run never leaves a stale lock behind.
    """

    def __init__(self, path: Path):
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> "RunLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise AlreadyRunning(f"pid {holder}") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None


class StopRequested(Exception):
    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class SignalWatch:
    """SIGINT/SIGTERM handling for a foreground supervisor.

    The first signal is only recorded: the code checks `requested` between
    steps (so an embedded server is never interrupted half-started). A second
    signal raises StopRequested at once while `raise_on_repeat` is set, and
    during shutdown it means "hurry": stop waiting for graceful exits.
    """

    def __init__(self):
        self.signum: int | None = None
        self.count = 0
        self.raise_on_repeat = True
        self._previous: dict[int, object] = {}

    def install(self) -> "SignalWatch":
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum, frame) -> None:
        self.count += 1
        if self.signum is None:
            self.signum = signum
        if self.count > 1 and self.raise_on_repeat:
            self.raise_on_repeat = False
            raise StopRequested(signum)

    @property
    def hurry(self) -> bool:
        return self.count > 1

    def check(self) -> None:
        if self.signum is not None:
            raise StopRequested(self.signum)

    def sleep(self, seconds: float) -> None:
        """Sleep, but return early (by raising) when a signal arrives."""
        deadline = time.monotonic() + seconds
        while True:
            self.check()
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(0.05, left))


def _parent_death_signal() -> Callable[[], None] | None:
    """A preexec function asking Linux to SIGTERM the child when we die."""
    if not sys.platform.startswith("linux"):
        return None
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return None
    libc = ctypes.CDLL(libc_name, use_errno=True)
    pr_set_pdeathsig = 1

    def preexec() -> None:
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)

    return preexec


def live_group_members(pgid: int) -> list[int] | None:
    """Pids of the non-zombie processes in a process group (Linux /proc), or
    None where /proc is not available."""
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        return None
    members = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...; comm may contain spaces and parentheses.
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


@dataclass
class Child:
    """A child process whose output is copied to ours, each line prefixed with its name."""

    name: str
    process: subprocess.Popen
    _reader: threading.Thread | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def copy_output(self, out: TextIO, width: int) -> None:
        prefix = f"{self.name:<{width}} | "

        def copy() -> None:
            for line in self.process.stdout:
                try:
                    out.write(prefix + line if line.endswith("\n") else prefix + line + "\n")
                    out.flush()
                except (ValueError, OSError):  # our stdout is gone; keep draining the pipe
                    pass
            self.process.stdout.close()

        self._reader = threading.Thread(target=copy, name=f"output of {self.name}", daemon=True)
        self._reader.start()

    def finish_output(self, timeout: float = 2.0) -> None:
        if self._reader is not None:
            self._reader.join(timeout)

    def group_alive(self) -> bool:
        """Whether any process of the child's process group is still alive
        (zombies left to an init that does not reap them do not count)."""
        try:
            os.killpg(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        members = live_group_members(self.pid)
        return True if members is None else bool(members)

    def signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.pid, sig)
        except ProcessLookupError:
            pass


class Supervisor:
    """Starts named children, watches them, and stops them."""

    def __init__(self, out: TextIO = sys.stdout):
        self.out = out
        self.children: list[Child] = []

    def start(self, name: str, argv: list[str], env: dict[str, str], cwd: str | None = None) -> Child:
        """Start a child in its own process group. Call copy_output() once every
        child is started (no thread runs in this process while it forks)."""
        process = subprocess.Popen(
            argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, bufsize=1, errors="replace",
            process_group=0, preexec_fn=_parent_death_signal(),
        )
        child = Child(name, process)
        self.children.append(child)
        return child

    def copy_output(self) -> None:
        width = max((len(c.name) for c in self.children), default=0)
        for child in self.children:
            if child._reader is None:
                child.copy_output(self.out, width)

    def exited(self) -> Child | None:
        """The first child that has exited, if any."""
        for child in self.children:
            if child.process.poll() is not None:
                return child
        return None

    def stop(self, timeout: float = 15.0, hurry: Callable[[], bool] = lambda: False,
             report: Callable[[str], None] = lambda line: None) -> None:
        """SIGTERM every child, wait up to `timeout` (or until `hurry()`), then
        SIGKILL whatever is left of each process group."""
        for child in self.children:
            if child.process.poll() is None or child.group_alive():  # a dead leader may leave children
                child.signal_group(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while any(c.group_alive() for c in self.children) and time.monotonic() < deadline and not hurry():
            for child in self.children:
                child.process.poll()  # reap the group leader, so the group can empty
            time.sleep(0.1)
        for child in self.children:
            killed = child.group_alive()
            if killed:
                child.signal_group(signal.SIGKILL)
            try:
                code = child.process.wait(timeout=5)
            except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL cannot be ignored
                code = None
            child.finish_output()
            report(f"{child.name} stopped" + (" (killed after the grace period)" if killed else "")
                   + ("" if code in (0, None, -signal.SIGTERM, -signal.SIGKILL) else f" (exit code {code})"))
