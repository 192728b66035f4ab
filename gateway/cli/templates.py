"""`handoff channel template add|list|remove`: a WhatsApp channel's approved templates.

Outside WhatsApp's 24-hour window an agent can only send a template the
business had approved (a Twilio Content SID); these commands keep the
channel's list of them (channels.settings["templates"], validated by
channels.templates.TemplateSchema, as the admin API does).
gateway/cli/channels.py attaches the group under `handoff channel`.
"""

from __future__ import annotations

import json

import click
from marshmallow import ValidationError

from channels.registry import capabilities
from channels.templates import (
    TemplateSchema,
    find_template,
    load_templates,
    templates_setting,
)
from gateway.cli.support import database
from gateway.cli.support import field_errors
from gateway.store.channels import (
    ChannelRow,
    get_channel,
    lock_channel,
    set_channel_settings,
)

channel_option = click.option("--channel", "channel_id", type=int, required=True,
                              help="The WhatsApp channel's id (see `handoff channel list`).")
name_option = click.option("--name", required=True, help="The template's name, like follow_up.")


@click.group()
def template() -> None:
    """The approved templates agents send outside WhatsApp's 24-hour window."""


def whatsapp_channel(conn, channel_id: int, *, lock: bool = True) -> ChannelRow:
    """The channel, locked for this transaction when its templates are to change
    (so that two commands never lose each other's change)."""
    channel = (lock_channel if lock else get_channel)(conn, channel_id)
    if channel is None:
        raise click.ClickException(f"no channel {channel_id}: see `handoff channel list`")
    if not capabilities(channel.kind).templates:
        raise click.ClickException(f"channel {channel_id} is a {channel.kind} channel: templates are only "
                                   "for WhatsApp")
    return channel


def placeholders(variables) -> str:
    return ", ".join(f"{{{{{number}}}}} {name}" for number, name in enumerate(variables, start=1)) or "none"


@template.command("add")
@channel_option
@name_option
@click.option("--content-sid", required=True, help="Twilio's Content SID of the approved template (HX…).")
@click.option("--variable", "variables", multiple=True,
              help="What {{1}}, {{2}}… stand for, one option per placeholder, in order (e.g. customer_name).")
@click.option("--body", required=True, help="The approved text, with its {{1}} placeholders.")
@click.option("--replace", "replace_existing", is_flag=True, help="Replace a template of the same name.")
def add_template(channel_id: int, name: str, content_sid: str, variables: tuple[str, ...], body: str,
                 replace_existing: bool) -> None:
    """Add an approved template to a WhatsApp channel."""
    try:
        new = TemplateSchema().load({"name": name.strip(), "content_sid": content_sid.strip(),
                                     "variables": list(variables), "body": body})
    except ValidationError as error:
        raise click.ClickException(f"invalid template: {field_errors(error.messages)}") from None
    with database() as conn:
        channel = whatsapp_channel(conn, channel_id)
        templates = load_templates(channel.settings)
        if find_template(templates, new.name) is not None and not replace_existing:
            raise click.ClickException(f"channel {channel_id} already has a template {new.name} "
                                       "(--replace replaces it)")
        kept = [existing for existing in templates if existing.name != new.name]
        set_channel_settings(conn, channel_id, {"templates": templates_setting([*kept, new])})
    click.echo(f"{'replaced' if len(kept) < len(templates) else 'added'} template {new.name} on channel "
               f"{channel_id} ({new.content_sid}; variables: {placeholders(new.variables)})")


@template.command("list")
@channel_option
@click.option("--json", "as_json", is_flag=True, help="The templates as one JSON array.")
def list_templates(channel_id: int, as_json: bool) -> None:
    """List a WhatsApp channel's templates."""
    with database() as conn:
        templates = load_templates(whatsapp_channel(conn, channel_id, lock=False).settings)
    if as_json:
        click.echo(json.dumps(templates_setting(templates), ensure_ascii=False))
        return
    if not templates:
        click.echo(f"channel {channel_id} has no templates yet: add one with `handoff channel template add`")
        return
    for item in templates:
        click.echo(f"{item.name}  {item.content_sid}  variables: {placeholders(item.variables)}")
        click.echo(f"    {item.body}")


@template.command("remove")
@channel_option
@name_option
def remove_template(channel_id: int, name: str) -> None:
    """Remove a template from a WhatsApp channel."""
    with database() as conn:
        templates = load_templates(whatsapp_channel(conn, channel_id).settings)
        if find_template(templates, name) is None:
            known = ", ".join(item.name for item in templates) or "none"
            raise click.ClickException(f"channel {channel_id} has no template {name} (it has: {known})")
        set_channel_settings(conn, channel_id, {"templates": templates_setting(
            [item for item in templates if item.name != name])})
    click.echo(f"removed template {name} from channel {channel_id}")
