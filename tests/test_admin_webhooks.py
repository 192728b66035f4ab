"""The admin API of outbound webhooks: admins only, the secret shown once,
validation, deliveries with their attempts, redelivery and the test ping,
delivered by real jobs to a recording receiver."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from gateway.admin import webhooks as webhook_admin
from tests.fakes.recorder import RecordingServer
from tests.helpers import fetch_all, fetch_one
from workers.notify import deliver_webhook

BASE = "/api/admin/webhooks"


@pytest.fixture
def receiver():
    server = RecordingServer(lambda request: (200, {"ok": True})).start()
    yield server
    server.stop()


@pytest.fixture
def subscribed(client, auth, receiver) -> dict:
    response = client.post(BASE, headers=auth, json={"url": receiver.url + "/hook",
                                                     "events": ["conversation.escalated"],
                                                     "description": "CRM"})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def audit(db) -> list[dict]:
    return [row["detail"] for row in fetch_all(db, "SELECT detail FROM events WHERE kind = 'settings.changed' "
                                                   "ORDER BY id")]


def signed_with(secret: str, request) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, request.headers["X-Handoff-Signature-256"])


def test_a_subscription_shows_its_secret_once(client, db, admin, auth, subscribed, receiver):
    assert subscribed["secret"].startswith("whsec_") and len(subscribed["secret"]) > 40
    assert subscribed["url"] == receiver.url + "/hook"
    assert (subscribed["events"], subscribed["description"], subscribed["active"]) == (
        ["conversation.escalated"], "CRM", True)
    assert subscribed["last_delivery"] is None

    listed = client.get(BASE, headers=auth)
    one = client.get(f"{BASE}/{subscribed['id']}", headers=auth)

    assert listed.status_code == one.status_code == 200
    assert listed.get_json() == {"webhooks": [one.get_json()]}
    assert one.get_json() == {key: value for key, value in subscribed.items() if key != "secret"}
    assert subscribed["secret"] not in listed.get_data(as_text=True) + one.get_data(as_text=True)
    assert audit(db) == [{"webhook_id": subscribed["id"], "action": "created"}]
    assert fetch_one(db, "SELECT agent_id FROM events")["agent_id"] == admin["id"]


def test_create_answers_201_with_its_location(client, auth, receiver):
    response = client.post(BASE, headers=auth, json={"url": receiver.url, "events": ["*", "*"]})
    assert response.status_code == 201
    assert response.headers["Location"] == f"{BASE}/{response.get_json()['id']}"
    assert response.get_json()["events"] == ["*"]
    assert response.get_json()["description"] == ""


@pytest.mark.parametrize("body, details", [
    ({"url": "ftp://example.com/hook", "events": ["*"]},
     {"url": ["must be an http:// or https:// URL with a host"]}),
    ({"url": "https://", "events": ["*"]}, {"url": ["must be an http:// or https:// URL with a host"]}),
    ({"url": "https://example.com:port/", "events": ["*"]}, {"url": ["not a valid URL"]}),
    ({"url": "https://example.com/hook"}, {"events": ["Missing data for required field."]}),
    ({"url": "https://example.com/hook", "events": []}, {"events": ["name at least one event (or '*' for all)"]}),
    ({"events": ["ticket.created"]}, {"url": ["Missing data for required field."]}),
    ({"url": "https://example.com/hook", "events": ["ticket.closed"], "active": False},
     {"events": {"0": [f"must be one of: {', '.join(webhook_admin.EVENT_CHOICES)}"]},
      "active": ["Unknown field."]}),
])
def test_invalid_subscriptions_answer_400_per_field(client, db, auth, body, details):
    response = client.post(BASE, headers=auth, json=body)
    assert response.status_code == 400
    assert response.get_json() == {"error": "invalid webhook subscription", "details": details}
    assert fetch_all(db, "SELECT id FROM webhook_subscriptions") == []


def test_a_body_that_is_not_an_object_answers_400(client, auth):
    response = client.post(BASE, headers=auth, json=["https://example.com"])
    assert response.status_code == 400
    assert response.get_json() == {"error": "the request body must be a JSON object"}


def test_patch_changes_what_is_given_and_audits_the_keys(client, db, auth, subscribed):
    path = f"{BASE}/{subscribed['id']}"
    response = client.patch(path, headers=auth, json={"events": ["ticket.created", "conversation.missed"],
                                                      "description": "CRM", "url": "https://crm.example.com/in"})
    assert response.status_code == 200
    changed = response.get_json()
    assert changed["events"] == ["ticket.created", "conversation.missed"]
    assert (changed["url"], changed["description"], changed["active"]) == ("https://crm.example.com/in", "CRM", True)
    assert audit(db)[-1] == {"webhook_id": subscribed["id"], "changed": ["events", "url"]}

    assert client.patch(path, headers=auth, json={"events": ["ticket.created", "conversation.missed"]}).status_code == 200
    assert len(audit(db)) == 2  # nothing changed, nothing recorded

    invalid = client.patch(path, headers=auth, json={"active": "maybe", "secret": "mine"})
    assert invalid.status_code == 400
    assert set(invalid.get_json()["details"]) == {"active", "secret"}
    assert client.patch(f"{BASE}/999", headers=auth, json={"active": False}).status_code == 404


def test_deactivating_fails_pending_deliveries_and_blocks_tests(client, db, auth, subscribed):
    path = f"{BASE}/{subscribed['id']}"
    test = client.post(f"{path}/test", headers=auth)
    assert test.status_code == 202

    response = client.patch(path, headers=auth, json={"active": False})

    assert response.get_json()["active"] is False
    [delivery] = client.get(f"{path}/deliveries", headers=auth).get_json()["deliveries"]
    assert (delivery["status"], delivery["last_error"]) == ("failed", "the subscription was deactivated")
    refused = client.post(f"{path}/test", headers=auth)
    assert refused.status_code == 409
    assert "inactive" in refused.get_json()["error"]
    assert client.post(f"{path}/deliveries/{delivery['id']}/redeliver", headers=auth).status_code == 409


def test_delete_removes_the_subscription_and_its_deliveries(client, db, auth, subscribed):
    path = f"{BASE}/{subscribed['id']}"
    client.post(f"{path}/test", headers=auth)

    response = client.delete(path, headers=auth)

    assert response.status_code == 204 and response.get_data() == b""
    assert client.get(path, headers=auth).status_code == 404
    assert client.delete(path, headers=auth).status_code == 404
    assert fetch_all(db, "SELECT id FROM webhook_deliveries") == []
    assert audit(db)[-1] == {"webhook_id": subscribed["id"], "action": "deleted"}


def test_the_test_ping_is_delivered_signed_and_listed_with_its_attempts(client, auth, run_jobs, subscribed,
                                                                       receiver):
    path = f"{BASE}/{subscribed['id']}"

    response = client.post(f"{path}/test", headers=auth)
    run_jobs()

    assert response.status_code == 202
    delivery_id = response.get_json()["delivery_id"]
    [request] = receiver.requests
    assert request.headers["X-Handoff-Event"] == "ping"
    assert request.headers["X-Handoff-Delivery"] == str(delivery_id)
    assert signed_with(subscribed["secret"], request)
    assert request.json()["data"] == {"subscription_id": subscribed["id"], "events": ["conversation.escalated"]}
    [delivery] = client.get(f"{path}/deliveries", headers=auth).get_json()["deliveries"]
    assert (delivery["id"], delivery["event"], delivery["status"], delivery["attempts"]) == (
        delivery_id, "ping", "delivered", 1)
    assert delivery["payload"] == request.json()
    [attempt] = delivery["attempt_log"]
    assert (attempt["attempt"], attempt["status"], attempt["error"]) == (1, 200, None)
    assert isinstance(attempt["duration_ms"], int)
    last = client.get(path, headers=auth).get_json()["last_delivery"]
    assert (last["id"], last["status"], last["last_status"]) == (delivery_id, "delivered", 200)


def test_rotating_the_secret_signs_later_deliveries_with_the_new_one(client, db, auth, run_jobs, subscribed,
                                                                     receiver):
    path = f"{BASE}/{subscribed['id']}"

    rotated = client.post(f"{path}/rotate-secret", headers=auth)
    client.post(f"{path}/test", headers=auth)
    run_jobs()

    assert rotated.status_code == 200
    secret = rotated.get_json()["secret"]
    assert rotated.get_json() == {"id": subscribed["id"], "secret": secret}
    assert secret != subscribed["secret"]
    [request] = receiver.requests
    assert signed_with(secret, request) and not signed_with(subscribed["secret"], request)
    assert audit(db)[-1] == {"webhook_id": subscribed["id"], "action": "secret_rotated"}
    assert client.post(f"{BASE}/999/rotate-secret", headers=auth).status_code == 404


def test_redeliver_sends_a_failed_delivery_again(client, auth, run_jobs, subscribed, receiver):
    path = f"{BASE}/{subscribed['id']}"
    receiver.respond_next(410, "gone")
    delivery_id = client.post(f"{path}/test", headers=auth).get_json()["delivery_id"]
    run_jobs()
    assert client.patch(path, headers=auth, json={"active": True}).status_code == 200  # 410 switched it off

    response = client.post(f"{path}/deliveries/{delivery_id}/redeliver", headers=auth)
    run_jobs()

    assert response.status_code == 202
    assert response.get_json() == {"delivery_id": delivery_id}
    first, again = receiver.requests
    assert first.body == again.body
    [delivery] = client.get(f"{path}/deliveries", headers=auth).get_json()["deliveries"]
    assert (delivery["status"], delivery["attempts"]) == ("delivered", 2)
    assert [(a["attempt"], a["status"]) for a in delivery["attempt_log"]] == [(1, 410), (2, 200)]
    assert deliver_webhook(delivery_id) == "not due"


def test_redeliver_of_an_unknown_delivery_is_404(client, auth, subscribed, receiver):
    other = client.post(BASE, headers=auth, json={"url": receiver.url, "events": ["*"]}).get_json()
    theirs = client.post(f"{BASE}/{other['id']}/test", headers=auth).get_json()["delivery_id"]

    assert client.post(f"{BASE}/{subscribed['id']}/deliveries/{theirs}/redeliver", headers=auth).status_code == 404
    assert client.post(f"{BASE}/{subscribed['id']}/deliveries/999/redeliver", headers=auth).status_code == 404
    assert client.post(f"{BASE}/999/deliveries/{theirs}/redeliver", headers=auth).status_code == 404


def test_deliveries_are_newest_first_within_the_limit(client, auth, subscribed):
    path = f"{BASE}/{subscribed['id']}"
    ids = [client.post(f"{path}/test", headers=auth).get_json()["delivery_id"] for _ in range(3)]

    listed = client.get(f"{path}/deliveries?limit=2", headers=auth).get_json()["deliveries"]

    assert [delivery["id"] for delivery in listed] == ids[:0:-1]
    assert all(delivery["status"] == "pending" and delivery["attempt_log"] == [] for delivery in listed)


@pytest.mark.parametrize("limit", ["0", "101", "ten"])
def test_a_bad_deliveries_limit_is_400(client, auth, subscribed, limit):
    response = client.get(f"{BASE}/{subscribed['id']}/deliveries?limit={limit}", headers=auth)
    assert response.status_code == 400
    assert response.get_json()["details"] == {"limit": ["a whole number from 1 to 100"]}


def test_unknown_subscriptions_are_404(client, auth):
    for method, path in [("GET", f"{BASE}/999"), ("DELETE", f"{BASE}/999"), ("GET", f"{BASE}/999/deliveries"),
                         ("POST", f"{BASE}/999/test")]:
        response = client.open(path, method=method, headers=auth)
        assert response.status_code == 404, (method, path)
        assert response.get_json() == {"error": "no webhook subscription 999"}
