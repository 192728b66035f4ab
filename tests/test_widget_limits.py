"""Widget rate limits (issue 13: "one visitor: 500 messages in 2.8 s, 500
sessions creating 500 contacts in 1.6 s"): per visitor, per address and per
channel, answered 429 with Retry-After; nothing is stored past the limit."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gateway.app import create_app
from gateway.config import Rate
from tests.helpers import add_web_channel, client_at, count, post_widget_message, widget_session


@pytest.fixture
def limited(config):
    app = create_app(replace(config, trusted_proxies=1).with_rates(
        widget_sessions_per_address=Rate(5, 60), widget_sessions_per_channel=Rate(8, 60),
        widget_messages_per_visitor=Rate(4, 60), widget_messages_per_address=Rate(6, 60),
        widget_messages_per_channel=Rate(9, 60)))
    yield app
    app.extensions["handoff"].pool.close()


def start(client, key: str, **body):
    return client.post(f"/api/widget/{key}/session", json=body)


def test_sessions_from_one_address_are_limited(limited, db):
    channel = add_web_channel(db)
    visitor = client_at(limited, "203.0.113.9")
    statuses = [start(visitor, channel.address, name=f"Bot {n}", email=f"b{n}@example.com").status_code
                for n in range(7)]
    assert statuses == [200] * 5 + [429] * 2
    refused = start(visitor, channel.address)
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert refused.get_json()["error"].startswith("too many sessions: try again in")
    assert count(db, "contacts") == 5
    assert start(client_at(limited, "198.51.100.7"), channel.address).status_code == 200


def test_sessions_on_one_channel_are_limited_whatever_the_address(limited, db):
    channel, other = add_web_channel(db), add_web_channel(db, name="Other site")
    statuses = [start(client_at(limited, f"203.0.113.{n}"), channel.address).status_code for n in range(9)]
    assert statuses == [200] * 8 + [429]
    assert start(client_at(limited, "203.0.113.200"), other.address).status_code == 200


def test_one_visitors_messages_are_limited(limited, db):
    channel = add_web_channel(db)
    visitor = client_at(limited, "203.0.113.9")
    token = widget_session(visitor, channel.address)["visitor_token"]
    statuses = [post_widget_message(visitor, token, f"message {n}", client_id=f"client-{n:04}").status_code
                for n in range(6)]
    assert statuses == [201] * 4 + [429] * 2
    assert count(db, "messages") == 4


def test_messages_from_one_address_are_limited_across_visitors(limited, db):
    channel = add_web_channel(db)
    office = client_at(limited, "203.0.113.9")
    statuses = []
    for visitor in range(3):
        token = widget_session(office, channel.address)["visitor_token"]
        statuses += [post_widget_message(office, token, f"hi {n}", client_id=f"client-{visitor}-{n:03}").status_code
                     for n in range(3)]
    assert statuses == [201] * 6 + [429] * 3


def test_messages_on_one_channel_are_limited(limited, db):
    channel = add_web_channel(db)
    statuses = []
    for visitor in range(5):
        client = client_at(limited, f"203.0.113.{visitor}")
        token = widget_session(client, channel.address)["visitor_token"]
        statuses += [post_widget_message(client, token, f"hi {n}", client_id=f"client-{visitor}-{n:03}").status_code
                     for n in range(2)]
    assert statuses == [201] * 9 + [429]


def test_without_redis_nothing_is_limited(config, db):
    """Redis down: the widget still works (PostgreSQL holds the messages; the sweeper enqueues them)."""
    app = create_app(replace(config, redis_url="redis://127.0.0.1:1/0").with_rates(
        widget_sessions_per_address=Rate(1, 60)))
    try:
        channel = add_web_channel(db)
        client = app.test_client()
        assert [start(client, channel.address).status_code for _ in range(3)] == [200] * 3
    finally:
        app.extensions["handoff"].pool.close()
