"""The long-lived parts a web process shares between requests."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from psycopg_pool import ConnectionPool
from redis import Redis

from gateway.config import Config


@dataclass
class Services:
    config: Config
    pool: ConnectionPool
    redis: Redis


def services() -> Services:
    return current_app.extensions["handoff"]
