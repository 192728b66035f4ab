"""Config.from_env: every variable parsed, a clear ConfigError for a value we
cannot use, and redacted() safe to print."""

import json

import pytest

from gateway.config import Config, ConfigError


def from_env(**environ) -> Config:
    return Config.from_env(environ)


def test_empty_environment_gives_the_documented_defaults():
    config = from_env()

    assert config.database_url is None and config.redis_url is None
    assert config.public_url == "http://127.0.0.1:8000"
    assert config.twilio_api_base_url == "https://api.twilio.com"
    assert config.ai_provider == "kb"
    assert config.outbound_retry_delays == (5, 30, 60, 120, 300)
    assert config.provider_timeout == 10.0
    assert config.db_pool_size == 10


def test_every_variable_is_read():
    config = from_env(
        DATABASE_URL="postgresql://handoff@db/handoff", REDIS_URL="redis://cache:6379/2", SECRET_KEY="k" * 64,
        PUBLIC_URL="https://support.example.com/", TWILIO_API_BASE_URL="http://127.0.0.1:9999",
        MESSENGER_GRAPH_URL="http://127.0.0.1:9998", MESSENGER_GRAPH_VERSION="v21.0", AI_PROVIDER="openai",
        OPENAI_API_KEY="sk-test", OPENAI_BASE_URL="http://llm.local/v1", OPENAI_MODEL="gpt-test",
        ANTHROPIC_API_KEY="sk-ant-test", ANTHROPIC_BASE_URL="http://claude.local", ANTHROPIC_MODEL="claude-test",
        SMTP_URL="smtp://u:p@mail:587", SLACK_WEBHOOK_URL="https://hooks.slack.com/services/T/B/X",
        OUTBOUND_RETRY_DELAYS=" 1, 2.5 ,10 ", PROVIDER_TIMEOUT="3.5", DB_POOL_SIZE="4",
    )

    assert config.database_url == "postgresql://handoff@db/handoff"
    assert config.redis_url == "redis://cache:6379/2"
    assert config.public_url == "https://support.example.com"  # trailing slash dropped: URLs are built on it
    assert config.twilio_api_base_url == "http://127.0.0.1:9999"
    assert (config.messenger_graph_url, config.messenger_graph_version) == ("http://127.0.0.1:9998", "v21.0")
    assert (config.ai_provider, config.openai_api_key, config.openai_base_url, config.openai_model) == (
        "openai", "sk-test", "http://llm.local/v1", "gpt-test")
    assert (config.anthropic_api_key, config.anthropic_base_url, config.anthropic_model) == (
        "sk-ant-test", "http://claude.local", "claude-test")
    assert (config.smtp_url, config.slack_webhook_url) == ("smtp://u:p@mail:587",
                                                           "https://hooks.slack.com/services/T/B/X")
    assert config.outbound_retry_delays == (1.0, 2.5, 10.0)
    assert (config.provider_timeout, config.db_pool_size) == (3.5, 4)


def test_empty_variables_count_as_unset():
    config = from_env(DATABASE_URL="", PUBLIC_URL="", AI_PROVIDER="", OUTBOUND_RETRY_DELAYS="")

    assert config.database_url is None
    assert config.public_url == "http://127.0.0.1:8000"
    assert config.ai_provider == "kb"
    assert config.outbound_retry_delays == (5, 30, 60, 120, 300)


def test_public_url_may_carry_a_path_prefix():
    assert from_env(PUBLIC_URL="https://example.com/handoff/").public_url == "https://example.com/handoff"


def test_overrides_win_over_the_environment():
    assert Config.from_env({"AI_PROVIDER": "openai"}, ai_provider="kb").ai_provider == "kb"


