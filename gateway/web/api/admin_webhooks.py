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

For admins (`api_auth(admin=True)`); the rules are gateway/admin/webhooks.py's,
which the settings page shares.
"""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify, request, url_for
from redis.exceptions import RedisError

from gateway import queues
from gateway.admin import webhooks as webhook_admin
from gateway.db import transaction
from gateway.services import services
from gateway.store import webhooks
from gateway.web.auth import api_auth, current_agent
from gateway.web.bodies import json_object
from gateway.web.errors import ApiError

log = logging.getLogger(__name__)
bp = Blueprint("admin_webhooks", __name__, url_prefix="/api/admin/webhooks")

MAX_DELIVERIES = 100


def enqueue_delivery(delivery_id: int) -> None:
    try:
        queues.enqueue_webhook_delivery(services().redis, delivery_id)
    except RedisError as error:
        log.warning("could not enqueue webhook delivery %s (Redis: %s); the sweeper will send it",
                    delivery_id, error)


def _me() -> int:
    return current_agent()["id"]


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
    with transaction(services().pool) as conn:
        subscription = webhook_admin.subscribe(conn, json_object(), agent_id=_me(),
                                               allowed_hosts=services().config.webhook_allowed_hosts)
    response = jsonify(subscription)
    response.headers["Location"] = url_for(".get_subscription", subscription_id=subscription["id"])
    return response, 201


@bp.get("/<int:subscription_id>")
@api_auth(admin=True)
def get_subscription(subscription_id: int):
    with services().pool.connection() as conn:
        return jsonify(webhook_admin.subscription_or_404(conn, subscription_id))


@bp.patch("/<int:subscription_id>")
@api_auth(admin=True)
def update_subscription(subscription_id: int):
    with transaction(services().pool) as conn:
        return jsonify(webhook_admin.change_subscription(
            conn, subscription_id, json_object(), agent_id=_me(),
            allowed_hosts=services().config.webhook_allowed_hosts))


@bp.delete("/<int:subscription_id>")
@api_auth(admin=True)
def delete_subscription(subscription_id: int):
    with transaction(services().pool) as conn:
        webhook_admin.unsubscribe(conn, subscription_id, agent_id=_me())
    return "", 204


@bp.post("/<int:subscription_id>/rotate-secret")
@api_auth(admin=True)
def rotate_secret(subscription_id: int):
    """A new signing secret, shown only this once; the old one stops at once."""
    with transaction(services().pool) as conn:
        secret = webhook_admin.rotate_secret(conn, subscription_id, agent_id=_me())
    return jsonify({"id": subscription_id, "secret": secret})


def deliveries_limit() -> int:
    limit = request.args.get("limit", 20)
    try:
        limit = int(limit)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_DELIVERIES:
        raise ApiError(400, "invalid limit", {"limit": [f"a whole number from 1 to {MAX_DELIVERIES}"]})
    return limit


@bp.get("/<int:subscription_id>/deliveries")
@api_auth(admin=True)
def list_deliveries(subscription_id: int):
    limit = deliveries_limit()
    with services().pool.connection() as conn:
        webhook_admin.subscription_or_404(conn, subscription_id)
        rows = webhooks.recent_deliveries(conn, subscription_id, limit)
    return jsonify({"deliveries": rows})


@bp.post("/<int:subscription_id>/deliveries/<int:delivery_id>/redeliver")
@api_auth(admin=True)
def redeliver(subscription_id: int, delivery_id: int):
    """Send a delivery again now, whether it was delivered, failed or is waiting for a retry."""
    with transaction(services().pool) as conn:
        webhook_admin.redeliver(conn, subscription_id, delivery_id)
    enqueue_delivery(delivery_id)
    return jsonify({"delivery_id": delivery_id}), 202


@bp.post("/<int:subscription_id>/test")
@api_auth(admin=True)
def send_test(subscription_id: int):
    """Send a "ping" event to this subscription only; see its delivery in /deliveries."""
    with transaction(services().pool) as conn:
        delivery_id = webhook_admin.ping(conn, subscription_id)
    enqueue_delivery(delivery_id)
    return jsonify({"delivery_id": delivery_id}), 202
