"""No configured secret appears in the logs (issue 13): a full scenario —
signed webhooks of both providers, the widget, logins right and wrong, API
calls with a personal token, metrics behind their token, the bot's answers
sent to Twilio and Graph (one after a failure), an escalation alerting Slack
and the team by email, an outbound webhook delivered — logged at DEBUG by
every logger, then searched for every secret."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest

from gateway.app import create_app
from gateway.store import agents, teams, webhooks
from tests.fakes.recorder import RecordingServer
from tests.helpers import (
    APP_SECRET,
    TWILIO_TOKEN,
    VERIFY_TOKEN,
    add_agent,
    add_article,
    add_messenger_channel,
    add_web_channel,
    add_whatsapp_channel,
    bearer,
    configure_workers,
    log_in,
    messenger_events,
    messenger_text,
    post_messenger,
    post_twilio,
    post_widget_message,
    whatsapp_form,
    widget_session,
)

SECRETS = {
    "secret_key": "sk-for-the-log-test-0123456789",
    "metrics_token": "metrics-token-for-the-log-test",
    "smtp_password": "smtp-password-for-the-log-test",
    "slack_token": "slack-path-token-for-the-log-test",
    "openai_api_key": "openai-key-for-the-log-test",
    "agent_password": "agent-password-for-the-log-test",
}


@pytest.fixture
def receiver():
    server = RecordingServer(lambda request: (200, {"ok": True})).start()
    yield server
    server.stop()


def test_a_full_scenario_logs_no_secret(config, db, smtp, receiver, fake_graph, run_jobs, caplog):
    configured = replace(config, secret_key=SECRETS["secret_key"], metrics_token=SECRETS["metrics_token"],
                         smtp_url=smtp.url("handoff", SECRETS["smtp_password"]),
                         slack_webhook_url=f"{receiver.url}/services/{SECRETS['slack_token']}",
                         openai_api_key=SECRETS["openai_api_key"])
    app = create_app(configured)
    client = app.test_client()
    caplog.set_level(logging.DEBUG)
    try:
        add_article(db, "Shipping", "Standard shipping takes 3 to 5 business days.")
        add_whatsapp_channel(db)
        add_messenger_channel(db)
        web = add_web_channel(db)
        agent = add_agent(db, password=SECRETS["agent_password"])
        with db() as conn:
            api_token = agents.issue_api_token(conn, agent["id"])
            team_id = teams.ensure_team(conn, "General")
            teams.update_team(conn, team_id, email="team@example.com")
            subscription = webhooks.create_subscription(conn, url=receiver.url + "/hook", events=["*"])
        configure_workers(configured)

        post_twilio(client, "/webhooks/twilio/whatsapp", whatsapp_form(body="How long does shipping take?"))
        post_twilio(client, "/webhooks/twilio/whatsapp", whatsapp_form(body="forged"), signature="bad")
        client.get(f"/webhooks/messenger?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1")
        fake_graph.fail_next(500, 2, "Service temporarily unavailable", is_transient=True)
        post_messenger(client, messenger_events(messenger_text("m_1", "How long does shipping take?")))
        post_messenger(client, messenger_events(messenger_text("m_2", "forged")), signature="sha256=00")
        token = widget_session(client, web.address, name="Zoë")["visitor_token"]
        post_widget_message(client, token, "I want to talk to a person")
        log_in(client, password="wrong password")
        log_in(client, password=SECRETS["agent_password"])
        client.get("/api/agent/me", headers=bearer(api_token))
        client.get("/api/agent/me", headers=bearer(api_token + "x"))
        client.get("/metrics", headers=bearer(SECRETS["metrics_token"]))
        client.get("/metrics", headers=bearer("wrong"))
        run_jobs(max_rounds=30)
        assert receiver.requests, "the scenario reached the webhook receiver and Slack"
    finally:
        app.extensions["handoff"].pool.close()

    logged = "\n".join(record.getMessage() + (f"\n{record.exc_text}" if record.exc_text else "")
                       for record in caplog.records)
    assert len(caplog.records) > 50  # the scenario did log
    secrets = {**SECRETS, "twilio_auth_token": TWILIO_TOKEN, "app_secret": APP_SECRET,
               "verify_token": VERIFY_TOKEN, "api_token": api_token, "webhook_secret": subscription["secret"],
               "page_token": "page-token-1234567890"}
    leaked = {name for name, secret in secrets.items() if secret in logged}
    assert leaked == set(), [line for line in logged.splitlines() if any(s in line for s in secrets.values())][:5]
