"""The admin JSON API (/api/admin/...): the bot settings, the channels (add, change,
check, disable, delete) and the WhatsApp channels' message templates.

Every endpoint is for admins (`api_auth(admin=True)`: a personal API token,
or the session cookie with X-CSRF-Token for writes). Every change is
recorded in the audit trail as a "settings.changed" event naming the keys
that changed, never their values: a channel's credentials are neither
returned nor recorded.
"""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify, url_for
from marshmallow import ValidationError
from redis.exceptions import RedisError

from channels.credentials import credential_hints
from channels.templates import TemplateListSchema, load_templates, templates_setting
from gateway import queues
from gateway.admin import audit
from gateway.admin import channels as channel_admin
from gateway.admin.bot import save_settings
from gateway.admin import templates as template_admin
from gateway.bot.settings import load_bot_settings
from gateway.db import transaction
from gateway.services import services
from gateway.store import channels
from gateway.web.auth import api_auth, current_agent
from gateway.web.bodies import json_object
from gateway.web.errors import ApiError

log = logging.getLogger(__name__)
bp = Blueprint("admin_api", __name__, url_prefix="/api/admin")


def record_change(conn, detail: dict) -> None:
    audit.record_change(conn, current_agent()["id"], detail)


def enqueue_sends(message_ids: list[int]) -> None:
    """Send these (already committed) messages now; if Redis is down the sweeper will."""
    try:
        with services().redis.pipeline(transaction=False) as pipe:
            for message_id in message_ids:
                queues.enqueue_send(services().redis, message_id, pipeline=pipe)
            pipe.execute()
    except RedisError as error:
        log.warning("messages %s not enqueued (Redis: %s); the sweeper will send them", message_ids, error)


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
        saved, _ = save_settings(conn, body, merge=merge, agent_id=current_agent()["id"])
    return jsonify(saved)


# --- channels -------------------------------------------------------------------------------


def channel_json(channel: channels.ChannelRow) -> dict:
    """What an admin may see of a channel: its credentials only as hints."""
    return {"id": channel.id, "kind": channel.kind, "name": channel.name, "address": channel.address,
            "mode": channel.mode, "team_id": channel.team_id, "created_at": channel.created_at,
            "disabled": channel.disabled_at is not None,
            "auth_failing": channel.auth_failed_at is not None, "auth_error": channel.auth_error,
            "credential_hints": credential_hints(channel.kind, channel.credentials),
            "webhook_urls": dict(channel_admin.webhook_urls(channel, services().config.public_url)),
            **({"snippet": channel_admin.embed_snippet(services().config.public_url, channel.address)}
               if channel.kind == "web" else {})}


def _channel_or_404(conn, channel_id: int) -> channels.ChannelRow:
    return channel_admin.channel_or_404(conn, channel_id)


@bp.get("/channels")
@api_auth(admin=True)
def list_channels():
    with services().pool.connection() as conn:
        return jsonify({"channels": [channel_json(channel) for channel in channels.list_channels(conn)]})


@bp.post("/channels")
@api_auth(admin=True)
def create_channel():
    """A new channel: {kind, name, address, credentials, mode?, team_id?} (web: no address nor credentials)."""
    with transaction(services().pool) as conn:
        row = channel_admin.add_channel(conn, json_object(), agent_id=current_agent()["id"])
    response = jsonify(channel_json(row))
    response.headers["Location"] = url_for(".get_channel", channel_id=row.id)
    return response, 201


@bp.get("/channels/<int:channel_id>")
@api_auth(admin=True)
def get_channel(channel_id: int):
    with services().pool.connection() as conn:
        return jsonify(channel_json(_channel_or_404(conn, channel_id)))


@bp.patch("/channels/<int:channel_id>")
@api_auth(admin=True)
def update_channel(channel_id: int):
    """Change a channel: {name?, mode?, team_id?, address?, credentials?, disabled?}; new credentials send
    again the messages that failed for authentication."""
    with transaction(services().pool) as conn:
        change = channel_admin.change_channel(conn, channel_id, json_object(), agent_id=current_agent()["id"])
    enqueue_sends(change.resend)
    return jsonify(dict(channel_json(change.channel), changed=change.changed, resent=len(change.resend)))


@bp.delete("/channels/<int:channel_id>")
@api_auth(admin=True)
def delete_channel(channel_id: int):
    """Delete a channel with its conversations and messages (PATCH {"disabled": true} keeps them)."""
    with transaction(services().pool) as conn:
        usage = channel_admin.remove_channel(conn, channel_id, agent_id=current_agent()["id"])
    return jsonify({"deleted": channel_id, "conversations": usage["conversations"], "messages": usage["messages"]})


@bp.post("/channels/<int:channel_id>/check")
@api_auth(admin=True)
def check_channel(channel_id: int):
    """Ask the provider whether the channel's credentials work."""
    with services().pool.connection() as conn:
        channel = _channel_or_404(conn, channel_id)
    result = channel_admin.check_credentials(channel, services().config)
    return jsonify({"ok": result.ok, "message": result.message, "detail": result.detail})


# --- WhatsApp templates ---------------------------------------------------------------------


def _templates_json(channel_id: int, templates: list) -> dict:
    return {"channel_id": channel_id, "templates": templates_setting(templates)}


@bp.get("/channels/<int:channel_id>/templates")
@api_auth(admin=True)
def get_templates(channel_id: int):
    """The approved templates agents may send outside WhatsApp's 24-hour window."""
    with services().pool.connection() as conn:
        channel = template_admin.whatsapp_channel_or_404(conn, channel_id)
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
        template_admin.replace_templates(conn, channel_id, templates, agent_id=current_agent()["id"])
    return jsonify(_templates_json(channel_id, templates))
