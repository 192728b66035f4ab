"""`handoff channel`: add, change and list the channels customers write on
(and, through gateway/cli/templates.py, WhatsApp templates)."""

from __future__ import annotations

import re
import secrets

import click
from psycopg import errors as pg_errors

from gateway.cli.support import database, load_config, not_blank, public_url_note
from gateway.cli.templates import template

CHANNEL_MODES = ("bot_only", "hybrid", "offline_or_missed")
TWILIO_ACCOUNT_SID = re.compile(r"^AC[0-9a-zA-Z]{32}$")
E164 = re.compile(r"^\+[1-9]\d{6,14}$")


@click.group()
def channel() -> None:
    """Add and list the channels customers write on."""


@channel.group("add")
def channel_add() -> None:
    """Add a channel: whatsapp (through Twilio), messenger, or web (the chat widget)."""


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


name_option = click.option("--name", required=True, callback=not_blank,
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
@click.option("--auth-token", prompt="Twilio auth token", hide_input=True, callback=not_blank,
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
@click.option("--page-token", prompt="Page access token", hide_input=True, callback=not_blank,
              help="The Page access token; asked for (hidden) when omitted.")
@click.option("--app-secret", prompt="App secret", hide_input=True, callback=not_blank,
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


channel.add_command(template)
