"""The demo `handoff run` seeds once: an admin (member of the default teams), the sample knowledge base, a web channel.

The seed is recorded in settings under "demo" (with the web channel's id and
widget key, which the /demo page embeds), so it happens once per database: a
later run finds the record and leaves everything as the user changed it. A
database that already has agents or channels is not a fresh install; it gets
no demo data (only the record, saying it was skipped).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from importlib import resources

from channels.web import new_widget_key
from gateway.bot.articles import articles_from_text, save_articles
from gateway.store.agents import create_agent
from gateway.store.channels import ChannelRow, create_channel, get_channel
from gateway.store.settings import get_setting, put_setting
from gateway.store.teams import add_member, ensure_team

SETTINGS_KEY = "demo"
ADMIN_EMAIL = "admin@example.com"
# The teams the default routing rules name.
DEMO_TEAMS = ("General", "Billing", "Technical")
ADMIN_NAME = "Admin"
WEB_CHANNEL_NAME = "Website"
# The demo shows the handoff: the bot answers, and escalates to a person.
WEB_CHANNEL_MODE = "hybrid"
# Ensures two processes seeding one database at once do one seed.
SEED_LOCK_KEY = 0x48444D4F


@dataclass(frozen=True)
class DemoSeed:
    seeded_now: bool               # False: an earlier run seeded (or skipped) it
    skipped: bool                  # the database was not empty: no demo data
    admin_email: str | None
    admin_password: str | None     # only when seeded now; shown once, never stored
    web_channel: ChannelRow | None
    articles: int = 0


def sample_articles() -> list:
    """The sample knowledge base of the fictional shop (gateway/local/demo_kb/*.md)."""
    drafts = []
    folder = resources.files("gateway.local") / "demo_kb"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".md"):
            drafts += articles_from_text(entry.read_text(encoding="utf-8"), f"demo:{entry.name}", markdown=True)
    return drafts


def seed_demo(conn) -> DemoSeed:
    """Seed the demo in the caller's transaction, once per database."""
    conn.execute("SELECT pg_advisory_xact_lock(%(key)s)", {"key": SEED_LOCK_KEY})
    value = get_setting(conn, SETTINGS_KEY)
    if value is not None:
        channel_id = value.get("web_channel_id")
        return DemoSeed(
            seeded_now=False, skipped=bool(value.get("skipped")), admin_email=value.get("admin_email"),
            admin_password=None, web_channel=get_channel(conn, channel_id) if channel_id else None,
        )
    existing = conn.execute(
        "SELECT (SELECT count(*) FROM agents) AS agents, (SELECT count(*) FROM channels) AS channels"
    ).fetchone()
    if existing["agents"] or existing["channels"]:
        _record(conn, {"skipped": True, "reason": "the database already had agents or channels"})
        return DemoSeed(seeded_now=True, skipped=True, admin_email=None, admin_password=None, web_channel=None)

    password = secrets.token_urlsafe(12)
    admin = create_agent(conn, email=ADMIN_EMAIL, name=ADMIN_NAME, password=password, is_admin=True)
    # The admin answers what the bot routes to each default team (when online).
    for team in DEMO_TEAMS:
        add_member(conn, ensure_team(conn, team), admin["id"])
    articles = sample_articles()
    save_articles(conn, articles)
    channel = create_channel(conn, kind="web", name=WEB_CHANNEL_NAME, address=new_widget_key(), credentials={},
                             mode=WEB_CHANNEL_MODE)
    _record(conn, {"admin_email": ADMIN_EMAIL, "web_channel_id": channel.id, "widget_key": channel.address})
    return DemoSeed(seeded_now=True, skipped=False, admin_email=ADMIN_EMAIL, admin_password=password,
                    web_channel=channel, articles=len(articles))


def _record(conn, value: dict) -> None:
    put_setting(conn, SETTINGS_KEY, value)
