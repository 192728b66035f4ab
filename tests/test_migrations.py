"""Migrations: numbered 1..N, each applied once, safe to run twice or from two
release processes at once. Runs against its own scratch database."""

import threading
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from gateway.migrate import MIGRATION_NAME, apply_migrations, available_migrations
from tests.conftest import TEST_DATABASE


@pytest.fixture(autouse=True)
def clean_state():
    """Overrides conftest's: these tests use their own scratch database."""
    yield


@pytest.fixture
def empty_database(database_url):
    name = TEST_DATABASE + "_migrations"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield urlunsplit(urlsplit(database_url)._replace(path="/" + name))
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def recorded_versions(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        return [row[0] for row in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]


def test_migrations_are_numbered_one_to_n_without_gaps():
    migrations = available_migrations()

    assert migrations, "no migration found in the migrations package"
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert all(MIGRATION_NAME.match(m.name) for m in migrations)
    assert all(m.sql.strip() for m in migrations)


def test_apply_twice_applies_each_migration_once(empty_database):
    names = [m.name for m in available_migrations()]

    assert apply_migrations(empty_database) == names
    assert apply_migrations(empty_database) == []

    assert recorded_versions(empty_database) == [m.version for m in available_migrations()]


def test_apply_reports_each_migration_it_applies(empty_database):
    lines = []

    apply_migrations(empty_database, report=lines.append)

    assert lines == [f"applying {m.name}" for m in available_migrations()]


def test_two_release_processes_at_once_apply_each_migration_once(empty_database):
    results, errors = [], []

    def release():
        try:
            results.append(apply_migrations(empty_database))
        except Exception as error:  # surfaced below, with the thread's error
            errors.append(error)

    threads = [threading.Thread(target=release) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sorted(results, key=len) == [[], [m.name for m in available_migrations()]]
    assert recorded_versions(empty_database) == [m.version for m in available_migrations()]


def test_migrated_schema_has_the_tables_the_pipeline_uses(empty_database):
    apply_migrations(empty_database)

    with psycopg.connect(empty_database) as conn:
        tables = {row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert {"channels", "contacts", "contact_identities", "conversations", "messages", "early_receipts",
            "events", "schema_migrations"} <= tables
