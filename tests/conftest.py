"""Test fixtures: real PostgreSQL and Redis, the real app, a real RQ worker.

Servers: DATABASE_URL / REDIS_URL when set (CI sets them), embedded ones
otherwise. The suite uses its own database (handoff_test) and Redis db 15,
so it never touches development data. Every test starts from empty tables
and an empty Redis db.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql
from redis import Redis

from gateway.app import create_app
from gateway.config import Config
from gateway.db import transaction
from gateway.local import embedded
from gateway.migrate import apply_migrations
from gateway.queues import QUEUES, InlineWorker, queue
from tests.fakes.graph_api import FakeGraph
from tests.fakes.twilio_api import FakeTwilio
from workers import context

pytest_plugins = ["tests.browser"]

# Overridable so that two test runs on one machine do not share state.
BASE_TEST_DATABASE = os.environ.get("HANDOFF_TEST_DATABASE", "handoff_test")
BASE_TEST_REDIS_DB = int(os.environ.get("HANDOFF_TEST_REDIS_DB", "15"))


def _xdist_index() -> int | None:
    """Which parallel test process this is (pytest-xdist's gw0, gw1, ...), None when serial."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(worker[2:]) if worker.startswith("gw") else None


# Parallel test processes each take a database and a Redis db of their own
# (db 15, 14, ... below the configured one): they never see each other's rows,
# jobs or live events.
_INDEX = _xdist_index()
TEST_DATABASE = BASE_TEST_DATABASE if _INDEX is None else f"{BASE_TEST_DATABASE}_gw{_INDEX}"
TEST_REDIS_DB = BASE_TEST_REDIS_DB - (_INDEX or 0)
if TEST_REDIS_DB < 0:
    raise RuntimeError(f"HANDOFF_TEST_REDIS_DB={BASE_TEST_REDIS_DB} leaves no Redis db for test process gw{_INDEX}: "
                       "use a higher one or fewer processes (-n)")
PUBLIC_URL = "https://handoff.example.com"
ADMIN_EMAIL = "admin@example.com"
WEBHOOK_TEST_HOSTS = ("127.0.0.1", "example.com", "crm.example.com", "hooks.example.com")


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


@pytest.fixture(scope="session")
def database_url():
    configured = os.environ.get("DATABASE_URL")
    if configured:
        with psycopg.connect(configured, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(TEST_DATABASE)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEST_DATABASE)))
        url = _with_database(configured, TEST_DATABASE)
        server = None
    else:
        server = embedded.start_postgres(Path(tempfile.mkdtemp(prefix="handoff-test-pg-")) / "data")
        url = server.ensure_database(TEST_DATABASE)
    apply_migrations(url)
    yield url
    if server is not None:
        server.stop()


@pytest.fixture(scope="session")
def redis_url():
    configured = os.environ.get("REDIS_URL")
    if configured:
        parts = urlsplit(configured)
        yield urlunsplit(parts._replace(path=f"/{TEST_REDIS_DB}"))
        return
    server = embedded.start_redis(Path(tempfile.mkdtemp(prefix="handoff-test-redis-")), persist=False)
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def fake_twilio():
    server = FakeTwilio().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def fake_graph():
    server = FakeGraph().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def fake_smtp():
    from tests.fakes.smtp_server import FakeSMTP

    server = FakeSMTP().start()
    yield server
    server.stop()


@pytest.fixture
def smtp(fake_smtp):
    """The SMTP stand-in with an empty mailbox (tests configure SMTP_URL with its url())."""
    fake_smtp.reset()
    return fake_smtp


@pytest.fixture
def config(database_url, redis_url, fake_twilio, fake_graph) -> Config:
    return Config(
        database_url=database_url,
        redis_url=redis_url,
        secret_key="test-secret-key",
        public_url=PUBLIC_URL,
        twilio_api_base_url=fake_twilio.url,
        messenger_graph_url=fake_graph.url,
        outbound_retry_delays=(0, 0),
        provider_timeout=5,
        db_pool_size=4,
        # The receivers of these tests: local stand-ins, and names that do not resolve here.
        webhook_allowed_hosts=WEBHOOK_TEST_HOSTS,
        testing=True,
    )


@pytest.fixture
def redis(redis_url) -> Redis:
    connection = Redis.from_url(redis_url)
    yield connection
    connection.close()


@pytest.fixture(autouse=True)
def clean_state(request, database_url, redis_url, fake_twilio, fake_graph):
    """Empty tables, an empty Redis db and fresh stand-ins before every test."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        tables = [row[0] for row in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'"
        )]
        conn.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(
            sql.SQL(", ").join(sql.Identifier(t) for t in tables)))
    Redis.from_url(redis_url).flushdb()
    fake_twilio.reset()
    fake_graph.reset()
    yield


@pytest.fixture
def app(config):
    application = create_app(config)
    yield application
    services = application.extensions["handoff"]
    services.pool.close()
    services.redis.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def db(app):
    """Run SQL in its own committed transaction: `with db() as conn: ...`."""
    return lambda: transaction(app.extensions["handoff"].pool)


@pytest.fixture
def run_jobs(config, redis):
    """Run every queued job to completion in a real RQ worker (burst mode),
    including jobs those jobs enqueue. Returns how many jobs ran."""
    context.configure(config)

    def run(max_rounds: int = 20) -> int:
        total = 0
        for _ in range(max_rounds):
            pending = sum(queue(redis, name).count for name in QUEUES)
            if not pending:
                return total
            worker = InlineWorker([queue(redis, name) for name in QUEUES], connection=redis)
            worker.work(burst=True)
            total += pending
        raise AssertionError("jobs keep enqueuing jobs: gave up after %d rounds" % max_rounds)

    yield run
    context.current().close()


@pytest.fixture
def admin(db):
    """An admin agent, with a personal API token in admin["token"]."""
    from gateway.store.agents import issue_api_token
    from tests.helpers import add_agent

    agent = add_agent(db, email=ADMIN_EMAIL, name="Ada Admin", is_admin=True)
    with db() as conn:
        return dict(agent, token=issue_api_token(conn, agent["id"]))


@pytest.fixture
def auth(admin):
    """The admin's Authorization header."""
    return {"Authorization": f"Bearer {admin['token']}"}
