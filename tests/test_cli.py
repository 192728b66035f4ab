"""The `handoff` command, through click's CliRunner, against the test database.

Each command's success path, its one-line errors for bad arguments (a
non-zero exit, no traceback), and secrets kept out of its output.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from psycopg import sql
from psycopg.rows import dict_row

from gateway.bot.articles import articles_from_text
from gateway.cli import main
from gateway.local.demo import ADMIN_EMAIL, sample_articles, seed_demo
from gateway.migrate import available_migrations
from gateway.store.agents import agent_by_api_token, authenticate
from tests.conftest import PUBLIC_URL, _with_database
from tests.helpers import add_article, add_whatsapp_channel, post_twilio, whatsapp_form
from workers.brain.kb import CONFIDENT, KnowledgeBase

SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "auth-token-do-not-print"
PAGE_TOKEN = "page-token-do-not-print"
APP_SECRET = "app-secret-do-not-print"
VERIFY_TOKEN = "verify-token-do-not-print"


@pytest.fixture
def env(database_url, redis_url, fake_twilio):
    return {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "PUBLIC_URL": PUBLIC_URL,
            "TWILIO_API_BASE_URL": fake_twilio.url, "SECRET_KEY": "test-secret-key"}


@pytest.fixture
def handoff(env):
    """Run `handoff ARGS...` in-process: handoff("channel", "list", input=..., env=...)."""
    runner = CliRunner()

    def invoke(*args, input=None, **env_overrides):
        return runner.invoke(main, list(args), input=input, env={**env, **env_overrides}, catch_exceptions=False)

    return invoke


@pytest.fixture
def sql_rows(database_url):
    def query(statement, params=None):
        with psycopg.connect(database_url, row_factory=dict_row) as conn:
            return conn.execute(statement, params).fetchall()

    return query


def assert_one_line_error(result, fragment: str, exit_code: int | None = None):
    assert result.exit_code != 0, result.output
    if exit_code is not None:
        assert result.exit_code == exit_code, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    assert fragment in errors[0], errors[0]


# --- the command itself ------------------------------------------------------------------------


def test_help_lists_the_commands(handoff):
    result = handoff("--help")
    assert result.exit_code == 0
    for command in ("run", "worker", "migrate", "channel", "agent", "kb", "bench"):
        assert f"  {command} " in result.output


@pytest.mark.parametrize("args", [
    ["migrate"],
    ["channel", "list"],
    ["channel", "add", "web", "--name", "Site"],
    ["agent", "add", "--email", "a@example.com", "--name", "A", "--password-stdin"],
    ["agent", "password", "--email", "a@example.com", "--password-stdin"],
    ["kb", "import", __file__],
])
def test_commands_that_need_the_database_say_so_without_database_url(handoff, args):
    result = handoff(*args, input="password123\n", DATABASE_URL=None)
    assert_one_line_error(result, "DATABASE_URL is not set", exit_code=1)
    assert "handoff run" in result.stderr


def test_unreachable_database_is_a_one_line_error(handoff):
    result = handoff("channel", "list", DATABASE_URL="postgresql://postgres@127.0.0.1:1/nowhere")
    assert_one_line_error(result, "cannot connect to the database", exit_code=1)


def test_bad_configuration_is_a_one_line_error(handoff):
    result = handoff("channel", "list", AI_PROVIDER="skynet")
    assert_one_line_error(result, "AI_PROVIDER must be one of", exit_code=1)


# --- migrate ---------------------------------------------------------------------------------


def test_migrate_applies_each_migration_once(handoff, database_url):
    scratch = "handoff_test_cli_migrate"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(scratch)))
    try:
        url = _with_database(database_url, scratch)
        first = handoff("migrate", DATABASE_URL=url)
        assert first.exit_code == 0, first.output
        names = [m.name for m in available_migrations()]
        assert first.output.splitlines() == [f"applying {name}" for name in names] + [
            f"applied {len(names)} migration" + ("s" if len(names) > 1 else "")]
        again = handoff("migrate", DATABASE_URL=url)
        assert again.exit_code == 0
        assert again.output == "database is up to date\n"
    finally:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch)))


def test_commands_on_an_unmigrated_database_say_to_migrate(handoff, database_url):
    result = handoff("channel", "list", DATABASE_URL=_with_database(database_url, "postgres"))
    assert_one_line_error(result, "run `handoff migrate` first", exit_code=1)


# --- channel add / list ----------------------------------------------------------------------


def test_add_whatsapp_channel(handoff, sql_rows):
    result = handoff("channel", "add", "whatsapp", "--name", "Support", "--account-sid", SID,
                     "--auth-token", AUTH_TOKEN, "--number", "+1 (415) 523-8886", "--mode", "hybrid")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        'added whatsapp channel 1 "Support" for whatsapp:+14155238886 (mode hybrid)',
        "In the Twilio console, for this WhatsApp sender, set:",
        f"  When a message comes in (POST):  {PUBLIC_URL}/webhooks/twilio/whatsapp",
        f"  Status callback URL (POST):      {PUBLIC_URL}/webhooks/twilio/status",
    ]
    [row] = sql_rows("SELECT * FROM channels")
    assert (row["kind"], row["name"], row["address"], row["mode"]) == (
        "whatsapp", "Support", "whatsapp:+14155238886", "hybrid")
    assert row["credentials"] == {"account_sid": SID, "auth_token": AUTH_TOKEN}


def test_add_whatsapp_asks_for_the_auth_token_when_omitted(handoff, sql_rows):
    result = handoff("channel", "add", "whatsapp", "--name", "Support", "--account-sid", SID,
                     "--number", "whatsapp:+14155238886", input=AUTH_TOKEN + "\n")
    assert result.exit_code == 0, result.output
    assert AUTH_TOKEN not in result.output
    assert sql_rows("SELECT credentials->>'auth_token' AS t FROM channels") == [{"t": AUTH_TOKEN}]


@pytest.mark.parametrize("option, value, message", [
    ("--account-sid", "AB" + "0" * 32, "starts with AC and has 34 characters"),
    ("--account-sid", "AC123", "starts with AC and has 34 characters"),
    ("--number", "14155238886", "not a phone number in E.164 form"),
    ("--number", "whatsapp:+0123", "not a phone number in E.164 form"),
    ("--mode", "always", "'always' is not one of"),
    ("--name", "  ", "must not be empty"),
])
def test_add_whatsapp_rejects_bad_arguments(handoff, sql_rows, option, value, message):
    args = {"--name": "Support", "--account-sid": SID, "--auth-token": AUTH_TOKEN, "--number": "+14155238886"}
    args[option] = value
    result = handoff("channel", "add", "whatsapp", *[part for pair in args.items() for part in pair])
    assert_one_line_error(result, message, exit_code=2)
    assert sql_rows("SELECT id FROM channels") == []


def test_duplicate_whatsapp_number_is_a_one_line_error(handoff, sql_rows):
    args = ["channel", "add", "whatsapp", "--name", "Support", "--account-sid", SID, "--auth-token", AUTH_TOKEN]
    assert handoff(*args, "--number", "+14155238886").exit_code == 0
    result = handoff(*args, "--number", "whatsapp:+14155238886")
    assert_one_line_error(result, 'a whatsapp channel for whatsapp:+14155238886 already exists (channel 1, "Support")',
                          exit_code=1)
    assert len(sql_rows("SELECT id FROM channels")) == 1


def test_add_messenger_channel_generates_and_shows_the_verify_token_once(handoff, sql_rows):
    result = handoff("channel", "add", "messenger", "--name", "Facebook", "--page-id", "104955512345678",
                     "--page-token", PAGE_TOKEN, "--app-secret", APP_SECRET)
    assert result.exit_code == 0, result.output
    [row] = sql_rows("SELECT * FROM channels")
    generated = row["credentials"]["verify_token"]
    assert len(generated) >= 20
    assert f"  Verify token:  {generated}" in result.output
    assert f"  Callback URL:  {PUBLIC_URL}/webhooks/messenger" in result.output
    assert PAGE_TOKEN not in result.output and APP_SECRET not in result.output
    assert row["credentials"] == {"page_token": PAGE_TOKEN, "app_secret": APP_SECRET, "verify_token": generated}
    assert generated not in handoff("channel", "list").output


def test_add_messenger_channel_with_given_tokens(handoff, sql_rows):
    result = handoff("channel", "add", "messenger", "--name", "Facebook", "--page-id", "1234567890",
                     "--verify-token", VERIFY_TOKEN, input=f"{PAGE_TOKEN}\n{APP_SECRET}\n")
    assert result.exit_code == 0, result.output
    for secret in (PAGE_TOKEN, APP_SECRET, VERIFY_TOKEN):
        assert secret not in result.output
    assert sql_rows("SELECT credentials FROM channels")[0]["credentials"] == {
        "page_token": PAGE_TOKEN, "app_secret": APP_SECRET, "verify_token": VERIFY_TOKEN}

    duplicate = handoff("channel", "add", "messenger", "--name", "Again", "--page-id", "1234567890",
                        "--page-token", "x", "--app-secret", "y")
    assert_one_line_error(duplicate, "a messenger channel for 1234567890 already exists", exit_code=1)
    bad = handoff("channel", "add", "messenger", "--name", "Bad", "--page-id", "my-page",
                  "--page-token", "x", "--app-secret", "y")
    assert_one_line_error(bad, "a Facebook Page ID is a number", exit_code=2)


def test_add_web_channel_prints_the_embed_snippet(handoff, sql_rows):
    result = handoff("channel", "add", "web", "--name", "Website")
    assert result.exit_code == 0, result.output
    [row] = sql_rows("SELECT * FROM channels")
    assert row["kind"] == "web" and row["address"].startswith("wk_") and row["mode"] == "bot_only"
    assert result.output.splitlines() == [
        'added web channel 1 "Website" (mode bot_only)',
        "Paste this snippet into your pages, before </body>:",
        f'  <script src="{PUBLIC_URL}/widget.js" data-key="{row["address"]}" async></script>',
    ]


def test_local_public_url_gets_a_note(handoff):
    result = handoff("channel", "add", "web", "--name", "Website", PUBLIC_URL=None)
    assert result.exit_code == 0
    assert result.output.splitlines()[-1].startswith(
        "Note: http://127.0.0.1:8000 is only reachable from this machine")


def test_channel_set_changes_mode_and_name(handoff, sql_rows):
    handoff("channel", "add", "web", "--name", "Website")
    result = handoff("channel", "set", "1", "--mode", "hybrid", "--name", " Shop chat ")
    assert result.exit_code == 0, result.output
    assert result.output == 'channel 1 "Shop chat" (web): mode hybrid\nchanged: mode, name\n'
    assert sql_rows("SELECT name, mode FROM channels") == [{"name": "Shop chat", "mode": "hybrid"}]
    assert_one_line_error(handoff("channel", "set", "7", "--mode", "hybrid"), "no channel 7: see `handoff channel "
                                                                              "list`", exit_code=1)
    assert handoff("channel", "set", "1", "--mode", "robots").exit_code == 2
    assert handoff("channel", "set", "1").exit_code == 2
    assert sql_rows("SELECT name, mode FROM channels") == [{"name": "Shop chat", "mode": "hybrid"}]


def test_channel_list_shows_what_to_paste_and_no_secrets(handoff, sql_rows):
    assert handoff("channel", "list").output == (
        "no channels yet: add one with `handoff channel add whatsapp|messenger|web`\n")
    handoff("channel", "add", "whatsapp", "--name", "Support", "--account-sid", SID, "--auth-token", AUTH_TOKEN,
            "--number", "+14155238886")
    handoff("channel", "add", "messenger", "--name", "Facebook", "--page-id", "1234567890",
            "--page-token", PAGE_TOKEN, "--app-secret", APP_SECRET, "--verify-token", VERIFY_TOKEN)
    handoff("channel", "add", "web", "--name", "Website", "--mode", "offline_or_missed")
    key = sql_rows("SELECT address FROM channels WHERE kind = 'web'")[0]["address"]

    result = handoff("channel", "list")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split() == ["ID", "KIND", "NAME", "ADDRESS", "MODE"]
    assert lines[1].split() == ["1", "whatsapp", "Support", "whatsapp:+14155238886", "bot_only"]
    assert lines[2].split() == ["Twilio", "webhook:", f"{PUBLIC_URL}/webhooks/twilio/whatsapp"]
    assert lines[3].split() == ["status", "callback:", f"{PUBLIC_URL}/webhooks/twilio/status"]
    assert lines[4].split() == ["2", "messenger", "Facebook", "1234567890", "bot_only"]
    assert lines[5].split() == ["Messenger", "webhook:", f"{PUBLIC_URL}/webhooks/messenger", "(verify", "token",
                                "veri…)"]
    assert lines[6].split() == ["3", "web", "Website", key, "offline_or_missed"]
    assert lines[7].strip() == f'embed: <script src="{PUBLIC_URL}/widget.js" data-key="{key}" async></script>'
    for secret in (AUTH_TOKEN, PAGE_TOKEN, APP_SECRET, VERIFY_TOKEN):
        assert secret not in result.output


# --- agent -----------------------------------------------------------------------------------


def test_agent_add_with_password_on_stdin(handoff, database_url):
    result = handoff("agent", "add", "--email", "ada@example.com", "--name", "Ada Lovelace", "--admin",
                     "--password-stdin", input="correct horse battery\n")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["added agent 1: Ada Lovelace <ada@example.com> (admin)",
                                          f"They sign in at {PUBLIC_URL}/login"]
    assert "correct horse" not in result.output
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        agent = authenticate(conn, "ADA@example.com", "correct horse battery")
    assert agent["is_admin"] is True and agent["name"] == "Ada Lovelace"


def test_agent_add_prompts_for_the_password_twice(handoff, database_url):
    result = handoff("agent", "add", "--email", "bob@example.com", "--name", "Bob",
                     input="s3cret-pass\ns3cret-pass\n")
    assert result.exit_code == 0, result.output
    assert "s3cret-pass" not in result.output
    assert "added agent 1: Bob <bob@example.com>\n" in result.output
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        assert authenticate(conn, "bob@example.com", "s3cret-pass")["is_admin"] is False


def test_agent_add_errors(handoff, sql_rows):
    short = handoff("agent", "add", "--email", "a@example.com", "--name", "A", "--password-stdin", input="short\n")
    assert_one_line_error(short, "the password must have at least 8 characters", exit_code=1)
    empty = handoff("agent", "add", "--email", "a@example.com", "--name", "A", "--password-stdin", input="")
    assert_one_line_error(empty, "no password on standard input", exit_code=1)
    bad_email = handoff("agent", "add", "--email", "not-an-email", "--name", "A", "--password-stdin",
                        input="long enough\n")
    assert_one_line_error(bad_email, "'not-an-email' is not an email address", exit_code=2)
    assert sql_rows("SELECT id FROM agents") == []

    handoff("agent", "add", "--email", "a@example.com", "--name", "A", "--password-stdin", input="long enough\n")
    duplicate = handoff("agent", "add", "--email", "A@Example.com", "--name", "A2", "--password-stdin",
                        input="long enough\n")
    assert_one_line_error(duplicate, "an agent with email A@Example.com already exists", exit_code=1)
    assert len(sql_rows("SELECT id FROM agents")) == 1


def test_agent_password_resets_it(handoff, database_url):
    handoff("agent", "add", "--email", "a@example.com", "--name", "A", "--password-stdin", input="first password\n")
    result = handoff("agent", "password", "--email", "A@example.com", "--password-stdin", input="second password\n")
    assert result.exit_code == 0, result.output
    assert result.output == "password changed for A@example.com; 0 sessions ended and the API token revoked\n"
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        assert authenticate(conn, "a@example.com", "first password") is None
        assert authenticate(conn, "a@example.com", "second password") is not None
    unknown = handoff("agent", "password", "--email", "nobody@example.com", "--password-stdin", input="whatever1\n")
    assert_one_line_error(unknown, "no agent has the email nobody@example.com", exit_code=1)


def test_agent_token_issues_a_personal_api_token_that_replaces_the_last(handoff, database_url):
    handoff("agent", "add", "--email", "a@example.com", "--name", "A", "--password-stdin", input="first password\n")
    first = handoff("agent", "token", "--email", "a@example.com")
    second = handoff("agent", "token", "--email", "A@example.com")
    assert first.exit_code == second.exit_code == 0, second.output
    old, new = first.stdout.strip(), second.stdout.strip()
    assert new.startswith("hat_") and new != old
    assert "shown only this once" in second.stderr and new not in second.stderr
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        assert agent_by_api_token(conn, new)["email"] == "a@example.com"
        assert agent_by_api_token(conn, old) is None
    unknown = handoff("agent", "token", "--email", "nobody@example.com")
    assert_one_line_error(unknown, "no agent has the email nobody@example.com", exit_code=1)


# --- kb import -------------------------------------------------------------------------------

FAQ = """\
---
layout: faq
---
# Shipping

