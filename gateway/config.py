"""One Config object, read from environment variables (see .env.example) and
from a `.env` file in the current directory, whose values fill in what the
environment leaves unset (the environment always wins).

Nothing here runs at import time: `Config.from_env()` is called by
`create_app`, the CLI and the worker, so tests can build a Config by hand.
"""

from __future__ import annotations

import math
import os
import re
import secrets
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit


class ConfigError(ValueError):
    """A configuration variable has a value we cannot use."""


@dataclass(frozen=True)
class Rate:
    """At most `count` events per `seconds` (a fixed window), written "30/60"."""

    count: int
    seconds: int

    def __str__(self) -> str:
        return f"{self.count}/{self.seconds}"


# The rate limits (gateway/ratelimit.py), each set by RATE_<NAME upper-cased>.
RATE_LIMITS = {
    # Widget sessions started (each may create a contact) ...
    "widget_sessions_per_address": Rate(30, 60),
    "widget_sessions_per_channel": Rate(1000, 60),
    # ... and messages written, by one visitor, from one address, on one widget.
    "widget_messages_per_visitor": Rate(30, 60),
    "widget_messages_per_address": Rate(120, 60),
    "widget_messages_per_channel": Rate(3000, 60),
    # Failed logins: for one account, from one address, and everywhere at once.
    "login_failures_per_account": Rate(10, 900),
    "login_failures_per_address": Rate(30, 900),
    "login_failures_global": Rate(300, 900),
}
# Retry ladders are bounded: each wait, and how many retries.
MAX_RETRY_DELAY = 24 * 3600
MAX_RETRIES = 10


AI_PROVIDERS = ("kb", "openai", "anthropic")
DOTENV = Path(".env")
_DOTENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")
# The providers that call a language model (which also writes handoff summaries).
LLM_PROVIDERS = ("openai", "anthropic")


