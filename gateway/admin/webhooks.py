"""Outbound webhook subscriptions as an admin manages them (the settings page,
the admin API, `handoff webhook`): subscribe, change, delete, rotate the
secret, redeliver, test.

The secret is returned only when it is generated (subscribe, rotate), to be
shown once. Changes are audited naming the webhook and the keys that
changed, never values: URLs often carry a token. Deactivating a
subscription fails its pending deliveries; an inactive one cannot be tested
or redelivered to (409). Functions that queue a delivery return its id, to
enqueue after commit.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from marshmallow import Schema, ValidationError, fields, validate

from gateway import webhook_targets
from gateway.admin.audit import record_change
from gateway.errors import ApiError
from gateway.events import WEBHOOK_EVENTS, envelope
from gateway.store import webhooks

EVENT_CHOICES = (*WEBHOOK_EVENTS, "*")
# Sent by an admin's test of a subscription, whatever events it listens to.
PING = "ping"
MAX_URL_LENGTH = 2000


def webhook_url_problem(url: str, allowed_hosts: tuple[str, ...] | None = None) -> str | None:
    """Why `url` cannot receive webhooks, or None when it can: its shape, and
    with `allowed_hosts` (the WEBHOOK_ALLOWED_HOSTS setting) where it
    resolves to (gateway/webhook_targets.py: no loopback, private, link-local
    or metadata address unless allowed)."""
    if len(url) > MAX_URL_LENGTH:
        return f"at most {MAX_URL_LENGTH} characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return "not a valid URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http:// or https:// URL with a host"
    return None if allowed_hosts is None else webhook_targets.refusal(url, allowed_hosts)


def _check_url(url: str) -> None:
    problem = webhook_url_problem(url)
    if problem:
        raise ValidationError(problem)


class SubscriptionSchema(Schema):
    url = fields.String(required=True, validate=_check_url)
    events = fields.List(
        fields.String(validate=validate.OneOf(EVENT_CHOICES, error=f"must be one of: {', '.join(EVENT_CHOICES)}")),
        required=True, validate=validate.Length(min=1, error="name at least one event (or '*' for all)"))
    description = fields.String(validate=validate.Length(max=500, error="at most 500 characters"))
    active = fields.Boolean()


def _load(body: dict, *, partial: bool, allowed_hosts: tuple[str, ...]) -> dict:
    try:
        # A new subscription is active: `active` is for changes.
        loaded = SubscriptionSchema(partial=partial, exclude=() if partial else ("active",)).load(body)
    except ValidationError as error:
        raise ApiError(400, "invalid webhook subscription", error.messages) from None
    # Where the URL leads is checked once its shape is known good (it resolves the host).
    refused = "url" in loaded and webhook_targets.refusal(loaded["url"], allowed_hosts)
    if refused:
        raise ApiError(400, "invalid webhook subscription", {"url": [refused]})
    if "events" in loaded:
        loaded["events"] = list(dict.fromkeys(loaded["events"]))
    return loaded


def subscription_or_404(conn, subscription_id: int) -> dict:
    subscription = webhooks.get_subscription(conn, subscription_id)
    if subscription is None:
        raise ApiError(404, f"no webhook subscription {subscription_id}")
    return subscription


def _active_subscription(conn, subscription_id: int) -> dict:
    subscription = subscription_or_404(conn, subscription_id)
    if not subscription["active"]:
        raise ApiError(409, f"webhook subscription {subscription_id} is inactive: activate it first")
    return subscription


def subscribe(conn, body: dict, *, agent_id: int | None, allowed_hosts: tuple[str, ...]) -> dict:
    """The new subscription with its secret (shown only this once)."""
    change = _load(body, partial=False, allowed_hosts=allowed_hosts)
    created = webhooks.create_subscription(conn, url=change["url"], events=change["events"],
                                           description=change.get("description", ""))
    record_change(conn, agent_id, {"webhook_id": created["id"], "action": "created"})
    return dict(subscription_or_404(conn, created["id"]), secret=created["secret"])


def change_subscription(conn, subscription_id: int, body: dict, *, agent_id: int | None,
                        allowed_hosts: tuple[str, ...]) -> dict:
    change = _load(body, partial=True, allowed_hosts=allowed_hosts)
    before = subscription_or_404(conn, subscription_id)
    changed = sorted(key for key, value in change.items() if before[key] != value)
    if changed:
        webhooks.update_subscription(conn, subscription_id, **{key: change[key] for key in changed})
        record_change(conn, agent_id, {"webhook_id": subscription_id, "changed": changed})
    return subscription_or_404(conn, subscription_id)


def unsubscribe(conn, subscription_id: int, *, agent_id: int | None) -> None:
    if not webhooks.delete_subscription(conn, subscription_id):
        raise ApiError(404, f"no webhook subscription {subscription_id}")
    record_change(conn, agent_id, {"webhook_id": subscription_id, "action": "deleted"})


def rotate_secret(conn, subscription_id: int, *, agent_id: int | None) -> str:
    """A new signing secret, to show only this once; the old one stops at once."""
    secret = webhooks.rotate_secret(conn, subscription_id)
    if secret is None:
        raise ApiError(404, f"no webhook subscription {subscription_id}")
    record_change(conn, agent_id, {"webhook_id": subscription_id, "action": "secret_rotated"})
    return secret


def redeliver(conn, subscription_id: int, delivery_id: int) -> int:
    """Make a delivery due again now, whether it was delivered, failed or is waiting for a retry."""
    _active_subscription(conn, subscription_id)
    if not webhooks.reset_delivery(conn, subscription_id, delivery_id):
        raise ApiError(404, f"no delivery {delivery_id} of webhook subscription {subscription_id}")
    return delivery_id


def ping(conn, subscription_id: int) -> int:
    """A "ping" delivery to this subscription only."""
    subscription = _active_subscription(conn, subscription_id)
    return webhooks.insert_delivery(conn, subscription_id, PING, envelope(
        PING, {"subscription_id": subscription_id, "events": subscription["events"]}))
