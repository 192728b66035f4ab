"""The admin JSON API (/api/admin/...): the bot settings, the channels' mode and name,
and the WhatsApp channels' message templates.

Every endpoint is for admins (`api_auth(admin=True)`: a personal API token,
or the session cookie with X-CSRF-Token for writes). Every change is
recorded in the audit trail as a "settings.changed" event naming the keys
that changed, never their values: a channel's credentials are neither
returned nor recorded.
"""

from __future__ import annotations

from flask import Blueprint, jsonify
from marshmallow import Schema, ValidationError, fields, validate

from channels.registry import capabilities
from channels.templates import TemplateListSchema, load_templates, templates_setting
from gateway.bot.settings import load_bot_settings, save_bot_settings
from gateway.db import transaction
from gateway.events import emit
from gateway.services import services
from gateway.store import channels
from gateway.web.auth import api_auth, current_agent
from gateway.web.bodies import json_object
from gateway.web.errors import ApiError

bp = Blueprint("admin_api", __name__, url_prefix="/api/admin")

CHANNEL_MODES = ("bot_only", "hybrid", "offline_or_missed")


class ChannelChangeSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=100, error="a name of 1 to 100 characters"))
    mode = fields.String(validate=validate.OneOf(CHANNEL_MODES, error=f"must be one of: {', '.join(CHANNEL_MODES)}"))


def _changed_keys(before: dict, after: dict) -> list[str]:
    return sorted(key for key in after.keys() | before.keys() if before.get(key) != after.get(key))


def record_change(conn, detail: dict) -> None:
    emit(conn, None, "settings.changed", agent_id=current_agent()["id"], detail=detail)


# --- bot settings ---------------------------------------------------------------------------


@bp.get("/bot-settings")
@api_auth(admin=True)
def get_bot_settings():
    """The full normalized document the bot runs with (defaults filled in)."""
    with services().pool.connection() as conn:
        return jsonify(load_bot_settings(conn))


@bp.put("/bot-settings")
@api_auth(admin=True)
def replace_bot_settings():
    """Replace the whole document; fields left out take their defaults."""
    return _save_bot_settings(json_object(), merge=False)


@bp.patch("/bot-settings")
@api_auth(admin=True)
def update_bot_settings():
    """Replace the top-level keys given; the others keep their current values."""
    return _save_bot_settings(json_object(), merge=True)


def _save_bot_settings(body: dict, *, merge: bool):
    with transaction(services().pool) as conn:
        # Serializes concurrent edits, so that a PATCH never undoes another one.
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('handoff:bot-settings'))")
        current = load_bot_settings(conn)
        try:
            saved = save_bot_settings(conn, {**current, **body} if merge else body)
        except ValidationError as error:
            raise ApiError(400, "invalid bot settings", error.messages) from None
        changed = _changed_keys(current, saved)
        if changed:
            record_change(conn, {"settings": "bot", "changed": changed})
    return jsonify(saved)


# --- channels -------------------------------------------------------------------------------


def _channel_json(channel: channels.ChannelRow) -> dict:
    """What an admin may see of a channel: everything but its credentials."""
    return {"id": channel.id, "kind": channel.kind, "name": channel.name, "address": channel.address,
            "mode": channel.mode, "team_id": channel.team_id, "created_at": channel.created_at}


def _channel_or_404(conn, channel_id: int) -> channels.ChannelRow:
    channel = channels.get_channel(conn, channel_id)
    if channel is None:
        raise ApiError(404, f"no channel {channel_id}")
    return channel


@bp.get("/channels/<int:channel_id>")
@api_auth(admin=True)
def get_channel(channel_id: int):
    with services().pool.connection() as conn:
        return jsonify(_channel_json(_channel_or_404(conn, channel_id)))


@bp.patch("/channels/<int:channel_id>")
@api_auth(admin=True)
def update_channel(channel_id: int):
    """Change a channel's mode and/or name."""
    try:
        change = ChannelChangeSchema().load(json_object())
    except ValidationError as error:
        raise ApiError(400, "invalid channel change", error.messages) from None
    if "name" in change:
        change["name"] = change["name"].strip()
        if not change["name"]:
            raise ApiError(400, "invalid channel change", {"name": ["must not be blank"]})
    with transaction(services().pool) as conn:
        before = _channel_or_404(conn, channel_id)
        changed = [key for key, value in change.items() if getattr(before, key) != value]
        if changed:
            channels.update_channel(conn, channel_id, name=change.get("name"), mode=change.get("mode"))
            record_change(conn, {"channel_id": channel_id, "changed": sorted(changed)})
        return jsonify(_channel_json(channels.get_channel(conn, channel_id)))


# --- WhatsApp templates ---------------------------------------------------------------------


def _templates_json(channel_id: int, templates: list) -> dict:
    return {"channel_id": channel_id, "templates": templates_setting(templates)}


def _whatsapp_channel_or_404(conn, channel_id: int) -> channels.ChannelRow:
    """The channel; 400 when it is not a WhatsApp channel (only those have templates)."""
    channel = _channel_or_404(conn, channel_id)
    if not capabilities(channel.kind).templates:
        raise ApiError(400, f"channel {channel.id} is a {channel.kind} channel: templates are only for WhatsApp")
    return channel


@bp.get("/channels/<int:channel_id>/templates")
@api_auth(admin=True)
def get_templates(channel_id: int):
    """The approved templates agents may send outside WhatsApp's 24-hour window."""
    with services().pool.connection() as conn:
        channel = _whatsapp_channel_or_404(conn, channel_id)
        return jsonify(_templates_json(channel_id, load_templates(channel.settings)))


@bp.put("/channels/<int:channel_id>/templates")
@api_auth(admin=True)
def replace_templates(channel_id: int):
    """Replace the channel's whole list of templates ({"templates": [...]})."""
    try:
        templates = TemplateListSchema().load(json_object())["templates"]
    except ValidationError as error:
        raise ApiError(400, "invalid templates", error.messages) from None
    with transaction(services().pool) as conn:
        channel = _whatsapp_channel_or_404(conn, channel_id)
        before = {template.name: template for template in load_templates(channel.settings)}
        after = {template.name: template for template in templates}
        change = {"added": sorted(after.keys() - before.keys()), "removed": sorted(before.keys() - after.keys()),
                  "updated": sorted(name for name in after.keys() & before.keys() if after[name] != before[name])}
        if any(change.values()) or list(before) != list(after):
            channels.set_channel_settings(conn, channel_id, {"templates": templates_setting(templates)})
            record_change(conn, {"channel_id": channel_id, "changed": ["templates"], **change})
    return jsonify(_templates_json(channel_id, templates))
