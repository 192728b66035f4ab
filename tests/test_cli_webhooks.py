"""`handoff webhook add|list|remove|deliveries`, through CliRunner against the test database.

The group is invoked directly (gateway/cli/__init__.py attaches it as `handoff webhook`).
"""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from gateway.cli.webhooks import webhook
from gateway.store import webhooks
from tests.conftest import PUBLIC_URL, WEBHOOK_TEST_HOSTS
from tests.fakes.recorder import RecordingServer
from tests.helpers import fetch_all
from workers.notify import deliver_webhook

URL = "https://crm.example.com/hooks/handoff"


@pytest.fixture
def handoff_webhook(database_url, redis_url):
    runner = CliRunner()
    env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "PUBLIC_URL": PUBLIC_URL,
           "SECRET_KEY": "test-secret-key", "WEBHOOK_ALLOWED_HOSTS": ",".join(WEBHOOK_TEST_HOSTS)}

    def invoke(*args, **env_overrides):
        return runner.invoke(webhook, list(args), env={**env, **env_overrides}, catch_exceptions=False)

    return invoke


def added_secret(result) -> str:
    assert result.exit_code == 0, result.output
    return re.search(r"signing secret: (\S+)", result.output).group(1)


def test_add_prints_the_secret_once_and_list_never_shows_it(handoff_webhook, db):
    added = handoff_webhook("add", URL, "--event", "conversation.escalated", "--event", "ticket.created",
                            "--event", "ticket.created", "--description", "Our CRM")
    secret = added_secret(added)

    assert f"added webhook 1 for {URL}: conversation.escalated, ticket.created" in added.output
    assert "it will not be shown again" in added.output
    [row] = fetch_all(db, "SELECT url, secret, events, description, active FROM webhook_subscriptions")
    assert row == {"url": URL, "secret": secret, "events": ["conversation.escalated", "ticket.created"],
                   "description": "Our CRM", "active": True}
    listed = handoff_webhook("list")
    assert listed.exit_code == 0
    lines = listed.output.splitlines()
    assert lines[0].split() == ["ID", "ACTIVE", "EVENTS", "LAST", "DELIVERY", "URL"]
    assert lines[1].split() == ["1", "yes", "conversation.escalated,ticket.created", "-", URL]
    assert lines[2].strip() == "Our CRM"
    assert secret not in listed.output


@pytest.mark.usefixtures("run_jobs")  # deliver_webhook's context
def test_list_shows_the_last_delivery(handoff_webhook, db):
    server = RecordingServer(lambda request: (503, "busy")).start()
    try:
        added_secret(handoff_webhook("add", server.url, "--event", "*"))
        with db() as conn:
            [delivery_id] = webhooks.insert_deliveries(conn, "message.created", {"data": {}})
        deliver_webhook(delivery_id)
    finally:
        server.stop()

    listed = handoff_webhook("list")

    assert listed.output.splitlines()[1].split() == ["1", "yes", "*", "retrying", "message.created", "(HTTP",
                                                     "503)", server.url]
    shown = handoff_webhook("deliveries", "1")
    assert shown.exit_code == 0
    delivery_line, next_line, attempt_line = shown.output.splitlines()
    assert delivery_line.split()[:5] == ["delivery", str(delivery_id), "message.created", "retrying", "1"]
    assert next_line.strip().startswith("next attempt ")
    assert attempt_line.split()[:2] == ["attempt", "1"]
    assert attempt_line.endswith("ms  HTTP 503 Service Unavailable")


def test_an_empty_list_says_how_to_add(handoff_webhook):
    result = handoff_webhook("list")
    assert result.exit_code == 0
    assert "handoff webhook add URL --event EVENT" in result.output


def test_remove_deletes_and_an_unknown_id_is_an_error(handoff_webhook, db):
    added_secret(handoff_webhook("add", URL, "--event", "*"))

    removed = handoff_webhook("remove", "1")
    again = handoff_webhook("remove", "1")

    assert (removed.exit_code, removed.output) == (0, "removed webhook 1\n")
    assert fetch_all(db, "SELECT id FROM webhook_subscriptions") == []
    assert again.exit_code == 1
    assert "no webhook 1" in again.output


def test_deliveries_of_an_unknown_or_quiet_webhook(handoff_webhook):
    unknown = handoff_webhook("deliveries", "7")
    assert unknown.exit_code == 1 and "no webhook 7" in unknown.output
    added_secret(handoff_webhook("add", URL, "--event", "*"))
    quiet = handoff_webhook("deliveries", "1")
    assert (quiet.exit_code, quiet.output) == (0, f"no deliveries to webhook 1 ({URL}) yet\n")


@pytest.mark.parametrize("args, message", [
    (("add", "ftp://example.com", "--event", "*"), "must be an http:// or https:// URL with a host"),
    (("add", URL, "--event", "ticket.closed"), "'ticket.closed' is not one of"),
    (("add", URL), "Missing option '--event'"),
    (("deliveries", "1", "--limit", "0"), "0 is not in the range 1<=x<=100"),
])
def test_bad_arguments_are_one_line_errors(handoff_webhook, db, args, message):
    result = handoff_webhook(*args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert fetch_all(db, "SELECT id FROM webhook_subscriptions") == []


def test_without_database_url_it_says_so(handoff_webhook):
    result = handoff_webhook("list", DATABASE_URL="")
    assert result.exit_code == 1
    assert "DATABASE_URL is not set" in result.output
