"""The admin API: bot settings and channels, for admins only, every change audited."""

from __future__ import annotations

import pytest

from gateway.bot.settings import default_bot_settings
from gateway.store.agents import issue_api_token
from tests.conftest import ADMIN_EMAIL
from tests.helpers import (
    APP_SECRET,
    add_agent,
    add_messenger_channel,
    bearer,
    csrf_from,
    fetch_all,
    fetch_one,
    log_in,
)


def settings_events(db) -> list[dict]:
    return fetch_all(db, "SELECT agent_id, detail FROM events WHERE kind = 'settings.changed' ORDER BY id")


# --- who may ----------------------------------------------------------------------------------


def test_a_wrong_token_gets_401(client, admin):
    assert client.get("/api/admin/bot-settings", headers=bearer("hat_wrong")).status_code == 401


def test_an_agent_who_is_not_admin_gets_403(client, db):
    agent = add_agent(db)
    with db() as conn:
        token = issue_api_token(conn, agent["id"])
    response = client.get("/api/admin/bot-settings", headers=bearer(token))
    assert response.status_code == 403
    assert response.get_json() == {"error": "this endpoint is for admins"}
    response = client.patch("/api/admin/bot-settings", json={"default_team": "Sales"}, headers=bearer(token))
    assert response.status_code == 403


def test_an_admin_token_reads_the_full_normalized_document(client, auth):
    response = client.get("/api/admin/bot-settings", headers=auth)
    assert response.status_code == 200
    assert response.get_json() == default_bot_settings()


def test_a_logged_in_admin_writes_with_the_csrf_header(client, admin):
    log_in(client, email=ADMIN_EMAIL)
    assert client.get("/api/admin/bot-settings").status_code == 200
    refused = client.patch("/api/admin/bot-settings", json={"default_team": "Sales"})
    assert refused.status_code == 403
    token = csrf_from(client.get("/inbox").get_data(as_text=True))
    response = client.patch("/api/admin/bot-settings", json={"default_team": "Sales"},
                            headers={"X-CSRF-Token": token})
    assert response.status_code == 200
    assert response.get_json()["default_team"] == "Sales"


# --- bot settings -----------------------------------------------------------------------------


def test_put_replaces_the_document_and_records_the_changed_keys(client, db, admin, auth):
    response = client.put("/api/admin/bot-settings", headers=auth,
                          json={"confidence_threshold": 0.7, "trigger_phrases": ["* manager *"]})
    assert response.status_code == 200
    saved = response.get_json()
    assert saved == dict(default_bot_settings(), confidence_threshold=0.7, trigger_phrases=["* manager *"])
    assert client.get("/api/admin/bot-settings", headers=auth).get_json() == saved
    assert settings_events(db) == [{"agent_id": admin["id"], "detail": {
        "settings": "bot", "changed": ["confidence_threshold", "trigger_phrases"]}}]

    # PUT is a replacement: what it leaves out goes back to its default.
    replaced = client.put("/api/admin/bot-settings", headers=auth, json={"default_team": "Sales"}).get_json()
    assert replaced["confidence_threshold"] == 0.5 and replaced["trigger_phrases"] == []
    assert settings_events(db)[-1]["detail"]["changed"] == ["confidence_threshold", "default_team",
                                                            "trigger_phrases"]


def test_patch_merges_top_level_keys(client, db, auth):
    client.put("/api/admin/bot-settings", headers=auth, json={"low_confidence_streak": 3, "default_team": "Sales"})
    response = client.patch("/api/admin/bot-settings", headers=auth,
                            json={"vip": {"after_answers": 0}, "human_request_phrases": ["parler à quelqu'un"]})
    assert response.status_code == 200
    saved = response.get_json()
    assert saved["low_confidence_streak"] == 3 and saved["default_team"] == "Sales"
    assert saved["human_request_phrases"] == ["parler à quelqu'un"]
    # A nested section is a top-level key: replaced whole, its missing fields take their defaults.
    assert saved["vip"] == dict(default_bot_settings()["vip"], after_answers=0)
    assert settings_events(db)[-1]["detail"]["changed"] == ["human_request_phrases", "vip"]


def test_a_patch_that_changes_nothing_records_nothing(client, db, auth):
    assert client.patch("/api/admin/bot-settings", headers=auth, json={"default_team": "General"}).status_code == 200
    assert settings_events(db) == []


def test_invalid_settings_answer_400_with_a_message_per_field_and_save_nothing(client, db, auth):
    response = client.patch("/api/admin/bot-settings", headers=auth, json={
        "confidence_threshold": 2, "trigger_phrases": ["*"], "vip": {"priority": "asap"}, "colour": "blue"})
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "invalid bot settings"
    details = body["details"]
    assert details["confidence_threshold"] == ["must be between 0.0 and 1.0"]
    assert "would fire on every message" in details["trigger_phrases"]["0"][0]
    assert details["vip"]["priority"] == ["must be one of: low, normal, high, urgent"]
    assert details["colour"] == ["Unknown field."]
    assert fetch_one(db, "SELECT count(*) AS n FROM settings")["n"] == 0
    assert settings_events(db) == []


@pytest.mark.parametrize("body", [[1, 2], "text", None])
def test_a_body_that_is_not_an_object_answers_400(client, auth, body):
    response = client.put("/api/admin/bot-settings", headers=auth, json=body)
    assert response.status_code == 400
    assert response.get_json()["error"] == "the request body must be a JSON object"


# --- channels ---------------------------------------------------------------------------------


def test_channel_mode_and_name_change_without_showing_credentials(client, db, admin, auth):
    channel = add_messenger_channel(db)
    response = client.get(f"/api/admin/channels/{channel.id}", headers=auth)
    assert response.status_code == 200
    assert response.get_json()["mode"] == "bot_only"
    assert APP_SECRET not in response.get_data(as_text=True)
    assert "credentials" not in response.get_json()

    response = client.patch(f"/api/admin/channels/{channel.id}", headers=auth,
                            json={"mode": "hybrid", "name": "  Facebook page "})
    assert response.status_code == 200
    body = response.get_json()
    assert (body["mode"], body["name"], body["kind"]) == ("hybrid", "Facebook page", "messenger")
    assert "page-token" not in response.get_data(as_text=True)
    assert fetch_one(db, "SELECT mode, name FROM channels WHERE id = %s", channel.id) == {
        "mode": "hybrid", "name": "Facebook page"}
    assert settings_events(db) == [{"agent_id": admin["id"], "detail": {"channel_id": channel.id,
                                                                        "changed": ["mode", "name"]}}]


def test_channel_changes_are_validated(client, db, auth):
    channel = add_messenger_channel(db)
    response = client.patch(f"/api/admin/channels/{channel.id}", headers=auth,
                            json={"mode": "always", "owner": "x"})
    assert response.status_code == 400
    details = response.get_json()["details"]
    assert details["mode"] == ["must be one of: bot_only, hybrid, offline_or_missed"]
    assert details["owner"] == ["Unknown field."]
    blank = client.patch(f"/api/admin/channels/{channel.id}", headers=auth, json={"name": "   "})
    assert blank.status_code == 400 and blank.get_json()["details"] == {"name": ["must not be blank"]}
    assert fetch_one(db, "SELECT mode FROM channels WHERE id = %s", channel.id)["mode"] == "bot_only"


def test_an_unknown_channel_is_404(client, auth):
    assert client.get("/api/admin/channels/999", headers=auth).status_code == 404
    assert client.patch("/api/admin/channels/999", headers=auth, json={"mode": "hybrid"}).status_code == 404
