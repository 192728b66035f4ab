"""The fault suite of issue 13, light (`handoff bench faults` runs it at full
size, with figures): provider re-deliveries, a worker SIGKILLed mid-jobs,
Redis restarted empty, PostgreSQL restarted, two web apps and two workers
on the same conversations. Each counts with bench.faults.tally: nothing
acknowledged is lost, nothing is stored or sent twice (one duplicate send
per kill at most), everything is answered in order."""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import replace

import psycopg
import pytest
from redis import Redis

from bench.faults import (
    QUESTIONS,
    Sender,
    customer,
    deliver_all,
    inbound_form,
    redelivery_plan,
    seed,
    settled,
    tally,
)
from bench.handoff import RqWorkers
from gateway.app import create_app
from gateway.local import embedded
from gateway.migrate import apply_migrations
from gateway.queues import QUEUES, InlineWorker, queue
from tests.conftest import PUBLIC_URL
from tests.helpers import LiveServer, fetch_all
from workers import context
from workers.schedule import sweep


def eventually(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not {what} within {timeout} s"
        time.sleep(0.1)


def burst(redis: Redis) -> None:
    """Run what is queued (and what that enqueues) in a real RQ worker."""
    while any(queue(redis, name).count for name in QUEUES):
        InlineWorker([queue(redis, name) for name in QUEUES], connection=redis).work(burst=True)


@pytest.fixture
def worker_env(config, database_url, redis_url, fake_twilio) -> dict:
    """`handoff worker` processes' environment: the test database and Redis db, the Twilio stand-in."""
    return {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "PUBLIC_URL": PUBLIC_URL,
            "SECRET_KEY": config.secret_key, "TWILIO_API_BASE_URL": fake_twilio.url,
            "OUTBOUND_RETRY_DELAYS": "0,0", "SWEEP_AFTER_SECONDS": "0"}


def test_redeliveries_are_stored_once_and_answered_once(app, config, redis, run_jobs, fake_twilio):
    """150 messages from 50 customers, 30 % delivered two or three times at once."""
    seed(config.database_url)
    plan = redelivery_plan(150, 50, share=0.3, seed=13, tag="t")
    with LiveServer(app) as server:
        sender = Sender([server.url], give_up_after=10, public_url=PUBLIC_URL)
        deliver_all(sender, plan)
    assert sum(len(copies) for copies in plan) > 190  # there were re-deliveries
    run_jobs(max_rounds=50)
    figures = tally(db_url(app), created_at_provider=len(fake_twilio.sent()), acknowledged=sender.acknowledged)
    assert figures["acknowledged"] == figures["stored"] == 150
    assert (figures["lost"], figures["stored_twice"], figures["unprocessed"], figures["unsent"]) == (0, 0, 0, 0)
    assert (figures["inbound_answered_twice"], figures["duplicate_sends"]) == (0, 0)
    assert figures["sent"] == figures["replies"] >= 150  # the bot answered each (and greeted)


def db_url(app) -> str:
    return app.extensions["handoff"].config.database_url


def test_a_worker_killed_mid_jobs_loses_nothing(app, config, db, redis, worker_env, fake_twilio, tmp_path):
    seed(config.database_url)
    plan = redelivery_plan(40, 8, share=0, seed=7, tag="k")
    workers = RqWorkers(1, worker_env, tmp_path).start()
    try:
        workers.wait_ready(worker_env["REDIS_URL"])
        with LiveServer(app) as server:
            sender = Sender([server.url], give_up_after=10, public_url=PUBLIC_URL)
            deliver_all(sender, plan)
        eventually(lambda: fake_twilio.created_count >= 5, 60, "answering")
        os.killpg(workers.processes[0].pid, signal.SIGKILL)  # the worker and its work-horse, mid-jobs
        workers.processes[0].wait()
        with db() as conn:  # time passes: the dead worker's send claims expire (messages.SEND_LEASE)
            conn.execute("UPDATE messages SET next_attempt_at = now() - interval '1 second' "
                         "WHERE status = 'sending'")
        workers = RqWorkers(1, worker_env, tmp_path).start()
        workers.wait_ready(worker_env["REDIS_URL"])
        queue(redis, "low").enqueue("workers.schedule.sweep")  # what the sweeper clock does every 30 s
        eventually(lambda: settled(db_url(app)), 90, "settled after the restart")
    finally:
        workers.stop()
    figures = tally(db_url(app), created_at_provider=len(fake_twilio.sent()), acknowledged=sender.acknowledged)
    assert (figures["lost"], figures["unprocessed"], figures["unsent"], figures["stored_twice"]) == (0, 0, 0, 0)
    assert figures["inbound_answered_twice"] == 0
    assert figures["duplicate_sends"] <= 1  # killed between Twilio's answer and our commit, at most once


@pytest.fixture
def own_redis(tmp_path):
    server = embedded.start_redis(tmp_path / "valkey", persist=False)
    yield server
    server.stop()


def test_redis_restarted_empty_loses_nothing(config, own_redis, fake_twilio):
    """Queued jobs vanish with Redis, and messages arrive while it is down:
    PostgreSQL has them all, and the sweeper enqueues them again."""
    seed(config.database_url)
    changed = replace(config, redis_url=own_redis.url, sweep_after_seconds=0)
    app = create_app(changed)
    try:
        with LiveServer(app) as server:
            sender = Sender([server.url], give_up_after=10, public_url=PUBLIC_URL)
            deliver_all(sender, redelivery_plan(10, 5, share=0, seed=1, tag="r"))  # queued, then lost
            own_redis.pause()
            deliver_all(sender, redelivery_plan(10, 5, share=0, seed=2, tag="s"))  # stored, not queued
            own_redis.resume()
        assert len(sender.acknowledged) == 20
        context.configure(changed)
        redis = Redis.from_url(own_redis.url)
        assert sum(queue(redis, name).count for name in QUEUES) == 0  # restarted empty
        assert len(sweep()["inbound"]) == 20
        burst(redis)
        figures = tally(config.database_url, created_at_provider=len(fake_twilio.sent()),
                        acknowledged=sender.acknowledged)
    finally:
        context.current().close()
        app.extensions["handoff"].pool.close()
    assert (figures["lost"], figures["unprocessed"], figures["unsent"], figures["duplicate_sends"]) == (0, 0, 0, 0)


def test_a_busy_worker_waits_out_a_redis_restart(config, own_redis, worker_env, fake_twilio, tmp_path):
    """`handoff worker` does not exit when Redis goes away mid-jobs (`handoff
    run` would stop everything): it works again once Redis is back."""
    seed(config.database_url)
    app = create_app(replace(config, redis_url=own_redis.url))
    workers = RqWorkers(1, {**worker_env, "REDIS_URL": own_redis.url}, tmp_path).start()
    try:
        workers.wait_ready(own_redis.url)
        with LiveServer(app) as server:
            sender = Sender([server.url], give_up_after=10, public_url=PUBLIC_URL)
            deliver_all(sender, redelivery_plan(20, 10, share=0, seed=3, tag="w"))
            own_redis.pause()  # while it works on them
            time.sleep(3)
            own_redis.resume()
            deliver_all(sender, redelivery_plan(5, 5, share=0, seed=4, tag="x"))
        queue(Redis.from_url(own_redis.url), "low").enqueue("workers.schedule.sweep")  # the sweeper clock's job
        eventually(lambda: settled(config.database_url), 60, "answered")
        assert workers.processes[0].poll() is None
    finally:
        workers.stop()
        app.extensions["handoff"].pool.close()


@pytest.fixture(scope="module")
def own_postgres(tmp_path_factory):
    server = embedded.start_postgres(tmp_path_factory.mktemp("postgres") / "data")
    url = server.ensure_database("handoff_faults")
    apply_migrations(url)
    yield server, url
    server.pause()  # shut down for sure: this process's handle may not be the server's last one
    server.stop()


def test_postgres_restarted_answers_503_while_down_and_recovers(config, own_postgres):
    server, url = own_postgres
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE messages, conversations, contact_identities, contacts, channels, kb_articles CASCADE")
    seed(url)
    app = create_app(replace(config, database_url=url))
    client = app.test_client()
    sender = Sender([""])
    answers: dict[str, int] = {}

    def post(index: int) -> int:
        form = inbound_form(f"SM{index:032x}", customer(index), QUESTIONS[0])
        signature = sender.validator.compute_signature(PUBLIC_URL + "/webhooks/twilio/whatsapp", form)
        response = client.post("/webhooks/twilio/whatsapp", data=form, headers={"X-Twilio-Signature": signature})
        answers[form["MessageSid"]] = response.status_code
        return response.status_code

    try:
        assert post(1) == 200
        server.pause()
        started = time.monotonic()
        # The broken pooled connection fails at once, a new one after the pool's 5 s wait.
        assert [post(index) for index in range(2, 4)] == [503, 503]
        assert time.monotonic() - started < 15  # within Twilio's wait: it retries
        assert client.get("/readyz").status_code == 503
        server.resume()
        eventually(lambda: post(5) == 200, 30, "recovered without restarting the app")
        with psycopg.connect(url) as conn:
            stored = {row[0] for row in conn.execute("SELECT provider_message_id FROM messages")}
    finally:
        app.extensions["handoff"].pool.close()
    acknowledged = {sid for sid, status in answers.items() if status == 200}
    assert acknowledged <= stored  # never a 200 for a message not stored
    assert not stored & {sid for sid, status in answers.items() if status == 503 and sid not in acknowledged}


def test_two_web_apps_and_two_workers_answer_each_conversation_in_order(config, db, worker_env, fake_twilio,
                                                                         tmp_path):
    """Each customer writes four messages one after the other, to either web
    app in turn; two workers take the jobs as they come."""
    seed(config.database_url)
    apps = [create_app(config), create_app(config)]
    workers = RqWorkers(2, worker_env, tmp_path).start()
    try:
        workers.wait_ready(worker_env["REDIS_URL"])
        with LiveServer(apps[0]) as one, LiveServer(apps[1]) as two:
            sender = Sender([one.url, two.url], give_up_after=10, public_url=PUBLIC_URL)

            def conversation(number: int) -> None:
                for turn, question in enumerate(QUESTIONS[:4]):
                    sender.deliver(inbound_form(f"SMo{number:02d}{turn:029x}", customer(number), question), turn)

            threads = [threading.Thread(target=conversation, args=(n,)) for n in range(6)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        eventually(lambda: settled(config.database_url), 90, "settled")
    finally:
        workers.stop()
        for app in apps:
            app.extensions["handoff"].pool.close()
    rows = fetch_all(db, "SELECT m.id, m.provider_message_id, m.processed_at, r.id AS reply_id, r.text AS reply, "
                         "i.address FROM messages m JOIN messages r ON r.reply_to_id = m.id AND r.sender = 'bot' "
                         "JOIN conversations c ON c.id = m.conversation_id "
                         "JOIN contact_identities i ON i.id = c.identity_id ORDER BY m.id")
    assert len(rows) == 24
    sent = {}
    for form in fake_twilio.sent():
        sent.setdefault(form["To"], []).append(form["Body"])
    for number in range(6):
        mine = [row for row in rows if row["address"] == customer(number)]
        assert [row["provider_message_id"][3:5] for row in mine] == [f"{number:02d}"] * 4
        assert [row["provider_message_id"] for row in mine] == sorted(row["provider_message_id"] for row in mine)
        assert [row["processed_at"] for row in mine] == sorted(row["processed_at"] for row in mine)
        assert [row["reply_id"] for row in mine] == sorted(row["reply_id"] for row in mine)
        assert sent[customer(number)] == [row["reply"] for row in mine]  # reached the customer in order
