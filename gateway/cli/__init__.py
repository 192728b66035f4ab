"""The `handoff` command: run, worker, migrate, channel, agent, kb (and bench).

Every command except `run` reads its configuration from the environment
(DATABASE_URL, REDIS_URL, PUBLIC_URL, ...: see .env.example), like the web
process does. A user's mistake (a bad argument, a missing variable, a
duplicate) ends in a one-line error and a non-zero exit, never a traceback.
Secrets are never printed, except a password or token the user must copy,
once, when it is generated.
"""

from __future__ import annotations

import logging
import re
import secrets
import signal
import sys
import threading
from pathlib import Path

import click
import psycopg
from psycopg import errors as pg_errors
from redis import Redis
from redis.exceptions import RedisError

from gateway.cli.support import (
    database,
    load_config,
    one_line,
    plural,
    public_url_note,
    require_database_url,
)
from gateway.config import ConfigError
from gateway.queues import QUEUES

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
CHANNEL_MODES = ("bot_only", "hybrid", "offline_or_missed")
TWILIO_ACCOUNT_SID = re.compile(r"^AC[0-9a-zA-Z]{32}$")
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")



@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(package_name="handoff-gateway", prog_name="handoff")
def main() -> None:
    """Handoff: AI customer support on WhatsApp, Messenger and the web, with human handoff.

    Start everything on this machine with `handoff run`. In production, run the
    web process (gunicorn), `handoff worker` and `handoff migrate` as the
    Procfile says, with DATABASE_URL and REDIS_URL set.
    """


# --- migrate ---------------------------------------------------------------------------------


@main.command()
def migrate() -> None:
    """Apply pending database migrations (needs DATABASE_URL)."""
    from gateway.migrate import apply_migrations

    url = require_database_url(load_config())
    try:
        applied = apply_migrations(url, report=click.echo)
    except psycopg.OperationalError as error:
        raise click.ClickException(f"cannot connect to the database: {one_line(error)}") from None
    except (psycopg.Error, RuntimeError) as error:
        raise click.ClickException(f"migration failed: {one_line(error)}") from None
    click.echo(f"applied {plural(len(applied), 'migration')}" if applied else "database is up to date")


# --- worker ----------------------------------------------------------------------------------


def exit_quietly(signum, frame) -> None:
    raise SystemExit(0)


