"""Outbound webhooks reach public addresses only (issue 13's SSRF
reproductions): refused at subscription and at each delivery, with a short
reason on the record and never the receiver's body."""

from __future__ import annotations

from dataclasses import replace

import psycopg
import pytest
from click.testing import CliRunner

from gateway.app import create_app
from gateway.cli.webhooks import webhook
from gateway.store import webhooks
from gateway.webhook_targets import address_refusal
from tests.fakes.recorder import RecordingServer
from tests.helpers import configure_workers, fetch_all, fetch_one
from workers.notify import deliver_webhook

BASE = "/api/admin/webhooks"
INTERNAL = [
    ("http://127.0.0.1:5432/", "127.0.0.1 is a loopback address"),
    ("http://localhost:6379/", "localhost resolves to 127.0.0.1 is a loopback address"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
    ("http://10.0.0.7/admin", "10.0.0.7 is a private address"),
    ("http://192.168.1.1/", "192.168.1.1 is a private address"),
    ("http://[::1]:8080/", "::1 is a loopback address"),
    ("http://[::ffff:127.0.0.1]/", "127.0.0.1 is a loopback address"),
    ("http://100.100.100.200/", "100.100.100.200 is a private address"),  # carrier NAT; a metadata address too
    ("http://0.0.0.0/", "0.0.0.0 is not a unicast address"),  # Linux connects it to localhost
    ("http://nowhere.invalid/", "nowhere.invalid does not resolve"),
]


@pytest.fixture
def strict_client(config):
    """The app with no allowed hosts, as deployed by default."""
    app = create_app(replace(config, webhook_allowed_hosts=()))
    yield app.test_client()
    app.extensions["handoff"].pool.close()


@pytest.fixture
def receiver():
    server = RecordingServer(lambda request: (500, "<h1>db01.internal: password=hunter2</h1>")).start()
    yield server
    server.stop()


@pytest.mark.parametrize("url, reason", INTERNAL)
def test_an_internal_url_is_refused_at_subscription(strict_client, db, auth, url, reason):
    response = strict_client.post(BASE, headers=auth, json={"url": url, "events": ["*"]})
    assert response.status_code == 400
    [problem] = response.get_json()["details"]["url"]
    assert reason in problem
    assert fetch_all(db, "SELECT id FROM webhook_subscriptions") == []


def test_changing_the_url_to_an_internal_one_is_refused(strict_client, db, auth):
    with db() as conn:
        created = webhooks.create_subscription(conn, url="https://93.184.215.14/hook", events=["*"])
    response = strict_client.patch(f"{BASE}/{created['id']}", headers=auth, json={"url": "http://127.0.0.1/"})
    assert response.status_code == 400
    assert fetch_one(db, "SELECT url FROM webhook_subscriptions")["url"] == "https://93.184.215.14/hook"


def test_a_host_named_in_the_allow_list_is_accepted(client, db, auth, receiver):
    response = client.post(BASE, headers=auth, json={"url": receiver.url + "/hook", "events": ["*"]})
    assert response.status_code == 201  # 127.0.0.1 is in the test config's WEBHOOK_ALLOWED_HOSTS


def test_the_cli_refuses_an_internal_url(database_url, redis_url, db):
    result = CliRunner().invoke(webhook, ["add", "http://169.254.169.254/", "--event", "*"],
                                env={"DATABASE_URL": database_url, "REDIS_URL": redis_url, "WEBHOOK_ALLOWED_HOSTS": ""})
    assert result.exit_code == 2
    assert "link-local" in result.output
    assert fetch_all(db, "SELECT id FROM webhook_subscriptions") == []


@pytest.mark.usefixtures("run_jobs")
def test_each_delivery_checks_the_address_it_connects_to(config, db, receiver):
    """A subscription stored before (or a name that now resolves inside): the
    delivery is refused before any connection, and says why."""
    configure_workers(config, webhook_allowed_hosts=(), webhook_retry_delays=())
    with db() as conn:
        created = webhooks.create_subscription(conn, url=receiver.url + "/hook", events=["*"])
        delivery_id = webhooks.insert_delivery(conn, created["id"], "ping", {"event": "ping"})
    assert deliver_webhook(delivery_id) == "failed"
    assert receiver.requests == []
    row = fetch_one(db, "SELECT last_status, last_error FROM webhook_deliveries")
    assert row == {"last_status": None, "last_error": "refused: 127.0.0.1 is a loopback address"}


@pytest.mark.usefixtures("run_jobs")
def test_the_record_keeps_the_status_and_a_short_reason_never_the_body(config, db, receiver):
    configure_workers(config, webhook_retry_delays=())
    with db() as conn:
        created = webhooks.create_subscription(conn, url=receiver.url + "/hook", events=["*"])
        delivery_id = webhooks.insert_delivery(conn, created["id"], "ping", {"event": "ping"})
    deliver_webhook(delivery_id)
    assert fetch_all(db, "SELECT status, error FROM webhook_attempts") == [
        {"status": 500, "error": "HTTP 500 Internal Server Error"}]
    assert "hunter2" not in str(fetch_all(db, "SELECT * FROM webhook_deliveries"))


@pytest.mark.usefixtures("run_jobs")
def test_a_subscription_deleted_during_its_delivery_ends_the_job_quietly(config, db, database_url):
    def delete_while_answering(request):
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("DELETE FROM webhook_subscriptions")
        return 200, {"ok": True}

    server = RecordingServer(delete_while_answering).start()
    try:
        with db() as conn:
            created = webhooks.create_subscription(conn, url=server.url + "/hook", events=["*"])
            delivery_id = webhooks.insert_delivery(conn, created["id"], "ping", {"event": "ping"})
        assert deliver_webhook(delivery_id) == "deleted"
    finally:
        server.stop()
    assert fetch_all(db, "SELECT id FROM webhook_attempts") == []


@pytest.mark.parametrize("address, public", [("93.184.215.14", True), ("2606:4700::1111", True),
                                             ("172.16.0.1", False), ("fd00:ec2::254", False),
                                             ("fe80::1%eth0", False), ("224.0.0.1", False)])
def test_address_rules(address, public):
    assert (address_refusal(address) is None) == public
