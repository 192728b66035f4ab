"""The sweeper: PostgreSQL is the source of truth, so a message whose job was
never enqueued (Redis down), lost (Redis restarted) or whose worker died is
found and enqueued again, and answered or sent exactly once."""

from dataclasses import replace

import pytest

from gateway.app import create_app
from gateway.queues import QUEUES, queue
from tests.helpers import (
    add_whatsapp_channel,
    configure_workers,
    fetch_all,
    fetch_one,
    post_twilio,
    twilio_status_form,
    whatsapp_form,
)
from workers.inbound import process_inbound
from workers.schedule import sweep

WEBHOOK = "/webhooks/twilio/whatsapp"
# Nothing listens on port 1: every Redis command fails with "connection refused".
REFUSING_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture
def client_without_redis(config):
    """The web app while Redis is down."""
    app = create_app(replace(config, redis_url=REFUSING_REDIS))
    yield app.test_client()
    services = app.extensions["handoff"]
    services.pool.close()
    services.redis.close()


@pytest.fixture
def sweep_everything(config, run_jobs):
    """Workers whose sweeper considers every message, however recent."""
    return configure_workers(config, sweep_after_seconds=0)


def queued_jobs(redis) -> int:
    return sum(queue(redis, name).count for name in QUEUES)


def inbound(db) -> dict:
    return fetch_one(db, "SELECT * FROM messages WHERE direction = 'inbound'")


def bot_reply(db) -> dict:
    return fetch_one(db, "SELECT * FROM messages WHERE sender = 'bot'")


def test_message_stored_while_redis_is_down_is_answered_once_redis_is_back(
        client_without_redis, db, redis, sweep_everything, run_jobs, fake_twilio):
    add_whatsapp_channel(db)

    response = post_twilio(client_without_redis, WEBHOOK, whatsapp_form(body="what are your opening hours?"))

    assert response.status_code == 200
    message = inbound(db)
    assert message["processed_at"] is None
    assert queued_jobs(redis) == 0

    assert sweep() == {"inbound": [message["id"]], "outbound": [], "webhook_deliveries": [], "early_receipts_forgotten": 0}
    run_jobs()

    assert inbound(db)["processed_at"] is not None
    assert bot_reply(db)["status"] == "queued"
    assert len(fake_twilio.sent()) == 1


def test_status_callback_is_recorded_while_redis_is_down(client, client_without_redis, db, run_jobs):
    add_whatsapp_channel(db)
    post_twilio(client, WEBHOOK, whatsapp_form())
    run_jobs()
    sid = bot_reply(db)["provider_message_id"]

    response = post_twilio(client_without_redis, "/webhooks/twilio/status", twilio_status_form(sid, "delivered"))

    assert response.status_code == 200
    assert bot_reply(db)["status"] == "delivered"


def test_reply_committed_before_redis_failed_is_sent_by_the_sweeper(client, config, db, redis, run_jobs,
                                                                    fake_twilio):
    add_whatsapp_channel(db)
    post_twilio(client, WEBHOOK, whatsapp_form())
    redis.flushdb()  # the inbound job is lost with Redis...
    configure_workers(config, redis_url=REFUSING_REDIS)
    # ...and Redis is down when the reply is to be enqueued: answered, the send left to the sweeper.
    assert process_inbound(inbound(db)["id"]) == "answered"
    assert bot_reply(db)["status"] == "pending"

    configure_workers(config, sweep_after_seconds=0)
    assert sweep() == {"inbound": [], "outbound": [bot_reply(db)["id"]], "webhook_deliveries": [], "early_receipts_forgotten": 0}
    run_jobs()

    assert bot_reply(db)["status"] == "queued"
    assert len(fake_twilio.sent()) == 1


def test_recent_messages_are_left_to_their_own_jobs(client, db, run_jobs):
    add_whatsapp_channel(db)
    post_twilio(client, WEBHOOK, whatsapp_form())

    # config.sweep_after_seconds is 60: a message stored just now is not swept
    assert sweep() == {"inbound": [], "outbound": [], "webhook_deliveries": [], "early_receipts_forgotten": 0}


