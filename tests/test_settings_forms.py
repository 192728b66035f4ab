"""The settings pages' forms without a browser: each posts what a browser
posts (CSRF token included) and changes what the admin API would change, or
shows the same refusal."""

from __future__ import annotations

import re

import pytest

from tests.helpers import (
    AGENT_EMAIL,
    add_agent,
    add_whatsapp_channel,
    csrf_from,
    fetch_all,
    fetch_one,
    log_in,
    seed_conversation,
)

ADMIN = "boss@example.com"


@pytest.fixture
def admin_client(client, db):
    add_agent(db, email=ADMIN, name="Boss", is_admin=True)
    assert log_in(client, ADMIN).status_code == 303
    return client


def post(client, path: str, data: dict | None = None, **kwargs):
    token = csrf_from(client.get("/settings/channels").get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, **(data or {})}, **kwargs)


def text(response) -> str:
    return response.get_data(as_text=True)


def test_a_form_without_its_csrf_token_is_refused(admin_client, db):
    assert admin_client.post("/settings/teams", data={"name": "Sales"}).status_code == 400
    assert fetch_all(db, "SELECT id FROM teams") == []


def test_teams_hours_and_members(admin_client, db):
    assert post(admin_client, "/settings/teams", {"name": "Sales"}).status_code == 303
    team_id = fetch_one(db, "SELECT id FROM teams")["id"]
    boss = fetch_one(db, "SELECT id FROM agents")["id"]
    saved = post(admin_client, f"/settings/teams/{team_id}", {
        "name": "Sales", "timezone": "Europe/Paris", "weekly": "mon-fri 09:00-17:30\nsat 10:00-14:00",
        "holidays": "2026-12-25", "auto_assign": "on", "email": "sales@example.com", "members": [str(boss)]})
    assert saved.status_code == 303
    team = fetch_one(db, "SELECT * FROM teams")
    assert team["hours"]["weekly"]["mon"] == [["09:00", "17:30"]] and team["hours"]["holidays"] == ["2026-12-25"]
    assert team["email"] == "sales@example.com"
    assert fetch_all(db, "SELECT agent_id FROM agent_teams") == [{"agent_id": boss}]
    page = text(admin_client.get("/settings/teams"))
    assert "mon-fri 09:00-17:30" in page
    bad = post(admin_client, f"/settings/teams/{team_id}", {"name": "Sales", "timezone": "Europe/Paris",
                                                            "weekly": "mon-fri 25:00-26:00"})
    assert bad.status_code == 400 and "Not saved" in text(bad) and "25:00" in text(bad)


def test_agents_are_added_and_changed(admin_client, db):
    response = post(admin_client, "/settings/agents", {"email": "new@example.com", "name": "New Person",
                                                      "password": "long enough password"})
    assert response.status_code == 303
    agent_id = fetch_one(db, "SELECT id FROM agents WHERE email = 'new@example.com'")["id"]
    assert post(admin_client, f"/settings/agents/{agent_id}", {"capacity": "7", "is_admin": "on"}).status_code == 303
    assert fetch_one(db, "SELECT capacity, is_admin FROM agents WHERE id = %s", agent_id) == {
        "capacity": 7, "is_admin": True}
    taken = post(admin_client, "/settings/agents", {"email": "NEW@example.com", "name": "Again",
                                                   "password": "long enough password"})
    assert taken.status_code == 400 and "already exists" in text(taken)
    assert "long enough password" not in text(taken)  # a password is never sent back


def test_the_webhook_secret_is_shown_once(admin_client, db):
    created = post(admin_client, "/settings/webhooks", {"url": "https://example.com/hook",
                                                       "events": ["conversation.escalated"]})
    assert created.status_code == 200
    secret = fetch_one(db, "SELECT secret FROM webhook_subscriptions")["secret"]
    assert secret in text(created) and "it is not shown again" in text(created)
    subscription_id = fetch_one(db, "SELECT id FROM webhook_subscriptions")["id"]
    assert secret not in text(admin_client.get(f"/settings/webhooks/{subscription_id}"))
    rotated = post(admin_client, f"/settings/webhooks/{subscription_id}/rotate")
    new_secret = fetch_one(db, "SELECT secret FROM webhook_subscriptions")["secret"]
    assert new_secret != secret and new_secret in text(rotated)
    assert post(admin_client, f"/settings/webhooks/{subscription_id}/test").status_code == 303
    [delivery] = fetch_all(db, "SELECT id, event FROM webhook_deliveries")
    assert delivery["event"] == "ping"
    assert post(admin_client, f"/settings/webhooks/{subscription_id}/deliveries/{delivery['id']}/redeliver"
                ).status_code == 303
    refused = post(admin_client, "/settings/webhooks", {"url": "ftp://example.com", "events": []})
    assert refused.status_code == 400 and "http:// or https://" in text(refused)


