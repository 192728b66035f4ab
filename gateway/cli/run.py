"""`handoff run`: everything on one machine until Ctrl-C.

Without DATABASE_URL / REDIS_URL it starts embedded PostgreSQL and Valkey
with their data under ./var; then it applies the migrations, seeds the demo
once, runs gunicorn and a worker as child processes, prints the URLs, and on
Ctrl-C stops everything it started.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import sys
import time
import urllib.error
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

import click
import psycopg

from gateway.cli.support import database, one_line, plural
from gateway.config import Config, ConfigError, environment

# How long `handoff run` waits for /readyz, and for children to stop before SIGKILL.
READY_TIMEOUT = 90.0
STOP_TIMEOUT = 15.0


def shown_path(path: Path) -> str:
    try:
        return "./" + path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


def local_host(host: str) -> str:
    """The address to reach a server bound to `host` from this machine, for a URL."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def ensure_port_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise click.ClickException(
                f"cannot listen on {host}:{port} ({error.strerror or error}): choose another --port (or --host)"
            ) from None


def describe_database(url: str) -> str:
    """Where a DATABASE_URL points, without its password."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "DATABASE_URL"
    where = info.get("host") or "local socket"
    if info.get("port"):
        where += f":{info['port']}"
    return f"database {info.get('dbname') or '(default)'} on {where} (DATABASE_URL)"


def describe_redis(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 6379}{parts.path or '/0'} (REDIS_URL)"


def load_or_create_secret_key(path: Path) -> tuple[str, bool]:
    """The secret key kept in `path` (mode 0600), created on first use."""
    try:
        key = path.read_text().strip()
        if key:
            return key, False
    except FileNotFoundError:
        pass
    key = secrets.token_hex(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(key + "\n")
    os.chmod(path, 0o600)
    return key, True


class ChildExited(Exception):
    pass


def wait_until_ready(url: str, supervisor, signals, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        signals.check()
        exited = supervisor.exited()
        if exited is not None:
            raise ChildExited(exited)
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise click.ClickException(f"the web server did not become ready within {timeout:.0f} s ({url})")
        signals.sleep(0.25)


def stop_and_report(name: str | None, stop) -> None:
    """Run one stop step of `handoff run`; a failure is reported, and the other steps still run."""
    try:
        stop()
    except Exception as error:  # noqa: BLE001 - shutting down: report and carry on
        click.echo(f"  could not stop {name or 'the processes'}: {one_line(error)}", err=True)
    else:
        if name:
            click.echo(f"  {name} stopped")


class UnshownLogin:
    """The demo admin's password until the ready banner has shown it: a run
    stopped before that still shows it, since it is never shown again."""

    def __init__(self):
        self.email: str | None = None
        self.password: str | None = None

    def show_if_pending(self) -> None:
        if self.password:
            click.echo(f"  Admin login   {self.email}  password: {self.password}  (shown only this once: save it now)")
            self.password = None


CHILD_TITLES = {"web": "the web server (gunicorn)", "worker": "the worker"}


@click.command()
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="Port of the web server.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0: every interface).")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("var"),
              show_default="./var", help="Where the embedded servers keep their data, and the secret key.")
@click.option("--demo/--no-demo", default=True, show_default=True,
              help="Seed a demo (admin, sample knowledge base, web channel) into a fresh database, once.")
def run(port: int, host: str, data_dir: Path, demo: bool) -> None:
    """Run everything on this machine until Ctrl-C.

    Without DATABASE_URL it starts an embedded PostgreSQL (data in ./var/postgres),
    without REDIS_URL an embedded Valkey (data in ./var/valkey); then it applies
    the migrations, seeds the demo once, and runs the web server and a worker.
    """
    from gateway.local.supervisor import (
        AlreadyRunning,
        RunLock,
        SignalWatch,
        StopRequested,
        Supervisor,
    )

    try:
        base = Config.from_env()
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    var = data_dir.resolve()
    lock = RunLock(var / "run.lock")
    try:
        lock.acquire()
    except AlreadyRunning as holder:
        raise click.ClickException(
            f"another `handoff run` ({holder}) is already using {shown_path(var)}: stop it first, "
            "or give this one another --data-dir"
        ) from None
    except OSError as error:
        raise click.ClickException(f"cannot use {shown_path(var)} as the data directory: "
                                   f"{error.strerror or error}") from None

    ensure_port_free(host, port)
    signals = SignalWatch().install()
    supervisor = Supervisor(out=sys.stdout)
    login = UnshownLogin()
    exit_code = 0
    with ExitStack() as running:
        running.callback(lock.release)
        running.callback(signals.restore)
        try:
            run_until_stopped(running, supervisor, signals, login, base, var, host, port, demo)
        except StopRequested as stop:
            login.show_if_pending()
            click.echo(f"\nStopping ({stop})...")
        except ChildExited as exited:
            login.show_if_pending()
            child = exited.args[0]
            code = child.process.returncode
            how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
            click.echo(f"\n{CHILD_TITLES.get(child.name, child.name)} exited unexpectedly ({how}): "
                       "stopping everything", err=True)
            exit_code = 1
        except click.ClickException as error:
            login.show_if_pending()
            error.show()
            exit_code = error.exit_code
        finally:
            signals.raise_on_repeat = False  # a second Ctrl-C now means: stop waiting, kill
    click.echo("Stopped." if exit_code == 0 else "Stopped after an error.", err=exit_code != 0)
    sys.exit(exit_code)


def run_until_stopped(running: ExitStack, supervisor, signals, login: UnshownLogin, base: Config, var: Path,
                   host: str, port: int, demo: bool) -> NoReturn:
    """Start everything, each stop registered on `running`, and supervise; ends
    by raising: StopRequested (a signal), ChildExited, or a ClickException."""
    from gateway.local import embedded
    from gateway.migrate import apply_migrations

    echo = click.echo
    echo(f"Handoff: local run, data in {shown_path(var)}")

    # PostgreSQL
    embedded_database = not base.database_url
    if base.database_url:
        database_url = base.database_url
        echo(f"  PostgreSQL  {describe_database(database_url)}")
    else:
        echo(f"  PostgreSQL  starting the embedded server (data in {shown_path(var / 'postgres')})...")
        try:
            postgres = embedded.start_postgres(var / "postgres")
        except Exception as error:  # noqa: BLE001 - any failure: point at the server's log
            raise click.ClickException(f"the embedded PostgreSQL did not start ({one_line(error)}): "
                                       f"see {shown_path(var / 'postgres' / 'log')}") from None

        running.callback(stop_and_report, "PostgreSQL", postgres.stop)
        try:
            database_url = postgres.ensure_database("handoff")
        except psycopg.Error as error:
            raise click.ClickException(f"the embedded PostgreSQL does not answer: {one_line(error)}") from None
    signals.check()

    # Redis
    if base.redis_url:
        redis_url = base.redis_url
        echo(f"  Redis       {describe_redis(redis_url)}")
    else:
        echo(f"  Redis       starting the embedded Valkey (data in {shown_path(var / 'valkey')})...")
        try:
            valkey = embedded.start_redis(var / "valkey", persist=True)
        except Exception as error:  # noqa: BLE001
            raise click.ClickException(f"the embedded Valkey did not start ({one_line(error)}): "
                                       f"see {shown_path(var / 'valkey' / 'valkey.log')}") from None

        running.callback(stop_and_report, "Valkey", valkey.stop)
        redis_url = valkey.url
    signals.check()

    # Secret key and public URL
    if base.secret_key:
        secret_key = base.secret_key
    else:
        secret_key, created = load_or_create_secret_key(var / "secret_key")
        echo(f"  Secret key  {'generated in' if created else 'from'} {shown_path(var / 'secret_key')}")
    settings = environment()  # .env included
    public_url = (settings.get("PUBLIC_URL") or f"http://{local_host(host)}:{port}").rstrip("/")
    config = Config.from_env(database_url=database_url, redis_url=redis_url, secret_key=secret_key,
                             public_url=public_url)

    # Schema and demo
    try:
        applied = apply_migrations(database_url, report=lambda line: echo(f"  Migrations  {line}"))
    except psycopg.Error as error:
        raise click.ClickException(f"migrations failed: {one_line(error)}") from None
    if not applied:
        echo("  Migrations  database is up to date")
    signals.check()
    seed = None
    if demo:
        from gateway.local.demo import seed_demo

        with database(config) as conn:
            seed = seed_demo(conn)
        login.email, login.password = seed.admin_email, seed.admin_password
        if seed.seeded_now and not seed.skipped:
            echo(f"  Demo        seeded: {plural(seed.articles, 'knowledge-base article')}, "
                 f'web channel "{seed.web_channel.name}", admin {seed.admin_email} (password below)')
        elif seed.skipped:
            echo("  Demo        not seeded: the database already had agents or channels")
        else:
            echo("  Demo        seeded at an earlier start")
    signals.check()

    # Web server and worker
    env = dict(settings, DATABASE_URL=database_url, REDIS_URL=redis_url, SECRET_KEY=secret_key,
               PUBLIC_URL=public_url, PORT=str(port), HOST=host, PYTHONUNBUFFERED="1")
    echo(f"  Starting the web server on {host}:{port} and a worker...")
    supervisor.start("web", [sys.executable, "-m", "gunicorn", "--config", "python:gateway.gunicorn_conf",
                             "gateway.app:create_app()"], env)
    supervisor.start("worker", [sys.executable, "-m", "gateway.cli", "worker"], env)
    supervisor.copy_output()

    running.callback(stop_and_report, None, lambda: supervisor.stop(
        STOP_TIMEOUT, hurry=lambda: signals.hurry, report=lambda line: echo(f"  {line}")))
    wait_until_ready(f"http://{local_host(host)}:{port}/readyz", supervisor, signals, READY_TIMEOUT)

    echo(ready_banner(config, seed, database_url if embedded_database else None,
                      redis_url if not base.redis_url else None, public_url_set=bool(settings.get("PUBLIC_URL"))))
    login.password = None  # shown
    while True:
        exited = supervisor.exited()
        if exited is not None:
            raise ChildExited(exited)
        signals.sleep(0.2)


def ready_banner(config: Config, seed, embedded_database_url: str | None, embedded_redis_url: str | None,
                 public_url_set: bool) -> str:
    url = config.public_url
    lines = ["", "Handoff is running.",
             f"  Inbox         {url}/inbox",
             f"  Demo page     {url}/demo"]
    if seed is not None and seed.admin_password:
        lines.append(f"  Admin login   {seed.admin_email}  password: {seed.admin_password}")
        lines.append("                (shown only this once: save it now)")
    elif seed is not None and seed.admin_email:
        lines.append(f"  Admin login   {seed.admin_email} (the password was shown at the first start; "
                     f"reset it with `handoff agent password --email {seed.admin_email}`)")
    else:
        lines.append("  Admin login   an agent of yours (add one: `handoff agent add --email you@example.com "
                     "--name You --admin`)")
    lines += ["  Webhooks",
              f"    Twilio WhatsApp  {url}/webhooks/twilio/whatsapp",
              f"    Twilio status    {url}/webhooks/twilio/status",
              f"    Messenger        {url}/webhooks/messenger"]
    if embedded_database_url or embedded_redis_url or not public_url_set:
        lines.append("  Other handoff commands (channel, agent, kb) against this instance, from another terminal:")
        if embedded_database_url:
            lines.append(f"    export DATABASE_URL='{embedded_database_url}'")
        if embedded_redis_url:
            lines.append(f"    export REDIS_URL='{embedded_redis_url}'")
        if not public_url_set:
            lines.append(f"    export PUBLIC_URL='{url}'")
    lines += ["Press Ctrl-C to stop.", ""]
    return "\n".join(lines)
