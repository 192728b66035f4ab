"""Notifications: signed webhooks delivered by real RQ jobs to a recording
receiver (retries, failures, one POST per attempt), Slack, the team's email,
and send_email over a local SMTP stand-in.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import socket
import threading
import uuid
from dataclasses import replace
from datetime import datetime

import pytest
from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from gateway import events as notifications
from gateway.queues import QUEUES, queue
from gateway.store import webhooks
from tests.conftest import PUBLIC_URL
from tests.fakes.recorder import RecordingServer
from tests.helpers import configure_workers, fetch_all, fetch_one
from workers import mailer
from workers.notify import deliver_webhook

PACKET = {"conversation_id": 42, "customer": {"name": "Zoë <b>Doe</b> & co"}, "team": "Billing",
          "trigger": {"rule": "human_request", "explanation": "The customer asked for a person"}}
# Summaries are built by the callers, often from customer text.
SUMMARY = "Billing: Zoë <b>Doe</b> & co asked for a person"


@pytest.fixture
def receiver():
    server = RecordingServer(lambda request: (200, {"ok": True})).start()
    yield server
    server.stop()


def subscribe(db, url: str, events: list[str], *, active: bool = True) -> dict:
    with db() as conn:
        subscription = webhooks.create_subscription(conn, url=url, events=events)
        if not active:
            webhooks.update_subscription(conn, subscription["id"], active=False)
    return subscription


def record(db, event: str, payload: dict, **kwargs) -> notifications.Pending:
    with db() as conn:
        return notifications.record(conn, event, payload, **kwargs)


def notify_after_commit(db, redis, event: str, payload: dict, **kwargs) -> notifications.Pending:
    """Record, commit and dispatch; the alert jobs are enqueued whatever the
    configuration, so that these tests see the jobs check it themselves."""
    pending = record(db, event, payload, **kwargs)
    notifications.dispatch(redis, pending, slack=True, email=True)
    return pending


def delivery(db, delivery_id: int) -> dict:
    return fetch_one(db, "SELECT * FROM webhook_deliveries WHERE id = %s", delivery_id)


def attempts(db, delivery_id: int) -> list[tuple]:
    rows = fetch_all(db, "SELECT attempt, status, error FROM webhook_attempts WHERE delivery_id = %s ORDER BY id",
                     delivery_id)
    return [(row["attempt"], row["status"], row["error"]) for row in rows]


def queued_jobs(redis) -> int:
    return sum(queue(redis, name).count for name in QUEUES)


def verified(secret: str, request) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, request.headers["X-Handoff-Signature-256"])


def closed_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


# --- signed webhooks ----------------------------------------------------------------------------


def test_a_signed_webhook_reaches_the_receiver(db, redis, run_jobs, receiver):
    subscription = subscribe(db, receiver.url + "/hooks/handoff", ["conversation.escalated"])

    pending = notify_after_commit(db, redis, "conversation.escalated", PACKET, conversation_id=42)
    run_jobs()

    [request] = receiver.requests
    [delivery_id] = pending.delivery_ids
    assert (request.method, request.path) == ("POST", "/hooks/handoff")
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"] == "Handoff-Webhooks/1"
    assert request.headers["X-Handoff-Event"] == "conversation.escalated"
    assert request.headers["X-Handoff-Delivery"] == str(delivery_id)
    assert verified(subscription["secret"], request)
    assert not verified(subscription["secret"] + "x", request)
    body = request.json()
    assert set(body) == {"id", "event", "created_at", "data"}
    assert body["event"] == "conversation.escalated"
    assert body["data"] == PACKET
    assert uuid.UUID(body["id"])
    assert datetime.fromisoformat(body["created_at"]).tzinfo is not None
    assert "Zoë".encode() in request.body  # compact UTF-8, not \\u escapes
    assert b", " not in request.body and b": " not in request.body
    row = delivery(db, delivery_id)
    assert row["delivered_at"] is not None and row["failed_at"] is None and row["next_attempt_at"] is None
    assert (row["attempts"], row["last_status"], row["last_error"]) == (1, 200, None)
    assert attempts(db, delivery_id) == [(1, 200, None)]


def test_one_event_goes_to_each_matching_active_subscription_with_one_event_id(db, redis, run_jobs, receiver):
    escalations = subscribe(db, receiver.url + "/escalations", ["ticket.created", "conversation.escalated"])
    everything = subscribe(db, receiver.url + "/everything", ["*"])
    subscribe(db, receiver.url + "/resolutions", ["conversation.resolved"])
    subscribe(db, receiver.url + "/switched-off", ["*"], active=False)

    pending = notify_after_commit(db, redis, "conversation.escalated", PACKET, conversation_id=42)
    run_jobs()

    assert len(pending.delivery_ids) == 2
    by_path = {request.path: request for request in receiver.requests}
    assert set(by_path) == {"/escalations", "/everything"}
    assert verified(escalations["secret"], by_path["/escalations"])
    assert verified(everything["secret"], by_path["/everything"])
    assert not verified(escalations["secret"], by_path["/everything"])
    [first, second] = (by_path[path].json() for path in ("/escalations", "/everything"))
    assert first["id"] == second["id"]
    assert {by_path[path].headers["X-Handoff-Delivery"] for path in by_path} == {
        str(delivery_id) for delivery_id in pending.delivery_ids}


def test_an_event_without_subscribers_enqueues_nothing(db, redis, receiver):
    subscribe(db, receiver.url, ["conversation.escalated"])

    pending = notify_after_commit(db, redis, "message.created", {"text": "hello"}, conversation_id=42)

    assert pending.delivery_ids == ()
    assert queued_jobs(redis) == 0


def test_a_server_error_then_success_makes_two_attempts(config, db, redis, run_jobs, receiver):
    configure_workers(config, webhook_retry_delays=(0, 0))
    subscribe(db, receiver.url, ["*"])
    receiver.respond_next(500, "<h1>Internal Server Error</h1>")

    [delivery_id] = notify_after_commit(db, redis, "ticket.created", {"ticket": {"number": 7}}).delivery_ids
    run_jobs()

    [failed, succeeded] = receiver.requests
    assert failed.body == succeeded.body
    assert failed.headers["X-Handoff-Delivery"] == succeeded.headers["X-Handoff-Delivery"] == str(delivery_id)
    assert failed.headers["X-Handoff-Signature-256"] == succeeded.headers["X-Handoff-Signature-256"]
    row = delivery(db, delivery_id)
    assert row["delivered_at"] is not None and row["failed_at"] is None
    assert (row["attempts"], row["last_status"], row["last_error"]) == (2, 200, None)
    assert attempts(db, delivery_id) == [(1, 500, "HTTP 500 Internal Server Error"), (2, 200, None)]  # not its body


def test_retries_exhausted_fail_the_delivery(config, db, redis, run_jobs, receiver):
    configure_workers(config, webhook_retry_delays=(0, 0))
    subscribe(db, receiver.url, ["*"])
    for status in (500, 502, 404):
        receiver.respond_next(status, {"error": "no"})

    [delivery_id] = notify_after_commit(db, redis, "conversation.resolved", {"conversation_id": 1}).delivery_ids
    run_jobs()

    assert len(receiver.requests) == 3
    row = delivery(db, delivery_id)
    assert row["failed_at"] is not None and row["delivered_at"] is None and row["next_attempt_at"] is None
    assert (row["attempts"], row["last_status"]) == (3, 404)
    assert [status for _, status, _ in attempts(db, delivery_id)] == [500, 502, 404]
    with db() as conn:
        assert webhooks.due_deliveries(conn) == []


def test_an_unreachable_receiver_is_an_attempt_with_an_error(config, db, redis, run_jobs):
    configure_workers(config, webhook_retry_delays=(0,))
    subscribe(db, f"http://127.0.0.1:{closed_port()}/hook", ["*"])

    [delivery_id] = notify_after_commit(db, redis, "message.created", {"text": "hi"}).delivery_ids
    run_jobs()

    recorded = attempts(db, delivery_id)
    assert [(attempt, status) for attempt, status, _ in recorded] == [(1, None), (2, None)]
    assert [error for _, _, error in recorded] == ["connection refused"] * 2
    assert delivery(db, delivery_id)["failed_at"] is not None


def test_a_redirect_is_not_followed(config, db, redis, run_jobs, receiver):
    configure_workers(config, webhook_retry_delays=())
    subscribe(db, receiver.url, ["*"])
    receiver.respond_next(302, "moved")

    [delivery_id] = notify_after_commit(db, redis, "message.created", {"text": "hi"}).delivery_ids
    run_jobs()

    assert len(receiver.requests) == 1
    assert attempts(db, delivery_id) == [(1, 302, "HTTP 302 Found")]
    assert delivery(db, delivery_id)["failed_at"] is not None


@pytest.mark.usefixtures("run_jobs")  # the jobs' context, with the config's default delays
def test_a_retry_waits_for_its_delay(db, redis, receiver):
    """Default delays (RETRY_DELAYS: 10 s first): the retry is scheduled in RQ
    and not sent before it is due, however often its job runs."""
    subscribe(db, receiver.url, ["*"])
    receiver.respond_next(503, "busy")
    [delivery_id] = record(db, "message.created", {"text": "hi"}).delivery_ids

    assert deliver_webhook(delivery_id) == "retrying"

    waiting = fetch_one(db, """SELECT next_attempt_at > now() + interval '5 seconds' AS later,
                                      next_attempt_at <= now() + interval '10 seconds' AS within_delay
                                 FROM webhook_deliveries WHERE id = %s""", delivery_id)
    assert waiting == {"later": True, "within_delay": True}
    assert len(queue(redis, "low").scheduled_job_registry.get_job_ids()) == 1
    assert deliver_webhook(delivery_id) == "not due"
    assert len(receiver.requests) == 1

    with db() as conn:  # the delay has passed
        conn.execute("UPDATE webhook_deliveries SET next_attempt_at = now() WHERE id = %s", (delivery_id,))
    assert deliver_webhook(delivery_id) == "delivered"
    assert [status for _, status, _ in attempts(db, delivery_id)] == [503, 200]
    assert deliver_webhook(delivery_id) == "not due"
    assert len(receiver.requests) == 2


def test_410_gone_deactivates_the_subscription(db, redis, run_jobs, receiver):
    subscription = subscribe(db, receiver.url, ["*"])
    receiver.respond_next(410, {"error": "this hook was deleted"})
    [gone] = notify_after_commit(db, redis, "message.created", {"text": "one"}).delivery_ids
    [waiting] = record(db, "message.created", {"text": "two"}).delivery_ids

    run_jobs()

    assert len(receiver.requests) == 1
    assert fetch_one(db, "SELECT active FROM webhook_subscriptions WHERE id = %s", subscription["id"])["active"] is False
    assert delivery(db, gone)["failed_at"] is not None
    assert attempts(db, gone) == [(1, 410, "HTTP 410 Gone")]
    left = delivery(db, waiting)
    assert left["failed_at"] is not None and left["last_error"] == "the subscription was deactivated"
    assert deliver_webhook(waiting) == "not due"
    assert len(receiver.requests) == 1


@pytest.mark.usefixtures("run_jobs")
def test_two_concurrent_runs_of_one_delivery_make_one_post(db):
    arrived, release = threading.Event(), threading.Event()

    def slow_receiver(request):
        arrived.set()
        release.wait(10)
        return 200, {"ok": True}

    server = RecordingServer(slow_receiver).start()
    try:
        subscribe(db, server.url, ["*"])
        [delivery_id] = record(db, "message.created", {"text": "hi"}).delivery_ids
        outcomes = []
        first = threading.Thread(target=lambda: outcomes.append(deliver_webhook(delivery_id)))
        first.start()
        assert arrived.wait(10), "the first run never reached the receiver"

        outcomes.append(deliver_webhook(delivery_id))  # while the first POST is in flight

        release.set()
        first.join(10)
        assert outcomes == ["not due", "delivered"]
        assert len(server.requests) == 1
        assert attempts(db, delivery_id) == [(1, 200, None)]
    finally:
        release.set()
        server.stop()


def test_the_sweeper_finds_deliveries_whose_job_was_lost(db, receiver):
    subscribe(db, receiver.url, ["message.created"])
    [lost, delivered, failed, recent] = (record(db, "message.created", {"n": n}).delivery_ids[0]
                                         for n in range(4))
    paused = subscribe(db, receiver.url + "/paused", ["ticket.created"])
    record(db, "ticket.created", {})
    with db() as conn:
        # Switched off after the event was recorded, bypassing the store (a race).
        conn.execute("UPDATE webhook_subscriptions SET active = false WHERE id = %s", (paused["id"],))
        conn.execute("UPDATE webhook_deliveries SET next_attempt_at = now() - interval '31 seconds' "
                     "WHERE id <> %s", (recent,))
        webhooks.mark_delivered(conn, delivered)
        webhooks.mark_failed(conn, failed)
        assert webhooks.due_deliveries(conn) == [lost]


def test_dispatch_with_redis_down_logs_and_leaves_the_deliveries_to_the_sweeper(db, receiver, caplog):
    subscribe(db, receiver.url, ["*"])
    unreachable = Redis(host="127.0.0.1", port=closed_port(), socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))

    with caplog.at_level(logging.WARNING, logger="gateway.events"):
        pending = notify_after_commit(db, unreachable, "conversation.escalated", PACKET, conversation_id=42)

    assert "webhooks will be swept" in caplog.text
    assert delivery(db, pending.delivery_ids[0])["delivered_at"] is None


# --- Slack --------------------------------------------------------------------------------------


@pytest.fixture
def slack():
    server = RecordingServer(lambda request: (200, "ok")).start()
    yield server
    server.stop()


SLACK_PATH = "/services/T0001/B0001/slack-webhook-token"


def test_slack_gets_the_escalation_with_a_link_and_escaped_customer_text(config, db, redis, run_jobs, slack):
    configure_workers(config, slack_webhook_url=slack.url + SLACK_PATH)

    notify_after_commit(db, redis, "conversation.escalated", PACKET, summary=SUMMARY, conversation_id=42)
    run_jobs()

    [request] = slack.requests
    assert request.path == SLACK_PATH
    text = request.json()["text"]
    assert text == ("Billing: Zoë &lt;b&gt;Doe&lt;/b&gt; &amp; co asked for a person\n"
                    f"<{PUBLIC_URL}/inbox/conversations/42|Open conversation #42>")


def test_slack_hears_of_what_needs_a_person_only(config, db, redis, run_jobs, slack):
    configure_workers(config, slack_webhook_url=slack.url + SLACK_PATH)

    for event in ("message.created", "conversation.resolved", "conversation.missed"):
        notify_after_commit(db, redis, event, {"conversation_id": 7}, summary=f"{event} of Ann", conversation_id=7)
    run_jobs()

    assert [request.json()["text"].split("\n")[0] for request in slack.requests] == ["conversation.missed of Ann"]


def test_nothing_is_posted_or_mailed_without_configuration(db, redis, run_jobs, slack, smtp):
    with db() as conn:
        team_id = conn.execute("INSERT INTO teams (name, email) VALUES ('Billing', 'billing@example.com') "
                               "RETURNING id").fetchone()["id"]

    notify_after_commit(db, redis, "ticket.created", {"ticket": {"number": 3}}, summary="Ticket #3",
                        conversation_id=7, team_id=team_id)
    run_jobs()

    assert slack.requests == [] and smtp.messages == []


def test_a_slack_failure_is_retried_by_rq_and_never_logs_the_webhook_url(config, db, redis, run_jobs, slack,
                                                                          receiver, caplog):
    configure_workers(config, slack_webhook_url=slack.url + SLACK_PATH)
    subscribe(db, receiver.url, ["*"])
    slack.respond_next(500, "server_error")

    with caplog.at_level(logging.INFO):
        notify_after_commit(db, redis, "conversation.assigned", {"agent": "Maya"}, summary="Assigned to Maya",
                            conversation_id=9)
        run_jobs()

    assert len(slack.requests) == 1
    assert len(receiver.requests) == 1  # the webhook went out all the same
    [retry] = [queue(redis, "low").fetch_job(job_id)
               for job_id in queue(redis, "low").scheduled_job_registry.get_job_ids()]
    assert retry.func_name == "workers.notify.post_to_slack"
    assert "Slack notification of conversation.assigned for conversation 9 failed (HTTP 500)" in caplog.text
    assert "slack-webhook-token" not in caplog.text


# --- email --------------------------------------------------------------------------------------


def add_team(db, name: str, email: str | None) -> int:
    with db() as conn:
        return conn.execute("INSERT INTO teams (name, email) VALUES (%s, %s) RETURNING id",
                            (name, email)).fetchone()["id"]


def test_the_team_is_emailed_about_a_ticket(config, db, redis, run_jobs, smtp):
    configure_workers(config, smtp_url=smtp.url())
    billing = add_team(db, "Billing", "billing@example.com")
    silent = add_team(db, "Sales", None)

    for number, team_id in ((12, billing), (13, silent), (14, None)):
        notify_after_commit(db, redis, "ticket.created", {"ticket": {"number": number}},
                            summary=f"Ticket #{number}: Where is\nmy parcel?", conversation_id=number, team_id=team_id)
    run_jobs()

    [mail] = smtp.messages
    assert mail.rcpt_tos == ["billing@example.com"]
    assert mail.mail_from == "handoff@handoff.example.com"
    assert mail.message["Subject"] == "[Handoff] Ticket #12: Where is my parcel?"
    body = mail.message.get_content().replace("\r\n", "\n")
    assert body == f"Ticket #12: Where is\nmy parcel?\n\nOpen the conversation: {PUBLIC_URL}/inbox/conversations/12\n"


def test_send_email_with_credentials_from_smtp_url(config, smtp):
    url = smtp.url("mailer", "p%40ss%3Aword", query="from=support%40shop.example")
    sent_id = mailer.send_email(replace(config, smtp_url=url), ["ann@example.com", "bob@example.com"],
                                "Your ticket\r\nBcc: evil@example.com", "Hello Ann,\n.\nWe replied. — Zoë\n",
                                reply_to="ticket-12@shop.example")

    [mail] = smtp.messages
    assert mail.auth == ("mailer", "p@ss:word")
    assert mail.mail_from == "support@shop.example"
    assert mail.rcpt_tos == ["ann@example.com", "bob@example.com"]
    message = mail.message
    assert message["Subject"] == "Your ticket Bcc: evil@example.com"
    assert message["Bcc"] is None
    assert message["Reply-To"] == "ticket-12@shop.example"
    assert message["Message-ID"] == sent_id
    assert message.get_content().replace("\r\n", "\n") == "Hello Ann,\n.\nWe replied. — Zoë\n"


def test_send_email_without_credentials_skips_auth(config, smtp):
    mailer.send_email(replace(config, smtp_url=smtp.url()), "ann@example.com", "Hi", "Body")

    [mail] = smtp.messages
    assert mail.auth is None


@pytest.mark.parametrize("smtp_url, error", [
    (None, "SMTP_URL is not set"),
    ("http://mail.example.com", "SMTP_URL must look like"),
    ("smtp://mail.example.com:notaport", "not a valid URL"),
    ("smtp://mail.example.com?starttls=maybe", "starttls must be true or false"),
])
def test_send_email_refuses_a_bad_smtp_url(config, smtp_url, error):
    with pytest.raises(mailer.MailError, match=error):
        mailer.send_email(replace(config, smtp_url=smtp_url), "ann@example.com", "Hi", "Body")


def test_send_email_errors_name_the_server_never_the_password(config, smtp):
    smtp.reject_recipient("gone@example.com")

    with pytest.raises(mailer.MailError) as refused:
        mailer.send_email(replace(config, smtp_url=smtp.url("mailer", "s3cret-pw")), "gone@example.com", "Hi",
                          "Body")
    with pytest.raises(mailer.MailError, match="does not offer STARTTLS") as insecure:
        mailer.send_email(replace(config, smtp_url=smtp.url("mailer", "s3cret-pw", query="starttls=true")),
                          "ann@example.com", "Hi", "Body")
    port = closed_port()
    with pytest.raises(mailer.MailError, match=f"127.0.0.1:{port}") as unreachable:
        mailer.send_email(replace(config, smtp_url=f"smtp://mailer:s3cret-pw@127.0.0.1:{port}"), "ann@example.com",
                          "Hi", "Body")

    assert "550" in str(refused.value)
    # A refused mailbox or a wrong configuration is for good; an unreachable server may come back.
    assert (refused.value.permanent, insecure.value.permanent, unreachable.value.permanent) == (True, True, False)
    assert smtp.messages == []
    assert all("s3cret-pw" not in str(error.value) for error in (refused, insecure, unreachable))
