"""What every `handoff` command module shares: configuration, a database
connection with one-line errors, argument checks and small formatting helpers.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator
from urllib.parse import urlsplit

import click
import psycopg
from psycopg import errors as pg_errors

from gateway.config import Config, ConfigError
from gateway.db import connect
from gateway.errors import describe_details


def one_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    return lines[0] if lines else error.__class__.__name__


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def load_config() -> Config:
    try:
        return Config.from_env()
    except ConfigError as error:
        raise click.ClickException(str(error)) from None


def require_database_url(config: Config) -> str:
    if not config.database_url:
        raise click.ClickException(
            "DATABASE_URL is not set: set it to your PostgreSQL URL, or start everything with `handoff run` "
            "(it prints the URL of its embedded database)"
        )
    return config.database_url


@contextmanager
def database(config: Config | None = None) -> Iterator[psycopg.Connection]:
    """A connection in a transaction (committed when the block succeeds), with
    one-line errors for an unreachable or unmigrated database."""
    url = require_database_url(config or load_config())
    try:
        conn = connect(url, connect_timeout=10)
    except psycopg.OperationalError as error:
        raise click.ClickException(f"cannot connect to the database: {one_line(error)}") from None
    try:
        with conn:
            yield conn
    except pg_errors.UndefinedTable:
        raise click.ClickException("the database has no Handoff tables yet: run `handoff migrate` first") from None
    except psycopg.OperationalError as error:
        raise click.ClickException(f"database error: {one_line(error)}") from None


def public_url_note(config: Config) -> str | None:
    """A warning when the URLs just printed cannot be reached by a provider."""
    host = urlsplit(config.public_url).hostname or ""
    if host in ("localhost", "127.0.0.1", "::1", "0.0.0.0") or host.endswith(".localhost"):
        return (f"{config.public_url} is only reachable from this machine; providers need the public https URL "
                "of this deployment (or of a tunnel to it): set PUBLIC_URL to it")
    return None


def not_blank(ctx, param, value: str) -> str:
    """A click callback: the value without surrounding spaces, which must leave something."""
    value = (value or "").strip()
    if not value:
        raise click.BadParameter("must not be empty")
    return value


# The CLI's name for it: a ValidationError's messages on one line.
field_errors = describe_details


def api_refusal(refusal) -> click.ClickException:
    """A domain refusal (gateway.errors.ApiError) as a one-line CLI error."""
    details = refusal.details
    if isinstance(details, dict) and details:
        return click.ClickException(f"{refusal.message}: {describe_details(details)}")
    return click.ClickException(refusal.message)


def enqueue_sends(config: Config, message_ids: list[int]) -> str:
    """Enqueue these outbound messages now when REDIS_URL is set; either way
    the worker's sweeper sends pending messages within a minute. Says which."""
    if not config.redis_url:
        return " by the worker's sweeper within a minute (REDIS_URL is not set here)"
    from redis import Redis
    from redis.exceptions import RedisError

    from gateway import queues

    try:
        redis = Redis.from_url(config.redis_url, socket_connect_timeout=2)
        for message_id in message_ids:
            queues.enqueue_send(redis, message_id)
    except RedisError:
        return " by the worker's sweeper within a minute (Redis did not answer)"
    return " now"
