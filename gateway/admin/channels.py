"""Channels as an admin sets them up: add, change (name, mode, team,
address, credentials), disable, delete, and check the credentials with the
provider.

New credentials clear the channel's authentication flag and send again the
messages that failed because the provider refused the old ones (within
three days), so fixing a typo in a token is enough for the customers who
were not answered to get their answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from marshmallow import Schema, ValidationError, fields, validate
from psycopg import errors as pg_errors

from channels.credentials import (
    CredentialCheck,
    CredentialProblem,
    address_of,
    check_messenger,
    check_twilio,
    checked_credentials,
)
from channels.registry import KINDS
from gateway.admin.audit import record_change
from gateway.config import Config
from gateway.errors import ApiError
from gateway.store import channels, messages, teams

MODES = ("bot_only", "hybrid", "offline_or_missed")
MODE_LABELS = {
    "bot_only": "Bot first: the bot answers until a trigger hands the conversation to people",
    "hybrid": "Hybrid: the bot answers, and an agent may step in at any time",
    "offline_or_missed": "People first: the bot answers outside hours, when nobody is online or nobody answered",
}
NAME_LENGTH = validate.Length(min=1, max=100, error="a name of 1 to 100 characters")


class ChannelSchema(Schema):
    """A new channel, or (partial) a change to one. Credentials left out or
    blank keep their current values."""

    kind = fields.String(required=True, validate=validate.OneOf(KINDS, error=f"one of: {', '.join(KINDS)}"))
    name = fields.String(required=True, validate=NAME_LENGTH)
    mode = fields.String(validate=validate.OneOf(MODES, error=f"must be one of: {', '.join(MODES)}"))
    team_id = fields.Integer(allow_none=True, strict=False)
    address = fields.String()
    credentials = fields.Dict(keys=fields.String(), values=fields.String())
    disabled = fields.Boolean()


def _load(body: dict, *, partial: bool) -> dict:
    try:
        loaded = ChannelSchema(partial=partial).load(body)
    except ValidationError as error:
        raise ApiError(400, "invalid channel", error.messages) from None
    if "name" in loaded:
        loaded["name"] = loaded["name"].strip()
        if not loaded["name"]:
            raise ApiError(400, "invalid channel", {"name": ["must not be blank"]})
    return loaded


def _problem(error: CredentialProblem) -> ApiError:
    where = "address" if error.field == "address" else f"credentials.{error.field}"
    return ApiError(400, "invalid channel", {where: [str(error)]})


def _check_team(conn, team_id: int | None) -> None:
    if team_id is not None and teams.get_team(conn, team_id) is None:
        raise ApiError(400, "invalid channel", {"team_id": [f"no team {team_id}"]})


def add_channel(conn, body: dict, *, agent_id: int | None) -> channels.ChannelRow:
    """A new channel from {kind, name, address?, credentials?, mode?, team_id?}."""
    from channels.web import new_widget_key

    new = _load(body, partial=False)
    kind = new["kind"]
    try:
        address = new_widget_key() if kind == "web" else address_of(kind, new.get("address", ""))
        credentials = checked_credentials(kind, new.get("credentials", {}))
    except CredentialProblem as error:
        raise _problem(error) from None
    _check_team(conn, new.get("team_id"))
    existing = channels.find_channel(conn, kind, address)
    if existing is not None:
        raise ApiError(409, f'a {kind} channel for {address} already exists (channel {existing.id}, '
                            f'"{existing.name}"): change that one instead')
    try:
        with conn.transaction():
            row = channels.create_channel(conn, kind=kind, name=new["name"], address=address,
                                          credentials=credentials, mode=new.get("mode", "bot_only"),
                                          team_id=new.get("team_id"))
    except pg_errors.UniqueViolation:
        raise ApiError(409, f"a {kind} channel for {address} already exists") from None
    record_change(conn, agent_id, {"channel_id": row.id, "action": "created"})
    return row


@dataclass(frozen=True)
class ChannelChange:
    channel: channels.ChannelRow
    changed: list[str]
    # Messages failed for authentication, pending again: enqueue them after commit.
    resend: list[int] = field(default_factory=list)


def change_channel(conn, channel_id: int, body: dict, *, agent_id: int | None) -> ChannelChange:
    """Apply {name?, mode?, team_id?, address?, credentials?, disabled?} to the channel."""
    change = _load(body, partial=True)
    before = channel_or_404(conn, channel_id, lock=True)
    if change.get("kind", before.kind) != before.kind:
        raise ApiError(400, "invalid channel change", {"kind": ["a channel's kind cannot change: add a new channel"]})
    changed = []
    if change.get("name", before.name) != before.name or change.get("mode", before.mode) != before.mode:
        channels.update_channel(conn, channel_id, name=change.get("name"), mode=change.get("mode"))
        changed += [key for key in ("name", "mode") if key in change and change[key] != getattr(before, key)]
    if "team_id" in change and change["team_id"] != before.team_id:
        _check_team(conn, change["team_id"])
        channels.set_team(conn, channel_id, change["team_id"])
        changed.append("team_id")
    resend = []
    if "credentials" in change or ("address" in change and before.kind != "web"):
        try:
            address = address_of(before.kind, change["address"]) if "address" in change else before.address
            credentials = checked_credentials(before.kind, change.get("credentials", {}), before.credentials)
        except CredentialProblem as error:
            raise _problem(error) from None
        if address != before.address:
            other = channels.find_channel(conn, before.kind, address)
            if other is not None:
                raise ApiError(409, f'channel {other.id} ("{other.name}") already has the address {address}')
            changed.append("address")
        if credentials != before.credentials:
            changed.append("credentials")
        if address != before.address or credentials != before.credentials:
            channels.set_credentials(conn, channel_id, credentials, address=address)
            resend = messages.requeue_auth_failures(conn, channel_id)
    if "disabled" in change and change["disabled"] != (before.disabled_at is not None):
        channels.set_disabled(conn, channel_id, change["disabled"])
        changed.append("disabled")
    if changed:
        # Which keys, never the credentials themselves.
        record_change(conn, agent_id, {"channel_id": channel_id, "changed": sorted(changed),
                                       **({"resent": len(resend)} if resend else {})})
    return ChannelChange(channels.get_channel(conn, channel_id), sorted(changed), resend)


def remove_channel(conn, channel_id: int, *, agent_id: int | None) -> dict:
    """Delete the channel with its conversations and messages; returns what went with it."""
    channel_or_404(conn, channel_id, lock=True)
    usage = channels.channel_usage(conn, channel_id)
    channels.delete_channel(conn, channel_id)
    record_change(conn, agent_id, {"channel_id": channel_id, "action": "deleted",
                                   "conversations": usage["conversations"], "messages": usage["messages"]})
    return usage


def channel_or_404(conn, channel_id: int, *, lock: bool = False) -> channels.ChannelRow:
    channel = (channels.lock_channel if lock else channels.get_channel)(conn, channel_id)
    if channel is None:
        raise ApiError(404, f"no channel {channel_id}")
    return channel


def check_credentials(channel: channels.ChannelRow, config: Config) -> CredentialCheck:
    """Ask the provider whether the channel's credentials work (a provider call: outside any transaction)."""
    if channel.kind == "whatsapp":
        return check_twilio(channel.credentials, api_base_url=config.twilio_api_base_url,
                            timeout=config.provider_timeout)
    if channel.kind == "messenger":
        return check_messenger(channel.address, channel.credentials, graph_url=config.messenger_graph_url,
                               graph_version=config.messenger_graph_version, timeout=config.provider_timeout)
    return CredentialCheck(True, "The web widget needs no credentials: paste its snippet into your pages.")


def webhook_urls(channel: channels.ChannelRow, public_url: str) -> list[tuple[str, str]]:
    """(label, URL) pairs to paste into the provider's console."""
    if channel.kind == "whatsapp":
        return [("When a message comes in (POST)", f"{public_url}/webhooks/twilio/whatsapp"),
                ("Status callback URL (POST)", f"{public_url}/webhooks/twilio/status")]
    if channel.kind == "messenger":
        return [("Callback URL", f"{public_url}/webhooks/messenger")]
    return []


def embed_snippet(public_url: str, widget_key: str) -> str:
    return f'<script src="{public_url}/widget.js" data-key="{widget_key}" async></script>'
