"""A WhatsApp channel's approved templates as an admin sets them (the channel's
settings page, the admin API, `handoff channel template`)."""

from __future__ import annotations

from channels.registry import capabilities
from channels.templates import Template, load_templates, templates_setting
from gateway.admin.audit import record_change
from gateway.admin.channels import channel_or_404
from gateway.errors import ApiError
from gateway.store import channels


def whatsapp_channel_or_404(conn, channel_id: int) -> channels.ChannelRow:
    """The channel; 400 when it is not a WhatsApp channel (only those have templates)."""
    channel = channel_or_404(conn, channel_id)
    if not capabilities(channel.kind).templates:
        raise ApiError(400, f"channel {channel.id} is a {channel.kind} channel: templates are only for WhatsApp")
    return channel


def replace_templates(conn, channel_id: int, templates: list[Template], *, agent_id: int | None) -> None:
    """The channel's whole list of templates becomes `templates` (validated by TemplateListSchema)."""
    channel = whatsapp_channel_or_404(conn, channel_id)
    before = {template.name: template for template in load_templates(channel.settings)}
    after = {template.name: template for template in templates}
    change = {"added": sorted(after.keys() - before.keys()), "removed": sorted(before.keys() - after.keys()),
              "updated": sorted(name for name in after.keys() & before.keys() if after[name] != before[name])}
    if any(change.values()) or list(before) != list(after):
        channels.set_channel_settings(conn, channel_id, {"templates": templates_setting(templates)})
        record_change(conn, agent_id, {"channel_id": channel_id, "changed": ["templates"], **change})
