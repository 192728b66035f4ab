"""`handoff channel`: add, change, check, remove and list the channels
customers write on (and, through gateway/cli/templates.py, WhatsApp
templates). The checks and changes are gateway/admin/channels.py's, which
the settings pages and the admin API use too."""

from __future__ import annotations

import click

from channels import credentials as channel_credentials
from gateway.admin.channels import MODES as CHANNEL_MODES
from gateway.admin.channels import embed_snippet
from gateway.cli.support import api_refusal, database, enqueue_sends, load_config, not_blank, public_url_note
from gateway.cli.templates import template


@click.group()
def channel() -> None:
    """Add and list the channels customers write on."""


@channel.group("add")
def channel_add() -> None:
    """Add a channel: whatsapp (through Twilio), messenger, or web (the chat widget)."""


def _checked(check):
    """A click callback from one of channels.credentials' checks (None passes through)."""

    def callback(ctx, param, value):
        if value is None:
            return None
        try:
            return check(value)
        except channel_credentials.CredentialProblem as problem:
            raise click.BadParameter(str(problem)) from None

    return callback


validate_account_sid = _checked(channel_credentials.account_sid)
validate_whatsapp_number = _checked(channel_credentials.whatsapp_address)
validate_page_id = _checked(channel_credentials.page_id)


name_option = click.option("--name", required=True, callback=not_blank,
                           help="What agents see, e.g. 'Support WhatsApp'.")
mode_option = click.option("--mode", type=click.Choice(CHANNEL_MODES), default="bot_only", show_default=True,
                           help="How the bot and the agents share this channel's conversations.")


def insert_channel(kind: str, name: str, address: str, credentials: dict, mode: str):
    from gateway.admin.channels import add_channel
    from gateway.errors import ApiError

    config = load_config()
    with database(config) as conn:
        try:
            row = add_channel(conn, {"kind": kind, "name": name, "address": address, "credentials": credentials,
                                     "mode": mode}, agent_id=None)
        except ApiError as refusal:
            raise api_refusal(refusal) from None
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
    if not generated and not verify_token.strip():
        raise click.BadParameter("must not be empty", param_hint="'--verify-token'")
    config, row = insert_channel("messenger", name, page_id, {"page_token": page_token, "app_secret": app_secret,
                                                              "verify_token": verify_token or ""}, mode)
    verify_token = row.credentials["verify_token"]
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


ASK = "-"
SECRET_OPTIONS = {"auth_token": "Twilio auth token", "page_token": "Page access token", "app_secret": "App secret"}


@channel.command("set")
@click.argument("channel_id", type=int)
@click.option("--mode", type=click.Choice(CHANNEL_MODES), default=None,
              help="bot_only: the bot until a trigger fires; hybrid: agents may step in at any time; "
                   "offline_or_missed: people first, the bot outside hours or when nobody answers in time.")
@click.option("--name", default=None, help="The name agents see.")
@click.option("--team", default=None, help="The team its conversations go to by default ('' for none).")
@click.option("--number", default=None, callback=validate_whatsapp_number, help="WhatsApp: the Twilio number.")
@click.option("--account-sid", default=None, callback=validate_account_sid, help="WhatsApp: the Account SID.")
@click.option("--auth-token", default=None, help="WhatsApp: a new auth token ('-': asked for, hidden).")
@click.option("--page-id", default=None, callback=validate_page_id, help="Messenger: the Page ID.")
@click.option("--page-token", default=None, help="Messenger: a new Page access token ('-': asked for, hidden).")
@click.option("--app-secret", default=None, help="Messenger: a new app secret ('-': asked for, hidden).")
@click.option("--verify-token", default=None, help="Messenger: the webhook verify token.")
@click.option("--disable/--enable", "disabled", default=None,
              help="A disabled channel keeps its conversations but receives and sends nothing.")