def parse_queues(ctx, param, value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    if not names:
        raise click.BadParameter("name at least one queue")
    for name in names:
        if name not in QUEUES:
            raise click.BadParameter(f"unknown queue {name!r}: choose from {', '.join(QUEUES)}")
    return names


@main.command()
@click.option("--burst", is_flag=True, help="Run the jobs already queued, then exit.")
@click.option("--queues", default=",".join(QUEUES), show_default=True, callback=parse_queues,
              help="Comma-separated queues to work on, highest priority first.")
def worker(burst: bool, queues: list[str]) -> None:
    """Run an RQ worker (with the scheduler and the sweeper clock).

    It forks a work-horse per job. SIGTERM or Ctrl-C: finish the current job,
    then exit; a second one stops at once.
    """
    from gateway.queues import ForkingWorker, queue
    from workers import context, schedule
    from workers.warmup import warm_up

    config = load_config()
    try:
        config.require_services()
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    redis = Redis.from_url(config.redis_url, socket_connect_timeout=5)
    try:
        redis.ping()
    except RedisError as error:
        raise click.ClickException(f"cannot connect to Redis: {one_line(error)}") from None
    with database(config) as conn:
        conn.execute("SELECT 1 FROM schema_migrations LIMIT 1")

    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The twilio client logs every request and its headers at INFO.
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
    context.configure(config)
    try:
        # Before RQ forks a work-horse per job, so that no job pays for it;
        # a missing API key stops the start.
        with database(config) as conn:
            warm_up(conn, config)
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    stop_clock = threading.Event()
    clock = None
    if not burst:  # a burst worker exits as soon as the queues are empty
        clock = threading.Thread(target=schedule.run_sweeper_clock, args=(Redis.from_url(config.redis_url), stop_clock),
                                 name="sweeper clock", daemon=True)
        clock.start()
    rq_worker = ForkingWorker([queue(redis, name) for name in queues], connection=redis)
    # Until RQ installs its own handlers (once it has registered), a stop
    # request simply exits: no job has started yet.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, exit_quietly)
    try:
        rq_worker.work(burst=burst, with_scheduler=True, logging_level="INFO")
    finally:
        stop_clock.set()
        if clock is not None:
            clock.join(timeout=5)
        context.current().close()


# --- channel ---------------------------------------------------------------------------------


@main.group()
def channel() -> None:
    """Add and list the channels customers write on."""


@channel.group("add")
def channel_add() -> None:
    """Add a channel: whatsapp (through Twilio), messenger, or web (the chat widget)."""


def validate_name(ctx, param, value: str) -> str:
    value = (value or "").strip()
    if not value:
        raise click.BadParameter("must not be empty")
    return value


def validate_account_sid(ctx, param, value: str) -> str:
    value = value.strip()
    if not TWILIO_ACCOUNT_SID.match(value):
        raise click.BadParameter("a Twilio Account SID starts with AC and has 34 characters (see the Twilio console)")
    return value


def validate_whatsapp_number(ctx, param, value: str) -> str:
    number = re.sub(r"[\s().-]", "", value.strip())
    if number.startswith("whatsapp:"):
        number = number.removeprefix("whatsapp:")
    if not E164.match(number):
        raise click.BadParameter(f"{value!r} is not a phone number in E.164 form, like whatsapp:+14155238886")
    return "whatsapp:" + number


def validate_page_id(ctx, param, value: str) -> str:
    value = value.strip()
    if not re.fullmatch(r"[0-9]+", value):
        raise click.BadParameter("a Facebook Page ID is a number, like 104955512345678")
    return value


def validate_secret(ctx, param, value: str) -> str:
    value = (value or "").strip()
    if not value:
        raise click.BadParameter("must not be empty")
    return value


name_option = click.option("--name", required=True, callback=validate_name,
                           help="What agents see, e.g. 'Support WhatsApp'.")
mode_option = click.option("--mode", type=click.Choice(CHANNEL_MODES), default="bot_only", show_default=True,
                           help="How the bot and the agents share this channel's conversations.")


def hint(secret: str) -> str:
    """Enough of a secret to recognize it, not to use it."""
    return secret[:4] + "…" if len(secret) > 8 else "…"


def insert_channel(kind: str, name: str, address: str, credentials: dict, mode: str):
    from gateway.store.channels import create_channel, find_channel

    config = load_config()
    with database(config) as conn:
        existing = find_channel(conn, kind, address)
        if existing is not None:
            raise click.ClickException(
                f'a {kind} channel for {address} already exists (channel {existing.id}, "{existing.name}")')
        try:
            row = create_channel(conn, kind=kind, name=name, address=address, credentials=credentials, mode=mode)
        except pg_errors.UniqueViolation:
            raise click.ClickException(f"a {kind} channel for {address} already exists") from None
    return config, row


@channel_add.command("whatsapp")
@name_option
@click.option("--account-sid", required=True, callback=validate_account_sid, help="Twilio Account SID (AC…).")
@click.option("--auth-token", prompt="Twilio auth token", hide_input=True, callback=validate_secret,
              help="Twilio auth token; asked for (hidden) when omitted, which keeps it out of your shell history.")
@click.option("--number", required=True, callback=validate_whatsapp_number,
              help="The WhatsApp sender: whatsapp:+14155238886 (or +14155238886).")
@mode_option
def add_whatsapp(name: str, account_sid: str, auth_token: str, number: str, mode: str) -> None:
    """Add a WhatsApp number connected through Twilio."""
    config, row = insert_channel("whatsapp", name, number, {"account_sid": account_sid, "auth_token": auth_token},
                                 mode)
    click.echo(f'added whatsapp channel {row.id} "{row.name}" for {row.address} (mode {row.mode})')
    click.echo("In the Twilio console, for this WhatsApp sender, set:")
    click.echo(f"  When a message comes in (POST):  {config.public_url}/webhooks/twilio/whatsapp")
    click.echo(f"  Status callback URL (POST):      {config.public_url}/webhooks/twilio/status")
    note = public_url_note(config)
    if note:
        click.echo(f"Note: {note}")


@channel_add.command("messenger")
@name_option
@click.option("--page-id", required=True, callback=validate_page_id, help="The Facebook Page ID.")
@click.option("--page-token", prompt="Page access token", hide_input=True, callback=validate_secret,
              help="The Page access token; asked for (hidden) when omitted.")
@click.option("--app-secret", prompt="App secret", hide_input=True, callback=validate_secret,
              help="The Meta app secret (signs the webhooks); asked for (hidden) when omitted.")
@click.option("--verify-token", default=None,
              help="The verify token you will type in the Meta dashboard; generated (and shown once) when omitted.")
@mode_option
def add_messenger(name: str, page_id: str, page_token: str, app_secret: str, verify_token: str | None,
                  mode: str) -> None:
    """Add a Facebook Page (Messenger)."""
    generated = verify_token is None
    verify_token = secrets.token_urlsafe(18) if generated else verify_token.strip()
    if not verify_token:
        raise click.BadParameter("must not be empty", param_hint="'--verify-token'")
    config, row = insert_channel("messenger", name, page_id, {"page_token": page_token, "app_secret": app_secret,
                                                              "verify_token": verify_token}, mode)
    click.echo(f'added messenger channel {row.id} "{row.name}" for page {row.address} (mode {row.mode})')
    click.echo("In the Meta app dashboard, Messenger > Webhooks, set:")
    click.echo(f"  Callback URL:  {config.public_url}/webhooks/messenger")
    if generated:
        click.echo(f"  Verify token:  {verify_token}   (generated: copy it now, it is not shown again)")
    else:
        click.echo("  Verify token:  the one you gave with --verify-token")
    click.echo("  Subscribe the page to: messages, messaging_postbacks, message_deliveries, message_reads")
    note = public_url_note(config)
    if note:
        click.echo(f"Note: {note}")


def embed_snippet(public_url: str, widget_key: str) -> str:
    return f'<script src="{public_url}/widget.js" data-key="{widget_key}" async></script>'


@channel_add.command("web")
@name_option
@mode_option
def add_web(name: str, mode: str) -> None:
    """Add a web chat widget for your site."""
    from channels.web import new_widget_key

    config, row = insert_channel("web", name, new_widget_key(), {}, mode)
    click.echo(f'added web channel {row.id} "{row.name}" (mode {row.mode})')
    click.echo("Paste this snippet into your pages, before </body>:")
    click.echo(f"  {embed_snippet(config.public_url, row.address)}")
    note = public_url_note(config)
    if note:
        click.echo(f"Note: {note}")


@channel.command("set")
@click.argument("channel_id", type=int)
@click.option("--mode", type=click.Choice(CHANNEL_MODES), default=None,
              help="bot_only: the bot until a trigger fires; hybrid: agents may step in at any time; "
                   "offline_or_missed: people first, the bot outside hours or when nobody answers in time.")
@click.option("--name", default=None, help="The name agents see.")
def set_channel(channel_id: int, mode: str | None, name: str | None) -> None:
    """Change channel CHANNEL_ID's mode or name (see `handoff channel list`)."""
    from gateway.store.channels import get_channel, update_channel

    if mode is None and name is None:
        raise click.UsageError("say what to change: --mode and/or --name")
    if name is not None and not name.strip():
        raise click.UsageError("--name must not be blank")
    with database(load_config()) as conn:
        if get_channel(conn, channel_id) is None:
            raise click.ClickException(f"no channel {channel_id}: see `handoff channel list`")
        update_channel(conn, channel_id, name=name.strip() if name else None, mode=mode)
        changed = get_channel(conn, channel_id)
    click.echo(f'channel {changed.id} "{changed.name}" ({changed.kind}): mode {changed.mode}')


@channel.command("list")
def list_channels() -> None:
    """List the channels, with what to paste in each provider's console."""
    from gateway.store.channels import list_channels as all_channels

    config = load_config()
    with database(config) as conn:
        rows = all_channels(conn)
    if not rows:
        click.echo("no channels yet: add one with `handoff channel add whatsapp|messenger|web`")
        return
    table = [("ID", "KIND", "NAME", "ADDRESS", "MODE")] + [
        (str(r.id), r.kind, r.name, r.address, r.mode) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    for index, cells in enumerate(table):
        click.echo("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(cells[:4])) + "  " + cells[4])
        if index == 0:
            continue
        r = rows[index - 1]
        if r.kind == "whatsapp":
            click.echo(f"    Twilio webhook:   {config.public_url}/webhooks/twilio/whatsapp")
            click.echo(f"    status callback:  {config.public_url}/webhooks/twilio/status")
        elif r.kind == "messenger":
            token = r.credentials.get("verify_token") or ""
            click.echo(f"    Messenger webhook: {config.public_url}/webhooks/messenger  (verify token {hint(token)})")
        else:
            click.echo(f"    embed: {embed_snippet(config.public_url, r.address)}")
    note = public_url_note(config)
    if note:
        click.echo(f"Note: {note}")


# --- agent -----------------------------------------------------------------------------------


@main.group()
def agent() -> None:
    """Manage the people who answer in the inbox."""


def validate_email(ctx, param, value: str) -> str:
    value = value.strip()
    if not EMAIL.match(value):
        raise click.BadParameter(f"{value!r} is not an email address")
    return value


def read_password(from_stdin: bool) -> str:
    from gateway.store.agents import MIN_PASSWORD_LENGTH

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise click.ClickException("--password-stdin: no password on standard input (one line expected)")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt="Repeat the password")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise click.ClickException(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    return password


@agent.command("add")
@click.option("--email", required=True, callback=validate_email, help="Their login.")
@click.option("--name", required=True, callback=validate_name, help="The name customers and colleagues see.")
@click.option("--admin", is_flag=True, help="May configure channels, the bot, teams and agents.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
def add_agent(email: str, name: str, admin: bool, password_stdin: bool) -> None:
    """Add an agent (asks for the password, hidden, twice)."""
    from gateway.store import agents

    config = load_config()
    with database(config) as conn:
        if agents.agent_id_by_email(conn, email) is not None:
            raise click.ClickException(f"an agent with email {email} already exists")
    password = read_password(password_stdin)
    with database(config) as conn:
        try:
            row = agents.create_agent(conn, email=email, name=name, password=password, is_admin=admin)
        except agents.AgentExists as error:
            raise click.ClickException(str(error)) from None
    click.echo(f"added agent {row['id']}: {row['name']} <{row['email']}>{' (admin)' if row['is_admin'] else ''}")
    click.echo(f"They sign in at {config.public_url}/login")


@agent.command("password")
@click.option("--email", required=True, callback=validate_email, help="The agent's login.")
@click.option("--password-stdin", is_flag=True, help="Read the new password from the first line of standard input.")
def agent_password(email: str, password_stdin: bool) -> None:
    """Set a new password for an agent (e.g. the demo admin)."""
    from gateway.store import agents

    config = load_config()
    with database(config) as conn:
        agent_id = agents.agent_id_by_email(conn, email)
    if agent_id is None:
        raise click.ClickException(f"no agent has the email {email}")
    password = read_password(password_stdin)
    with database(config) as conn:
        agents.set_password(conn, agent_id, password)
    click.echo(f"password changed for {email}")


@agent.command("token")
@click.option("--email", required=True, callback=validate_email, help="The agent's login.")
def agent_token(email: str) -> None:
    """Issue a personal API token for the agent and admin APIs (replaces the previous one)."""
    from gateway.store import agents

    config = load_config()
    with database(config) as conn:
        agent_id = agents.agent_id_by_email(conn, email)
        if agent_id is None:
            raise click.ClickException(f"no agent has the email {email}")
        token = agents.issue_api_token(conn, agent_id)
    click.echo(token)
    click.echo(f"the API token of {email} (send it as 'Authorization: Bearer <token>'); it is shown only this once "
               "and the previous one no longer works", err=True)


# --- kb --------------------------------------------------------------------------------------


@main.group()
def kb() -> None:
    """Manage the knowledge base the built-in bot answers from."""


@kb.command("import")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, readable=True, path_type=Path))
def kb_import(files: tuple[Path, ...]) -> None:
    """Import articles from markdown or text FILES (a directory: its .md and .txt files).

    A markdown file with # or ## headings gives one article per heading;
    any other file is one article. Importing the same files again updates
    their articles instead of adding copies.
    """
    from gateway.bot.articles import (
        UnreadableFile,
        expand_paths,
        read_articles,
        save_articles,
    )

    paths = expand_paths(list(files))
    if not paths:
        raise click.ClickException("no .md or .txt files found in " + ", ".join(str(f) for f in files))
    drafts_by_file = []
    for path in paths:
        try:
            drafts_by_file.append((path, read_articles(path)))
        except UnreadableFile as error:
            raise click.ClickException(str(error)) from None
    created = updated = 0
    with database() as conn:
        for path, drafts in drafts_by_file:
            if not drafts:
                click.echo(f"{path}: empty, skipped")
                continue
            new, changed = save_articles(conn, drafts)
            created, updated = created + new, updated + changed
            click.echo(f"{path}: {plural(len(drafts), 'article')}")
    click.echo(f"imported {created} new, updated {updated}")


# --- bench -----------------------------------------------------------------------------------

from bench.cli import bench  # noqa: E402 - its own module; attached last, like any other group

main.add_command(bench)

from gateway.cli.run import run  # noqa: E402 - imports this module's helpers
from gateway.cli.triggers import settings, triggers  # noqa: E402 - imports this module's helpers

main.add_command(run)

main.add_command(triggers)
main.add_command(settings)

from gateway.cli.teams import agent_capacity, agent_status, team  # noqa: E402 - imports this module's helpers

main.add_command(team)
agent.add_command(agent_status)
agent.add_command(agent_capacity)

from gateway.cli.templates import template  # noqa: E402 - imports this module's helpers

channel.add_command(template)

from gateway.cli.webhooks import webhook  # noqa: E402 - imports this module's helpers

main.add_command(webhook)