@dataclass(frozen=True)
class Config:
    database_url: str | None = None
    redis_url: str | None = None
    secret_key: str = ""
    public_url: str = "http://127.0.0.1:8000"
    twilio_api_base_url: str = "https://api.twilio.com"
    messenger_graph_url: str = "https://graph.facebook.com"
    messenger_graph_version: str = "v24.0"
    ai_provider: str = "kb"
    openai_api_key: str | None = None
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"
    anthropic_api_key: str | None = None
    anthropic_base_url: str | None = None
    anthropic_model: str = "claude-sonnet-4-6"
    smtp_url: str | None = None
    slack_webhook_url: str | None = None
    # Seconds to wait before each retry of a failed outbound send; the
    # number of entries is the number of retries.
    outbound_retry_delays: tuple[float, ...] = (5, 30, 60, 120, 300)
    # Seconds before each retry of an outbound webhook a receiver did not accept.
    webhook_retry_delays: tuple[float, ...] = (10, 60, 300, 1800, 7200)
    # Timeout (seconds) of every call to a provider's API.
    provider_timeout: float = 10.0
    # Size of each process's PostgreSQL connection pool.
    db_pool_size: int = 10
    # Unprocessed inbound / unsent outbound older than this is re-enqueued.
    sweep_after_seconds: int = 60
    # Requests with a larger body are answered 413 before it is read.
    max_body_bytes: int = 1024 * 1024
    # How many proxies (TLS terminators, load balancers) stand in front: the
    # client's address is the one the outermost of them saw (X-Forwarded-For).
    trusted_proxies: int = 0
    # (name, Rate) pairs, every name of RATE_LIMITS (a tuple: a Config is hashable).
    rate_limits: tuple[tuple[str, Rate], ...] = tuple(RATE_LIMITS.items())
    # When set, /metrics answers only `Authorization: Bearer <token>`.
    metrics_token: str | None = None
    # Hosts outbound webhooks may reach although they resolve to loopback,
    # private or link-local addresses (every other such URL is refused).
    webhook_allowed_hosts: tuple[str, ...] = ()
    testing: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides) -> "Config":
        env = environment() if environ is None else environ

        def get(name: str, default=None):
            value = env.get(name)
            return value if value not in (None, "") else default

        config = cls(
            database_url=get("DATABASE_URL"),
            redis_url=get("REDIS_URL"),
            secret_key=get("SECRET_KEY", ""),
            public_url=get("PUBLIC_URL", cls.public_url),
            twilio_api_base_url=get("TWILIO_API_BASE_URL", cls.twilio_api_base_url),
            messenger_graph_url=get("MESSENGER_GRAPH_URL", cls.messenger_graph_url),
            messenger_graph_version=get("MESSENGER_GRAPH_VERSION", cls.messenger_graph_version),
            ai_provider=get("AI_PROVIDER", cls.ai_provider),
            openai_api_key=get("OPENAI_API_KEY"),
            openai_base_url=get("OPENAI_BASE_URL"),
            openai_model=get("OPENAI_MODEL", cls.openai_model),
            anthropic_api_key=get("ANTHROPIC_API_KEY"),
            anthropic_base_url=get("ANTHROPIC_BASE_URL"),
            anthropic_model=get("ANTHROPIC_MODEL", cls.anthropic_model),
            smtp_url=get("SMTP_URL"),
            slack_webhook_url=get("SLACK_WEBHOOK_URL"),
            outbound_retry_delays=_parse_delays("OUTBOUND_RETRY_DELAYS", get("OUTBOUND_RETRY_DELAYS"),
                                                cls.outbound_retry_delays),
            webhook_retry_delays=_parse_delays("WEBHOOK_RETRY_DELAYS", get("WEBHOOK_RETRY_DELAYS"),
                                               cls.webhook_retry_delays),
            provider_timeout=_parse_number("PROVIDER_TIMEOUT", get("PROVIDER_TIMEOUT"), cls.provider_timeout),
            db_pool_size=int(_parse_number("DB_POOL_SIZE", get("DB_POOL_SIZE"), cls.db_pool_size)),
            sweep_after_seconds=int(_parse_number("SWEEP_AFTER_SECONDS", get("SWEEP_AFTER_SECONDS"),
                                                  cls.sweep_after_seconds)),
            max_body_bytes=int(_parse_number("MAX_BODY_BYTES", get("MAX_BODY_BYTES"), cls.max_body_bytes)),
            trusted_proxies=int(_parse_number("TRUSTED_PROXIES", get("TRUSTED_PROXIES"), cls.trusted_proxies)),
            rate_limits=tuple((name, _parse_rate(f"RATE_{name.upper()}", get(f"RATE_{name.upper()}"), default))
                              for name, default in RATE_LIMITS.items()),
            metrics_token=get("METRICS_TOKEN"),
            webhook_allowed_hosts=tuple(host.strip().lower().strip("[]") for host in
                                        get("WEBHOOK_ALLOWED_HOSTS", "").split(",") if host.strip()),
        )
        return replace(config, **overrides).validated()

    def validated(self) -> "Config":
        if self.ai_provider not in AI_PROVIDERS:
            raise ConfigError(f"AI_PROVIDER must be one of {', '.join(AI_PROVIDERS)}, not {self.ai_provider!r}")
        if not _is_base_url(self.public_url):
            raise ConfigError(
                f"PUBLIC_URL must be an http:// or https:// base URL with a host and no query, "
                f"not {self.public_url!r}"
            )
        for name, delays in (("OUTBOUND_RETRY_DELAYS", self.outbound_retry_delays),
                             ("WEBHOOK_RETRY_DELAYS", self.webhook_retry_delays)):
            if len(delays) > MAX_RETRIES or any(not math.isfinite(delay) or not 0 <= delay <= MAX_RETRY_DELAY
                                                for delay in delays):
                raise ConfigError(f"{name} must be at most {MAX_RETRIES} comma-separated seconds, each from 0 to "
                                  f"{MAX_RETRY_DELAY}, not " + repr(",".join(f"{delay:g}" for delay in delays)))
        if self.max_body_bytes < 1024:
            raise ConfigError(f"MAX_BODY_BYTES must be at least 1024, not {self.max_body_bytes}")
        if not 0 <= self.trusted_proxies <= 5:
            raise ConfigError(f"TRUSTED_PROXIES must be the number of proxies in front, 0 to 5, not "
                              f"{self.trusted_proxies}")
        if not math.isfinite(self.provider_timeout) or self.provider_timeout <= 0:
            raise ConfigError(f"PROVIDER_TIMEOUT must be a number of seconds above 0, not {self.provider_timeout!r}")
        if not self.messenger_graph_version.startswith("v"):
            raise ConfigError(f"MESSENGER_GRAPH_VERSION must look like v24.0, not {self.messenger_graph_version!r}")
        return replace(self, public_url=self.public_url.rstrip("/"))

    def rates(self) -> dict[str, Rate]:
        return dict(self.rate_limits)

    def with_rates(self, **changes: Rate) -> "Config":
        """This config with some rate limits changed (tests, benchmarks)."""
        return replace(self, rate_limits=tuple({**self.rates(), **changes}.items()))

    def with_secret_key(self) -> "Config":
        """A config that has a secret key; generates a throwaway one for tests."""
        if self.secret_key:
            return self
        if not self.testing:
            raise ConfigError("SECRET_KEY is not set: sessions and widget tokens need it (see .env.example)")
        return replace(self, secret_key=secrets.token_hex(32))

    def require_services(self) -> "Config":
        missing = [name for name, value in (("DATABASE_URL", self.database_url), ("REDIS_URL", self.redis_url)) if not value]
        if missing:
            raise ConfigError(
                f"{' and '.join(missing)} not set: set them, or use `handoff run`, which starts embedded servers"
            )
        return self

    def redacted(self) -> dict:
        """The config as a dict safe to print: secrets are masked, and so are
        the passwords of the database and Redis URLs (their hosts stay visible)."""
        masked = {"secret_key", "openai_api_key", "anthropic_api_key", "smtp_url", "slack_webhook_url",
                  "metrics_token"}
        with_password = {"database_url", "redis_url"}
        redacted = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value and f.name in masked:
                value = "***"
            elif value and f.name in with_password:
                value = _without_password(value)
            redacted[f.name] = value
        return redacted