def test_articles_are_written_edited_and_deleted(admin_client, db):
    written = post(admin_client, "/settings/kb/new", {"title": "Gift cards", "body": "They never expire."})
    article_id = int(re.search(r"/settings/kb/(\d+)", written.headers["Location"]).group(1))
    assert post(admin_client, f"/settings/kb/{article_id}", {"title": "Gift cards", "body": "Valid 2 years."}
                ).status_code == 303
    assert fetch_one(db, "SELECT body, source FROM kb_articles")["body"] == "Valid 2 years."
    assert fetch_one(db, "SELECT source FROM kb_articles")["source"].startswith("editor:")
    assert "Gift cards" in text(admin_client.get("/settings/kb?q=gift"))
    assert "No article has all of" in text(admin_client.get("/settings/kb?q=zebra"))
    empty = post(admin_client, "/settings/kb/new", {"title": " ", "body": "x"})
    assert empty.status_code == 400 and "title" in text(empty)
    assert post(admin_client, f"/settings/kb/{article_id}/delete").status_code == 303
    assert fetch_all(db, "SELECT id FROM kb_articles") == []


def test_templates_disable_and_delete_a_channel(admin_client, db):
    channel = add_whatsapp_channel(db)
    seed_conversation(db, channel, "whatsapp:+15551230001", [("customer", "hi")])
    added = post(admin_client, f"/settings/channels/{channel.id}/templates", {
        "template_name": "follow_up", "content_sid": "HX" + "a" * 32, "variables": "customer_name",
        "body": "Hi {{1}}, any news?"})
    assert added.status_code == 303
    assert fetch_one(db, "SELECT settings FROM channels")["settings"]["templates"][0]["name"] == "follow_up"
    wrong = post(admin_client, f"/settings/channels/{channel.id}/templates", {
        "template_name": "bad", "content_sid": "nope", "body": "x"})
    assert wrong.status_code == 400 and "content_sid" in text(wrong)
    assert post(admin_client, f"/settings/channels/{channel.id}/templates", {"remove": "follow_up"}).status_code == 303
    assert fetch_one(db, "SELECT settings FROM channels")["settings"]["templates"] == []

    assert post(admin_client, f"/settings/channels/{channel.id}/enabled", {"disabled": "1"}).status_code == 303
    assert fetch_one(db, "SELECT disabled_at FROM channels")["disabled_at"] is not None
    page = text(admin_client.get(f"/settings/channels/{channel.id}"))
    assert "1 conversation(s)</strong> (1 still open) and <strong>1 message(s)" in page
    unconfirmed = post(admin_client, f"/settings/channels/{channel.id}/delete")
    assert unconfirmed.status_code == 400 and fetch_one(db, "SELECT count(*) AS n FROM channels")["n"] == 1
    assert post(admin_client, f"/settings/channels/{channel.id}/delete", {"confirm": "yes"}).status_code == 303
    assert fetch_all(db, "SELECT id FROM conversations") == []
    changes = [row["detail"] for row in fetch_all(db, "SELECT detail FROM events WHERE kind = 'settings.changed'")]
    assert {"channel_id": channel.id, "changed": ["disabled"]} in changes
    assert any(change.get("action") == "deleted" for change in changes)


def test_a_disabled_channel_takes_nothing_in(client, db):
    from tests.helpers import post_twilio, whatsapp_form

    channel = add_whatsapp_channel(db)
    with db() as conn:
        conn.execute("UPDATE channels SET disabled_at = now() WHERE id = %s", (channel.id,))
    response = post_twilio(client, "/webhooks/twilio/whatsapp", whatsapp_form())
    assert response.status_code == 404 and "disabled" in response.get_json()["error"]
    assert fetch_all(db, "SELECT id FROM messages") == []


def test_an_agent_who_is_not_an_admin_gets_403_everywhere(client, db):
    add_agent(db, email=AGENT_EMAIL)
    assert log_in(client).status_code == 303
    for path in ("/settings", "/settings/bot", "/settings/kb", "/settings/agents", "/reports"):
        response = client.get(path)
        assert response.status_code in (302, 403), path
        if response.status_code == 403:
            assert "Admins only" in text(response)
    assert 'href="/settings' not in text(client.get("/inbox"))  # no Settings link for them


def test_saving_the_bot_page_unchanged_changes_nothing(admin_client, db):
    """Every field the page shows goes back as it came: a save without edits is no change
    (and a field the page does not show is kept)."""
    from html import unescape

    from gateway.bot.settings import default_bot_settings

    html = text(admin_client.get("/settings/bot"))
    form = {}
    for name, value in re.findall(r'<input[^>]* name="([^"]+)"[^>]* value="([^"]*)"', html):
        form[name] = unescape(value)
    for name, body in re.findall(r'<textarea[^>]* name="([^"]+)"[^>]*>([^<]*)</textarea>', html):
        form[name] = unescape(body)
    for name, options in re.findall(r'<select[^>]* name="([^"]+)"[^>]*>(.*?)</select>', html, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', options)
        form[name] = chosen.group(1) if chosen else re.search(r'<option value="([^"]*)"', options).group(1)
    for name in re.findall(r'<input type="checkbox" name="([^"]+)" checked', html):
        form[name] = "on"
    form.pop("csrf_token", None)
    saved = post(admin_client, "/settings/bot", form)
    assert saved.status_code == 303, text(saved)
    with admin_client.session_transaction() as session:
        assert "Nothing changed." in str(session.get("_flashes"))
    stored = fetch_one(db, "SELECT value FROM settings WHERE key = 'bot'")
    assert stored is None or stored["value"] == default_bot_settings()