## Delivery times

Orders ship within 2 business days.

### Weekends

We do not ship on weekends.

## Costs

Shipping is free over $50.

```
# not a heading: inside a code block
```
"""


def test_kb_import_splits_markdown_by_heading_and_reimport_updates(handoff, sql_rows, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "faq.md").write_text(FAQ)
    (tmp_path / "hours.txt").write_text("Opening hours\nMonday to Friday, 9 to 5.\n")

    result = handoff("kb", "import", "faq.md", "hours.txt")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["faq.md: 2 articles", "hours.txt: 1 article", "imported 3 new, updated 0"]
    articles = sql_rows("SELECT title, body, source FROM kb_articles ORDER BY id")
    assert [(a["title"], a["source"]) for a in articles] == [
        ("Delivery times", "faq.md#Delivery times"), ("Costs", "faq.md#Costs"), ("Opening hours", "hours.txt")]
    assert articles[0]["body"] == "Orders ship within 2 business days.\n\n### Weekends\n\nWe do not ship on weekends."
    assert "# not a heading" in articles[1]["body"]
    assert articles[2]["body"] == "Monday to Friday, 9 to 5."

    (tmp_path / "faq.md").write_text(FAQ.replace("free over $50", "free over $75") + "\n## Returns\n\n30 days.\n")
    again = handoff("kb", "import", str(tmp_path))  # a directory: its .md and .txt files
    assert again.exit_code == 0, again.output
    assert again.output.splitlines()[-1] == "imported 1 new, updated 3"
    assert len(sql_rows("SELECT id FROM kb_articles")) == 4
    assert "free over $75" in sql_rows("SELECT body FROM kb_articles WHERE source = 'faq.md#Costs'")[0]["body"]


def test_kb_list_show_remove_and_clear_the_demo(handoff, sql_rows, tmp_path, monkeypatch, db):
    from gateway.bot.articles import save_articles
    from gateway.local.demo import sample_articles

    with db() as conn:
        save_articles(conn, sample_articles())
    demo_count = len(sample_articles())
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "shop.md").write_text("# Where is your shop?\n\nOur shop is at 1 Main Street, Lyon.\n")
    monkeypatch.chdir(tmp_path)
    assert handoff("kb", "import", "mine/shop.md").exit_code == 0
    monkeypatch.chdir(tmp_path / "mine")
    again = handoff("kb", "import", "shop.md")  # the same file from another folder: updated, not duplicated
    assert again.output.splitlines()[-1] == "imported 0 new, updated 1"

    listed = handoff("kb", "list").output.splitlines()
    assert listed[-1] == f"{demo_count + 1} articles shown of {demo_count + 1} ({demo_count} from the demo)"
    assert any(line.endswith("Where is your shop?  (shop.md#Where is your shop?)") for line in listed)
    assert sum(line.endswith("(demo)") for line in listed) == demo_count
    mine = sql_rows("SELECT id FROM kb_articles WHERE source LIKE 'shop.md%%'")[0]["id"]
    assert "1 Main Street" in handoff("kb", "show", str(mine)).output

    cleared = handoff("kb", "clear", "--demo", "--yes")
    assert cleared.output == f"removed {demo_count} demo articles\n"
    assert [row["id"] for row in sql_rows("SELECT id FROM kb_articles")] == [mine]
    assert handoff("kb", "remove", str(mine)).output == "removed 1 article\n"
    assert_one_line_error(handoff("kb", "show", str(mine)), f"no article {mine}")


def test_agent_deactivate_ends_their_login(handoff, db):
    from gateway.store import agents
    from tests.helpers import add_agent

    add_agent(db, email="gone@example.com")
    result = handoff("agent", "deactivate", "--email", "gone@example.com")
    assert result.output == "deactivated gone@example.com\n"
    with db() as conn:
        assert agents.authenticate(conn, "gone@example.com", "correct horse battery staple") is None
    assert_one_line_error(handoff("agent", "deactivate", "--email", "gone@example.com"),
                          "no active agent has the email gone@example.com")
    assert handoff("agent", "reactivate", "--email", "gone@example.com").output == "reactivated gone@example.com\n"


def test_kb_import_errors(handoff, sql_rows, tmp_path):
    missing = handoff("kb", "import", str(tmp_path / "nope.md"))
    assert_one_line_error(missing, "does not exist", exit_code=2)
    binary = tmp_path / "image.md"
    binary.write_bytes(b"\xff\xfe\x00\x89PNG")
    unreadable = handoff("kb", "import", str(binary))
    assert_one_line_error(unreadable, "image.md: not UTF-8 text", exit_code=1)
    (tmp_path / "empty").mkdir()
    empty_dir = handoff("kb", "import", str(tmp_path / "empty"))
    assert_one_line_error(empty_dir, "no .md or .txt files found", exit_code=1)
    assert sql_rows("SELECT id FROM kb_articles") == []


def test_articles_from_text_edge_cases():
    # A preamble before the first heading is an article titled by the file name.
    drafts = articles_from_text("Welcome text.\n\n# Returns\n\n30 days.\n## Returns\n\nAgain.\n", "docs/help_center.md",
                                markdown=True)
    assert [(d.title, d.source) for d in drafts] == [
        ("Help center", "docs/help_center.md"), ("Returns", "docs/help_center.md#Returns"),
        ("Returns", "docs/help_center.md#Returns (2)")]
    # No headings: one article; a first line that is a whole paragraph is not a title.
    long_line = "word " * 40
    [draft] = articles_from_text(long_line + "\nmore", "notes.md", markdown=True)
    assert draft.title == "Notes" and draft.body.startswith("word word")
    assert articles_from_text("  \n\n", "blank.txt", markdown=False) == []
    # Headings in a text file are not split.
    [text] = articles_from_text("# Title\n## Sub\nbody\n", "plain.txt", markdown=False)
    assert (text.title, text.body) == ("Title", "## Sub\nbody")


# --- worker ----------------------------------------------------------------------------------


def test_worker_burst_processes_queued_jobs(handoff, client, db, fake_twilio):
    add_whatsapp_channel(db)
    add_article(db, "Shipping", "Orders ship within 2 business days.")
    assert post_twilio(client, "/webhooks/twilio/whatsapp", whatsapp_form(body="When does my order ship?")
                       ).status_code == 200
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        result = handoff("worker", "--burst")
    finally:
        for sig, handler in handlers.items():  # RQ installed its own
            signal.signal(sig, handler)
    assert result.exit_code == 0, result.output
    sent = fake_twilio.sent()
    assert len(sent) == 1 and "2 business days" in sent[0]["Body"]


def test_worker_argument_errors(handoff):
    bad_queue = handoff("worker", "--queues", "high,urgent")
    assert_one_line_error(bad_queue, "unknown queue 'urgent': choose from high, default, low", exit_code=2)
    no_redis = handoff("worker", "--burst", REDIS_URL=None)
    assert_one_line_error(no_redis, "REDIS_URL not set", exit_code=1)
    dead_redis = handoff("worker", "--burst", REDIS_URL="redis://127.0.0.1:1/0")
    assert_one_line_error(dead_redis, "cannot connect to Redis", exit_code=1)
    no_key = handoff("worker", "--burst", AI_PROVIDER="openai", OPENAI_API_KEY=None)
    assert_one_line_error(no_key, "AI_PROVIDER=openai needs OPENAI_API_KEY", exit_code=1)


def test_worker_stops_gracefully_on_sigterm(env, redis):
    from rq import Worker

    worker = subprocess.Popen([sys.executable, "-m", "gateway.cli", "worker"], env={**os.environ, **env},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(worker.stdout), daemon=True)
    reader.start()
    try:
        # Idle (waiting for jobs) means RQ's own signal handlers are installed.
        deadline = time.monotonic() + 30
        while not any(w.pid == worker.pid and w.get_state() == "idle" for w in Worker.all(connection=redis)):
            assert time.monotonic() < deadline and worker.poll() is None, "".join(lines)
            time.sleep(0.1)
        asked = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0, "".join(lines)
        # Promptly: RQ's command listener once held a stop for up to 60 s (gateway/queues.py).
        assert time.monotonic() - asked < 5, "".join(lines)
    finally:
        try:
            os.killpg(worker.pid, signal.SIGKILL)  # the worker and its scheduler process, whatever happened
        except ProcessLookupError:
            pass
        worker.wait()
        reader.join(10)
        if not reader.is_alive():
            worker.stdout.close()
    output = "".join(lines)
    assert "warm shut down requested" in output
    assert "Scheduler with PID" in output and "has stopped" in output
    assert "Traceback" not in output


# --- the demo seed ---------------------------------------------------------------------------


def test_demo_seed_happens_once(database_url, sql_rows):
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        first = seed_demo(conn)
    assert first.seeded_now and not first.skipped
    assert first.admin_email == ADMIN_EMAIL and len(first.admin_password) >= 12
    assert first.web_channel.name == "Website" and first.web_channel.kind == "web"
    assert first.articles == len(sample_articles()) >= 20
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        assert authenticate(conn, ADMIN_EMAIL, first.admin_password)["is_admin"] is True
        second = seed_demo(conn)
    assert not second.seeded_now and second.admin_password is None
    assert second.web_channel.id == first.web_channel.id
    assert len(sql_rows("SELECT id FROM agents")) == 1
    assert len(sql_rows("SELECT id FROM channels")) == 1
    assert sql_rows("SELECT value FROM settings WHERE key = 'demo'")[0]["value"] == {
        "admin_email": ADMIN_EMAIL, "web_channel_id": first.web_channel.id, "widget_key": first.web_channel.address}


def test_demo_seed_leaves_a_database_in_use_alone(handoff, database_url, sql_rows):
    handoff("agent", "add", "--email", "owner@example.com", "--name", "Owner", "--password-stdin",
            input="long enough\n")
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        seed = seed_demo(conn)
    assert seed.skipped and seed.admin_password is None
    assert sql_rows("SELECT email FROM agents") == [{"email": "owner@example.com"}]
    assert sql_rows("SELECT id FROM channels") == [] and sql_rows("SELECT id FROM kb_articles") == []


@pytest.mark.parametrize("question, expected", [
    ("How long does shipping take?", "3 to 5 business days"),
    ("How much does shipping cost?", "free on orders over $50"),
    ("Can I change my delivery address?", "Edit address"),
    ("My parcel says delivered but I didn't get it", "send a replacement or refund you"),
    ("How do I contact you?", "help@mapleandmoss.example"),
    ("How do I return an item?", "prepaid return label"),
    ("What is your return policy?", "within 30 days of delivery"),
    ("When will I get my refund?", "within 5 business days of receiving your return"),
    ("Do you accept PayPal?", "PayPal"),
    ("Where is my order?", "tracking number"),
    ("I forgot my password", "Forgot password"),
    ("What are your opening hours?", "Monday to Friday, 9 am to 6 pm"),
])
def test_sample_knowledge_base_answers_common_questions(question, expected):
    reply = KnowledgeBase([{"title": d.title, "body": d.body} for d in sample_articles()]).answer(question)
    assert reply.confidence >= CONFIDENT, (question, reply)
    assert expected in reply.text, (question, reply.text)


def test_sample_knowledge_base_files_are_short_articles():
    folder = Path(__file__).resolve().parent.parent / "gateway" / "local" / "demo_kb"
    files = sorted(p.name for p in folder.glob("*.md"))
    assert files == ["account-and-password.md", "contact-and-hours.md", "order-tracking.md", "payment-methods.md",
                     "returns-and-refunds.md", "shipping.md"]
    for draft in sample_articles():
        assert draft.source.startswith("demo:") and "#" in draft.source
        assert 0 < len(draft.body) < 1200
