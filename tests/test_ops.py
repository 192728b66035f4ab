"""Operations endpoints: liveness, readiness (503 when a dependency is down)
and the Prometheus metrics an operator alerts on."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gateway.app import create_app
from gateway.store import agents, teams
from tests.helpers import add_agent, add_whatsapp_channel, post_twilio, staff_team, whatsapp_form

REFUSING_REDIS = "redis://127.0.0.1:1/0"


def test_healthz_answers_without_touching_dependencies(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_readyz_checks_database_and_redis(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready", "checks": {"database": "ok", "redis": "ok"}}


@pytest.fixture
def app_without_redis(config):
    app = create_app(replace(config, redis_url=REFUSING_REDIS))
    yield app
    app.extensions["handoff"].pool.close()


def test_readyz_is_503_when_redis_is_down(app_without_redis):
    response = app_without_redis.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "not ready" and body["checks"]["database"] == "ok"
    assert body["checks"]["redis"].startswith("unavailable: ")


def test_metrics_show_queues_conversations_and_what_waits_for_each_team(client, db, run_jobs):
    add_whatsapp_channel(db)
    staff_team(db, "Billing", agents=2)
    with db() as conn:
        quoted = teams.ensure_team(conn, 'Night "owls"')
        agents.set_presence(conn, add_agent(db, email="owl@example.com", name="Owl")["id"], "online",
                            ttl_seconds=60)
        teams.add_member(conn, quoted, agents.agent_id_by_email(conn, "owl@example.com"))
        conn.execute("INSERT INTO webhook_subscriptions (url, secret, events) VALUES ('http://127.0.0.1:1/hook', 's', "
                     "'{message.created}')")  # nobody listens: the delivery stays pending (retrying)
    post_twilio(client, "/webhooks/twilio/whatsapp", whatsapp_form(body="I want to talk to a person about my invoice"))
    queued = client.get("/metrics").get_data(as_text=True)
    assert 'handoff_queue_length{queue="default"} 1' in queued.splitlines()
    run_jobs()

    lines = client.get("/metrics").get_data(as_text=True).splitlines()
    assert "# TYPE handoff_team_waiting gauge" in lines
    assert 'handoff_conversations{status="queued"} 1' in lines
    assert 'handoff_team_waiting{team="Billing"} 1' in lines
    assert 'handoff_team_missed{team="Billing"} 0' in lines
    assert 'handoff_team_agents_online{team="Billing"} 2' in lines
    assert 'handoff_team_agents_online{team="Night \\"owls\\""} 1' in lines
    assert 'handoff_webhook_deliveries{state="pending"} 1' in lines
    assert 'handoff_webhook_deliveries{state="failed"} 0' in lines


@pytest.fixture
def app_with_metrics_token(config):
    app = create_app(replace(config, metrics_token="metrics-token-for-tests"))
    yield app
    app.extensions["handoff"].pool.close()


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic bWV0cmljcy10b2tlbi1mb3ItdGVzdHM=",
                                    "Bearer metrics-token-for-test"])
def test_metrics_need_the_token_when_one_is_configured(app_with_metrics_token, header):
    headers = {"Authorization": header} if header else {}
    response = app_with_metrics_token.test_client().get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert "handoff_queue_length" not in response.get_data(as_text=True)


def test_metrics_answer_the_right_token(app_with_metrics_token):
    response = app_with_metrics_token.test_client().get(
        "/metrics", headers={"Authorization": "Bearer metrics-token-for-tests"})
    assert response.status_code == 200
    assert "handoff_queue_length" in response.get_data(as_text=True)


def test_without_a_token_metrics_stay_open(client):
    assert client.get("/metrics").status_code == 200
