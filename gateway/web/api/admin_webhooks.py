"""The admin API of outbound webhooks (/api/admin/webhooks).

    GET    /                                        subscriptions, each with its last delivery
    POST   /                                        subscribe {url, events, description?} -> 201, the secret once
    GET    /<id>                                    one subscription
    PATCH  /<id>                                    {url?, events?, description?, active?}
    DELETE /<id>                                    with its deliveries -> 204
    POST   /<id>/rotate-secret                      a new secret, shown once
    GET    /<id>/deliveries?limit=20                recent deliveries with their envelope and attempts
    POST   /<id>/deliveries/<delivery_id>/redeliver send it again now -> 202
    POST   /<id>/test                               send a "ping" event -> 202

For admins (`api_auth(admin=True)`). The secret is returned only when it is
generated (subscribe, rotate-secret). Changes are audited as
"settings.changed" events naming the webhook and the keys that changed,
never values: URLs often carry a token, and the secret is never recorded.
Deactivating a subscription fails its pending deliveries; an inactive one
cannot be tested or redelivered to (409).
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Blueprint, jsonify, request, url_for
from marshmallow import Schema, ValidationError, fields, validate
from redis.exceptions import RedisError

from gateway import queues, webhook_targets
from gateway.db import transaction
from gateway.events import WEBHOOK_EVENTS, envelope
from gateway.services import services
from gateway.store import webhooks
from gateway.web.api.admin import record_change
from gateway.web.auth import api_auth
from gateway.web.bodies import json_object
from gateway.web.errors import ApiError

log = logging.getLogger(__name__)
bp = Blueprint("admin_webhooks", __name__, url_prefix="/api/admin/webhooks")

EVENT_CHOICES = (*WEBHOOK_EVENTS, "*")
# Sent by an admin's test of a subscription, whatever events it listens to.
PING = "ping"
MAX_URL_LENGTH = 2000
MAX_DELIVERIES = 100


def webhook_url_problem(url: str, allowed_hosts: tuple[str, ...]) -> str | None:
    """Why `url` cannot receive webhooks, or None when it can: its shape,
    then where it resolves to (gateway/webhook_targets.py)."""
    if len(url) > MAX_URL_LENGTH:
        return f"at most {MAX_URL_LENGTH} characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return "not a valid URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http:// or https:// URL with a host"
    return webhook_targets.refusal(url, allowed_hosts)


def _check_url(url: str) -> None:
    problem = webhook_url_problem(url, services().config.webhook_allowed_hosts)
    if problem:
        raise ValidationError(problem)


class SubscriptionSchema(Schema):
    url = fields.String(required=True, validate=_check_url)
    events = fields.List(
        fields.String(validate=validate.OneOf(EVENT_CHOICES, error=f"must be one of: {', '.join(EVENT_CHOICES)}")),
        required=True, validate=validate.Length(min=1, error="name at least one event (or '*' for all)"))
    description = fields.String(validate=validate.Length(max=500, error="at most 500 characters"))
    active = fields.Boolean()


def _load(body: dict, *, partial: bool) -> dict:
    try:
        # A new subscription is active: `active` is for PATCH.
        loaded = SubscriptionSchema(partial=partial, exclude=() if partial else ("active",)).load(body)
    except ValidationError as error:
        raise ApiError(400, "invalid webhook subscription", error.messages) from None
    if "events" in loaded:
        loaded["events"] = list(dict.fromkeys(loaded["events"]))
    return loaded


def _subscription_or_404(conn, subscription_id: int) -> dict:
    subscription = webhooks.get_subscription(conn, subscription_id)
    if subscription is None:
        raise ApiError(404, f"no webhook subscription {subscription_id}")
    return subscription


def _active_subscription(conn, subscription_id: int) -> dict:
    subscription = _subscription_or_404(conn, subscription_id)
    if not subscription["active"]:
        raise ApiError(409, f"webhook subscription {subscription_id} is inactive: activate it first")
    return subscription


def _enqueue(delivery_id: int) -> None:
    try:
        queues.enqueue_webhook_delivery(services().redis, delivery_id)
    except RedisError as error:
        log.warning("could not enqueue webhook delivery %s (Redis: %s); the sweeper will send it",
                    delivery_id, error)


@bp.get("")
@api_auth(admin=True)
def list_subscriptions():
    with services().pool.connection() as conn:
        rows = webhooks.list_subscriptions(conn)
    return jsonify({"webhooks": rows})


@bp.post("")
@api_auth(admin=True)
def create_subscription():
    """Subscribe a URL; the answer carries the signing secret, shown only this once."""
    change = _load(json_object(), partial=False)
    with transaction(services().pool) as conn:
        created = webhooks.create_subscription(conn, url=change["url"], events=change["events"],
                                               description=change.get("description", ""))
        record_change(conn, {"webhook_id": created["id"], "action": "created"})
        subscription = _subscription_or_404(conn, created["id"])
    response = jsonify(dict(subscription, secret=created["secret"]))
    response.headers["Location"] = url_for(".get_subscription", subscription_id=created["id"])
    return response, 201


@bp.get("/<int:subscription_id>")
@api_auth(admin=True)
def get_subscription(subscription_id: int):
    with services().pool.connection() as conn:
        return jsonify(_subscription_or_404(conn, subscription_id))


@bp.patch("/<int:subscription_id>")
@api_auth(admin=True)
def update_subscription(subscription_id: int):
    change = _load(json_object(), partial=True)
    with transaction(services().pool) as conn:
        before = _subscription_or_404(conn, subscription_id)
        changed = sorted(key for key, value in change.items() if before[key] != value)
        if changed:
            webhooks.update_subscription(conn, subscription_id, **{key: change[key] for key in changed})
            record_change(conn, {"webhook_id": subscription_id, "changed": changed})
        return jsonify(_subscription_or_404(conn, subscription_id))


@bp.delete("/<int:subscription_id>")
@api_auth(admin=True)
def delete_subscription(subscription_id: int):
    with transaction(services().pool) as conn:
        if not webhooks.delete_subscription(conn, subscription_id):
            raise ApiError(404, f"no webhook subscription {subscription_id}")
        record_change(conn, {"webhook_id": subscription_id, "action": "deleted"})
    return "", 204


@bp.post("/<int:subscription_id>/rotate-secret")
@api_auth(admin=True)
def rotate_secret(subscription_id: int):
    """A new signing secret, shown only this once; the old one stops at once."""
    with transaction(services().pool) as conn:
        secret = webhooks.rotate_secret(conn, subscription_id)
        if secret is None:
            raise ApiError(404, f"no webhook subscription {subscription_id}")
        record_change(conn, {"webhook_id": subscription_id, "action": "secret_rotated"})
    return jsonify({"id": subscription_id, "secret": secret})


@bp.get("/<int:subscription_id>/deliveries")
@api_auth(admin=True)
def list_deliveries(subscription_id: int):
    limit = request.args.get("limit", 20)
    try:
        limit = int(limit)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_DELIVERIES:
        raise ApiError(400, "invalid limit", {"limit": [f"a whole number from 1 to {MAX_DELIVERIES}"]})
    with services().pool.connection() as conn:
        _subscription_or_404(conn, subscription_id)
        rows = webhooks.recent_deliveries(conn, subscription_id, limit)
    return jsonify({"deliveries": rows})


@bp.post("/<int:subscription_id>/deliveries/<int:delivery_id>/redeliver")
@api_auth(admin=True)
def redeliver(subscription_id: int, delivery_id: int):
    """Send a delivery again now, whether it was delivered, failed or is waiting for a retry."""
    with transaction(services().pool) as conn:
        _active_subscription(conn, subscription_id)
        if not webhooks.reset_delivery(conn, subscription_id, delivery_id):
            raise ApiError(404, f"no delivery {delivery_id} of webhook subscription {subscription_id}")
    _enqueue(delivery_id)
    return jsonify({"delivery_id": delivery_id}), 202


@bp.post("/<int:subscription_id>/test")
@api_auth(admin=True)
def send_test(subscription_id: int):
    """Send a "ping" event to this subscription only; see its delivery in /deliveries."""
    with transaction(services().pool) as conn:
        subscription = _active_subscription(conn, subscription_id)
        delivery_id = webhooks.insert_delivery(conn, subscription_id, PING, envelope(
            PING, {"subscription_id": subscription_id, "events": subscription["events"]}))
    _enqueue(delivery_id)
    return jsonify({"delivery_id": delivery_id}), 202
