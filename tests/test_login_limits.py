"""Failed-login limits (issue 13: "unlimited password spraying, anyone can
lock an agent out, and behind the TLS proxy the lockout hits everyone"):
per account, per address and global, with 429 and Retry-After; an agent
keeps logging in from where they did before; behind TRUSTED_PROXIES the
address is the client's."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gateway.app import create_app
from gateway.config import Rate
from tests.helpers import add_agent, client_at, log_in

PASSWORD = "correct horse battery staple"


@pytest.fixture
def limited_app(config):
    """The app with small limits: 3 failures per account, 5 per address, 8 in all, per 15 minutes;
    one proxy in front."""
    app = create_app(replace(config, trusted_proxies=1).with_rates(
        login_failures_per_account=Rate(3, 900), login_failures_per_address=Rate(5, 900),
        login_failures_global=Rate(8, 900)))
    yield app
    app.extensions["handoff"].pool.close()


def attempt(client, email: str, password: str = "wrong guess"):
    return log_in(client, email=email, password=password)


def test_failures_for_one_account_block_it_with_429_and_retry_after(limited_app, db):
    add_agent(db, email="ada@example.com")
    attacker = client_at(limited_app, "203.0.113.9")
    assert [attempt(attacker, "ada@example.com").status_code for _ in range(3)] == [200, 200, 200]
    blocked = attempt(client_at(limited_app, "198.51.100.1"), "ada@example.com", PASSWORD)
    assert blocked.status_code == 429
    assert 0 < int(blocked.headers["Retry-After"]) <= 900
    assert "Too many failed attempts" in blocked.get_data(as_text=True)


def test_the_agent_still_logs_in_from_an_address_they_used_before(limited_app, db):
    add_agent(db, email="ada@example.com")
    assert attempt(client_at(limited_app, "192.0.2.10"), "ada@example.com", PASSWORD).status_code == 303
    attacker = client_at(limited_app, "203.0.113.9")
    for _ in range(3):
        attempt(attacker, "ada@example.com")
    assert attempt(attacker, "ada@example.com", PASSWORD).status_code == 429
    assert attempt(client_at(limited_app, "192.0.2.10"), "ada@example.com", PASSWORD).status_code == 303


def test_spraying_many_accounts_from_one_address_is_blocked(limited_app, db):
    add_agent(db, email="grace@example.com")
    sprayer = client_at(limited_app, "203.0.113.9")
    for number in range(5):
        assert attempt(sprayer, f"user{number}@example.com").status_code == 200
    assert attempt(sprayer, "grace@example.com", PASSWORD).status_code == 429
    # The same account from elsewhere is not affected.
    assert attempt(client_at(limited_app, "198.51.100.1"), "grace@example.com", PASSWORD).status_code == 303


def test_a_distributed_spray_trips_the_global_limit(limited_app, db):
    add_agent(db, email="grace@example.com")
    for number in range(8):
        attempt(client_at(limited_app, f"203.0.113.{number}"), f"user{number}@example.com")
    assert attempt(client_at(limited_app, "198.51.100.1"), "grace@example.com", PASSWORD).status_code == 429


def test_behind_the_proxy_one_clients_failures_do_not_lock_out_another(limited_app, db):
    """Without TRUSTED_PROXIES every request would come from the proxy's address."""
    add_agent(db, email="ada@example.com")
    add_agent(db, email="grace@example.com", name="Grace")
    attacker = client_at(limited_app, "203.0.113.9")
    for number in range(5):
        attempt(attacker, f"user{number}@example.com")
    assert attempt(attacker, "grace@example.com", PASSWORD).status_code == 429
    assert attempt(client_at(limited_app, "198.51.100.1"), "ada@example.com", PASSWORD).status_code == 303


def test_a_forged_forwarded_for_does_not_choose_the_address(limited_app, db):
    """Only the entry the trusted proxy added counts: one the client wrote before it is ignored."""
    add_agent(db, email="grace@example.com")
    for number in range(5):
        attacker = client_at(limited_app, f"10.9.9.{number}, 203.0.113.9")
        attempt(attacker, f"user{number}@example.com")
    assert attempt(client_at(limited_app, "203.0.113.9"), "grace@example.com", PASSWORD).status_code == 429


def test_email_and_address_are_hashed_in_redis(limited_app, db, redis):
    attempt(client_at(limited_app, "203.0.113.9"), "ada@example.com")
    keys = b" ".join(redis.keys("handoff:rate:*"))
    assert b"example.com" not in keys and b"203.0.113.9" not in keys