def set_channel(channel_id: int, mode: str | None, name: str | None, team: str | None, number: str | None,
                account_sid: str | None, auth_token: str | None, page_id: str | None, page_token: str | None,
                app_secret: str | None, verify_token: str | None, disabled: bool | None) -> None:
    """Change channel CHANNEL_ID (see `handoff channel list`): its name, mode,
    team, address, credentials, or whether it is enabled. New credentials send
    again the messages that failed because the provider refused the old ones."""
    from gateway.admin.channels import change_channel
    from gateway.errors import ApiError
    from gateway.store.teams import team_by_name

    secrets_given = {"auth_token": auth_token, "page_token": page_token, "app_secret": app_secret}
    for key, value in secrets_given.items():
        if value == ASK:
            secrets_given[key] = click.prompt(SECRET_OPTIONS[key], hide_input=True)
    credentials = {key: value for key, value in
                   dict(secrets_given, account_sid=account_sid, verify_token=verify_token).items() if value}
    body = {key: value for key, value in (("mode", mode), ("name", name), ("disabled", disabled),
                                           ("address", number or page_id)) if value is not None}
    if credentials:
        body["credentials"] = credentials
    if not body and team is None:
        raise click.UsageError("say what to change: see `handoff channel set --help`")
    if name is not None and not name.strip():
        raise click.UsageError("--name must not be blank")
    config = load_config()
    with database(config) as conn:
        if team is not None:
            found = team_by_name(conn, team) if team.strip() else None
            if team.strip() and found is None:
                raise click.ClickException(f"no team {team!r}: see `handoff team list`")
            body["team_id"] = found["id"] if found else None
        try:
            change = change_channel(conn, channel_id, body, agent_id=None)
        except ApiError as refusal:
            if refusal.status == 404:
                raise click.ClickException(f"no channel {channel_id}: see `handoff channel list`") from None
            raise api_refusal(refusal) from None
    changed = change.channel
    state = ", disabled" if changed.disabled_at else ""
    click.echo(f'channel {changed.id} "{changed.name}" ({changed.kind}): mode {changed.mode}{state}')
    if change.changed:
        click.echo(f"changed: {', '.join(change.changed)}")
    if change.resend:
        click.echo(f"{len(change.resend)} message(s) that failed for authentication will be sent again"
                   + enqueue_sends(config, change.resend))


def channel_or_error(conn, channel_id: int):
    from gateway.store.channels import get_channel

    row = get_channel(conn, channel_id)
    if row is None:
        raise click.ClickException(f"no channel {channel_id}: see `handoff channel list`")
    return row


@channel.command("check")
@click.argument("channel_id", type=int)
def check_channel(channel_id: int) -> None:
    """Ask the provider whether channel CHANNEL_ID's credentials work."""
    from gateway.admin.channels import check_credentials

    config = load_config()
    with database(config) as conn:
        row = channel_or_error(conn, channel_id)
    result = check_credentials(row, config)
    if not result.ok:
        raise click.ClickException(result.message + (f" ({result.detail})" if result.detail else ""))
    click.echo(result.message)


@channel.command("remove")
@click.argument("channel_id", type=int)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def remove_channel(channel_id: int, yes: bool) -> None:
    """Delete channel CHANNEL_ID with its conversations and messages (for good;
    `handoff channel set ID --disable` keeps them)."""
    from gateway.admin.channels import remove_channel as remove
    from gateway.errors import ApiError
    from gateway.store.channels import channel_usage

    config = load_config()
    with database(config) as conn:
        row = channel_or_error(conn, channel_id)
        usage = channel_usage(conn, channel_id)
    if not yes:
        click.confirm(f'Delete {row.kind} channel {row.id} "{row.name}" with its {usage["conversations"]} '
                      f'conversation(s) ({usage["open"]} open) and {usage["messages"]} message(s), for good?',
                      abort=True)
    with database(config) as conn:
        try:
            usage = remove(conn, channel_id, agent_id=None)
        except ApiError as refusal:
            raise api_refusal(refusal) from None
    click.echo(f'removed channel {channel_id} "{row.name}": {usage["conversations"]} conversation(s) and '
               f'{usage["messages"]} message(s) deleted')


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
        (str(r.id), r.kind, r.name, r.address, r.mode + (" (disabled)" if r.disabled_at else "")
         + (" (AUTHENTICATION FAILING)" if r.auth_failed_at else "")) for r in rows]
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
            click.echo(f"    Messenger webhook: {config.public_url}/webhooks/messenger  (verify token {channel_credentials.hint(token)})")
        else:
            click.echo(f"    embed: {embed_snippet(config.public_url, r.address)}")
    note = public_url_note(config)
    if note:
        click.echo(f"Note: {note}")


channel.add_command(template)