def read_dotenv(path: Path = DOTENV) -> dict[str, str]:
    """The variables a .env file sets: KEY=value lines (`export` allowed),
    # comments, values optionally in single or double quotes. No file: {}."""
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError):
        return {}
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read {path}: {error}") from None
    values = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _DOTENV_LINE.match(line)
        if not match:
            raise ConfigError(f"{path}, line {number}: expected NAME=value")
        name, value = match.groups()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        elif " #" in value:  # a comment after an unquoted value
            value = value.split(" #", 1)[0].rstrip()
        values[name] = value
    return values


def environment() -> dict[str, str]:
    """The process environment over the .env file of the current directory."""
    return {**read_dotenv(), **os.environ}


def _parse_delays(name: str, raw: str | None, default: tuple[float, ...]) -> tuple[float, ...]:
    if raw is None:
        return default
    try:
        return tuple(float(part) for part in raw.split(",") if part.strip())
    except ValueError:
        raise ConfigError(f"{name} must be comma-separated seconds, not {raw!r}") from None


def _parse_rate(name: str, raw: str | None, default: Rate) -> Rate:
    if raw is None:
        return default
    count, _, seconds = raw.partition("/")
    try:
        rate = Rate(int(count), int(seconds))
    except ValueError:
        rate = None
    if rate is None or rate.count < 1 or rate.seconds < 1:
        raise ConfigError(f"{name} must be COUNT/SECONDS, like 30/60 (30 per minute), not {raw!r}")
    return rate


def _parse_number(name: str, raw: str | None, default: float) -> float:
    if raw is None:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {raw!r}") from None


def _is_base_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not parts.query and not parts.fragment


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user, _, host = parts.netloc.rpartition("@")
    username = user.split(":", 1)[0]
    return parts._replace(netloc=f"{username}:***@{host}").geturl()