@pytest.mark.parametrize("environ, names", [
    ({"AI_PROVIDER": "gpt"}, ["AI_PROVIDER", "kb, openai, anthropic", "'gpt'"]),
    ({"PUBLIC_URL": "handoff.example.com"}, ["PUBLIC_URL", "'handoff.example.com'"]),
    ({"PUBLIC_URL": "ftp://handoff.example.com"}, ["PUBLIC_URL"]),
    ({"PUBLIC_URL": "https://"}, ["PUBLIC_URL", "'https://'"]),
    ({"PUBLIC_URL": "https://handoff.example.com/?x=1"}, ["PUBLIC_URL"]),
    ({"PUBLIC_URL": "https://handoff.example.com:https"}, ["PUBLIC_URL"]),
    ({"OUTBOUND_RETRY_DELAYS": "5,thirty"}, ["OUTBOUND_RETRY_DELAYS", "'5,thirty'"]),
    ({"OUTBOUND_RETRY_DELAYS": "5,-30"}, ["OUTBOUND_RETRY_DELAYS", "'5,-30'"]),
    ({"OUTBOUND_RETRY_DELAYS": "5,inf"}, ["OUTBOUND_RETRY_DELAYS"]),
    ({"OUTBOUND_RETRY_DELAYS": "nan"}, ["OUTBOUND_RETRY_DELAYS"]),
    ({"PROVIDER_TIMEOUT": "ten"}, ["PROVIDER_TIMEOUT", "'ten'"]),
    ({"PROVIDER_TIMEOUT": "0"}, ["PROVIDER_TIMEOUT"]),
    ({"DB_POOL_SIZE": "many"}, ["DB_POOL_SIZE", "'many'"]),
    ({"MESSENGER_GRAPH_VERSION": "24.0"}, ["MESSENGER_GRAPH_VERSION", "v24.0", "'24.0'"]),
], ids=["ai-provider", "public-url-no-scheme", "public-url-ftp", "public-url-no-host", "public-url-query",
        "public-url-bad-port",
        "delays-word", "delays-negative", "delays-infinite", "delays-nan", "timeout-word", "timeout-zero",
        "pool-size-word", "graph-version"])
def test_unusable_value_is_a_config_error_naming_the_variable_and_value(environ, names):
    with pytest.raises(ConfigError) as raised:
        Config.from_env(environ)

    message = str(raised.value)
    for name in names:
        assert name in message


def test_redacted_hides_every_secret():
    config = from_env(
        DATABASE_URL="postgresql://handoff:db-password@db.internal:5432/handoff",
        REDIS_URL="rediss://:redis-password@cache.internal:6380/0",
        SECRET_KEY="the-secret-key", OPENAI_API_KEY="sk-openai-secret", ANTHROPIC_API_KEY="sk-ant-secret",
        SMTP_URL="smtp://mailer:smtp-password@mail:587",
        SLACK_WEBHOOK_URL="https://hooks.slack.com/services/T0/B0/slack-secret",
    )

    printed = json.dumps(config.redacted(), default=str)

    for secret in ("db-password", "redis-password", "the-secret-key", "sk-openai-secret", "sk-ant-secret",
                   "smtp-password", "slack-secret"):
        assert secret not in printed


def test_redacted_keeps_what_helps_debugging():
    config = from_env(DATABASE_URL="postgresql://handoff:db-password@db.internal:5432/handoff",
                      REDIS_URL="redis://cache.internal:6379/0", PUBLIC_URL="https://support.example.com")

    redacted = config.redacted()

    assert redacted["database_url"] == "postgresql://handoff:***@db.internal:5432/handoff"
    assert redacted["redis_url"] == "redis://cache.internal:6379/0"
    assert redacted["public_url"] == "https://support.example.com"
    assert redacted["openai_api_key"] is None  # unset stays visibly unset
    assert redacted["outbound_retry_delays"] == (5, 30, 60, 120, 300)


def test_app_needs_database_and_redis_urls():
    with pytest.raises(ConfigError, match="DATABASE_URL and REDIS_URL not set"):
        from_env().require_services()


def test_production_needs_a_secret_key_and_tests_get_a_throwaway_one():
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        from_env().with_secret_key()

    assert len(Config(testing=True).with_secret_key().secret_key) == 64


def test_dotenv_fills_in_what_the_environment_leaves_unset(tmp_path, monkeypatch):
    from gateway import config as config_module

    (tmp_path / ".env").write_text(
        "# comment\n\nexport AI_PROVIDER=openai\nOPENAI_API_KEY='sk-quoted'\nPUBLIC_URL=https://from-file.example\n"
        "SMTP_URL=smtp://mail:25  # a trailing comment\nEMPTY=\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PUBLIC_URL", "https://from-environment.example")
    monkeypatch.delenv("AI_PROVIDER", raising=False)
    monkeypatch.delenv("SMTP_URL", raising=False)

    assert config_module.read_dotenv() == {"AI_PROVIDER": "openai", "OPENAI_API_KEY": "sk-quoted",
                                           "PUBLIC_URL": "https://from-file.example", "SMTP_URL": "smtp://mail:25",
                                           "EMPTY": ""}
    config = Config.from_env()
    assert config.ai_provider == "openai" and config.openai_api_key == "sk-quoted"
    assert config.public_url == "https://from-environment.example"  # the environment wins
    assert config.smtp_url == "smtp://mail:25"


def test_a_broken_dotenv_line_is_a_one_line_error(tmp_path):
    from gateway.config import read_dotenv

    (tmp_path / ".env").write_text("GOOD=1\nthis is not a variable\n")
    with pytest.raises(ConfigError, match=r"\.env, line 2: expected NAME=value"):
        read_dotenv(tmp_path / ".env")
    assert read_dotenv(tmp_path / "missing.env") == {}