def test_answered_and_sent_messages_are_not_swept(client, db, redis, sweep_everything, run_jobs, fake_twilio):
    add_whatsapp_channel(db)
    post_twilio(client, WEBHOOK, whatsapp_form())
    run_jobs()

    assert sweep() == {"inbound": [], "outbound": [], "webhook_deliveries": [], "early_receipts_forgotten": 0}
    assert queued_jobs(redis) == 0


def test_reply_whose_send_job_was_lost_is_sent(client, db, redis, sweep_everything, run_jobs, fake_twilio):
    add_whatsapp_channel(db)
    post_twilio(client, WEBHOOK, whatsapp_form())
    process_inbound(inbound(db)["id"])
    redis.flushdb()  # Redis restarted without persistence: the send job is gone

    assert sweep()["outbound"] == [bot_reply(db)["id"]]
    run_jobs()

    assert bot_reply(db)["status"] == "queued"
    assert len(fake_twilio.sent()) == 1


def claimed_reply(db, lease_sql: str) -> int:
    """The bot reply as a worker left it after claiming it (status sending, attempt 1)."""
    reply_id = bot_reply(db)["id"]
    with db() as conn:
        conn.execute(f"UPDATE messages SET status = 'sending', attempts = 1, next_attempt_at = {lease_sql}"
                     " WHERE id = %s", (reply_id,))
    return reply_id


def test_send_whose_worker_died_is_sent_again_after_its_lease(client, db, redis, sweep_everything, run_jobs,
                                                              fake_twilio):
    add_whatsapp_channel(db)
    post_twilio(client, WEBHOOK, whatsapp_form())
    process_inbound(inbound(db)["id"])
    redis.flushdb()
    reply_id = claimed_reply(db, "now() - interval '1 minute'")  # the worker crashed mid-send

    assert sweep() == {"inbound": [], "outbound": [reply_id], "webhook_deliveries": [], "early_receipts_forgotten": 0}
    run_jobs()

    reply = bot_reply(db)
    assert (reply["status"], reply["attempts"]) == ("queued", 2)
    assert len(fake_twilio.sent()) == 1


def test_send_with_a_live_lease_is_not_swept(client, db, redis, sweep_everything, run_jobs, fake_twilio):
    add_whatsapp_channel(db)
    post_twilio(client, WEBHOOK, whatsapp_form())
    process_inbound(inbound(db)["id"])
    redis.flushdb()
    claimed_reply(db, "now() + interval '5 minutes'")  # a worker is sending it right now

    assert sweep()["outbound"] == []
    assert queued_jobs(redis) == 0


def test_overdue_retry_is_sent(client, db, redis, sweep_everything, run_jobs, fake_twilio):
    add_whatsapp_channel(db)
    post_twilio(client, WEBHOOK, whatsapp_form())
    process_inbound(inbound(db)["id"])
    redis.flushdb()
    with db() as conn:  # attempt 1 failed; its delayed retry job vanished with Redis
        conn.execute("UPDATE messages SET status = 'retrying', attempts = 1,"
                     " next_attempt_at = now() - interval '1 minute' WHERE sender = 'bot'")

    assert sweep()["outbound"] == [bot_reply(db)["id"]]
    run_jobs()

    reply = bot_reply(db)
    assert (reply["status"], reply["attempts"]) == ("queued", 2)
    assert len(fake_twilio.sent()) == 1


def test_early_receipts_of_messages_that_never_appear_are_forgotten_after_a_day(db, sweep_everything):
    channel = add_whatsapp_channel(db)
    with db() as conn:
        conn.execute(
            "INSERT INTO early_receipts (channel_id, provider_message_id, status, received_at) VALUES"
            " (%(c)s, 'SMold', 'delivered', now() - interval '25 hours'),"
            " (%(c)s, 'SMnew', 'delivered', now() - interval '1 hour')",
            {"c": channel.id},
        )
    assert sweep()["early_receipts_forgotten"] == 1
    assert [row["provider_message_id"] for row in fetch_all(db, "SELECT * FROM early_receipts")] == ["SMnew"]
