"""Escalation end to end, from signed WhatsApp webhooks to what the customer
and Slack receive: the place in line and the wait estimate, offline teams
(business hours, nobody online) turning into tickets, the missed-chat ladder
on a controllable clock, agents who go offline, humans-first channels.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from rq.registry import ScheduledJobRegistry

from gateway.bot.settings import load_bot_settings, save_bot_settings
from gateway.queues import queue
from gateway.store import agents as agents_store
from gateway.store import webhooks
from tests.agents import make_agent
from tests.fakes.recorder import RecordingServer
from tests.helpers import (
    add_article,
    add_web_channel,
    add_whatsapp_channel,
    bearer,
    configure_workers,
    fetch_all,
    fetch_one,
    post_twilio,
    post_widget_message,
    staff_team,
    whatsapp_form,
    widget_session,
)
from workers.inbound import process_inbound
from workers.schedule import check_missed_chat, sweep, tend_waiting

WEBHOOK = "/webhooks/twilio/whatsapp"
ASK_FOR_PERSON = "I want to talk to a person about my invoice"


@pytest.fixture(scope="module")
def slack():
    server = RecordingServer(lambda request: (200, "ok")).start()
    yield server
    server.stop()


@pytest.fixture
def config(config, slack):
    slack.reset()
    return replace(config, slack_webhook_url=slack.url + "/services/T000/B000/XXXX")


@pytest.fixture
def customers(client, db, run_jobs, fake_twilio):
    """customers(n).say(text): WhatsApp customer n writes; .received: what they got."""
    add_whatsapp_channel(db)
    numbers = iter(range(1, 10_000))

    class Customer:
        def __init__(self, index: int):
            self.address = f"whatsapp:+1555000{index:04d}"

        def say(self, text: str, *, run: bool = True) -> None:
            form = whatsapp_form(sid=f"SMc0ffee{next(numbers):026x}", body=text, sender=self.address)
            assert post_twilio(client, WEBHOOK, form).status_code == 200
            if run:
                run_jobs()

        @property
        def received(self) -> list[str]:
            return [form["Body"] for form in fake_twilio.sent() if form["To"] == self.address]

        @property
        def conversation(self) -> dict:
            return fetch_one(db, """
                SELECT c.*, t.name AS team FROM conversations c
                  JOIN contact_identities i ON i.id = c.identity_id
                  LEFT JOIN teams t ON t.id = c.team_id
                 WHERE i.address = %s ORDER BY c.id DESC LIMIT 1""", self.address)

    return Customer


def update_settings(db, **changes) -> None:
    with db() as conn:
        save_bot_settings(conn, {**load_bot_settings(conn), **changes})


def events(db, kind: str) -> list[dict]:
    return fetch_all(db, "SELECT * FROM events WHERE kind = %s ORDER BY id", kind)


def as_of(conversation: dict, seconds: float) -> str:
    """A moment `seconds` after the conversation escalated: the ladder's clock."""
    return (conversation["escalated_at"] + timedelta(seconds=seconds)).isoformat()


def closed_today() -> dict:
    """Business hours: open around the clock, except today (UTC), a holiday."""
    return {"timezone": "UTC", "holidays": [datetime.now(timezone.utc).date().isoformat()]}


def set_measured_wait(db, team_id: int, seconds: int, samples: int = 3) -> None:
    """Past conversations of the team that a person first answered `seconds` after escalation."""
    add_whatsapp_channel(db, number="whatsapp:+14150000000", name="History")
    with db() as conn:
        channel = conn.execute("SELECT id FROM channels WHERE name = 'History'").fetchone()["id"]
        for index in range(samples):
            contact = conn.execute("INSERT INTO contacts DEFAULT VALUES RETURNING id").fetchone()["id"]
            identity = conn.execute(
                "INSERT INTO contact_identities (contact_id, channel_id, address) VALUES (%s, %s, %s) RETURNING id",
                (contact, channel, f"whatsapp:+1444000{index:04d}")).fetchone()["id"]
            conn.execute(
                """INSERT INTO conversations (channel_id, contact_id, identity_id, status, team_id, escalated_at,
                                              first_agent_reply_at)
                   VALUES (%s, %s, %s, 'resolved', %s, now() - interval '1 hour',
                           now() - interval '1 hour' + make_interval(secs => %s))""",
                (channel, contact, identity, team_id, seconds))


# --- agents online: a place in line and an estimate ----------------------------------------


def test_customers_hear_their_place_in_line_and_a_wait_from_measured_data(db, customers, slack):
    team_id, _ = staff_team(db, "Billing", agents=1)
    set_measured_wait(db, team_id, seconds=240)
    first, second = customers(1), customers(2)
    first.say(ASK_FOR_PERSON)
    second.say("Can I talk to a human about my invoice please")

    assert first.received == ["I'm connecting you with our Billing team. You're next in line — about 4 minutes."]
    # One agent, one conversation ahead: two rounds of the measured 4 minutes.
    assert second.received == ["I'm connecting you with our Billing team. You're #2 in line — about 8 minutes."]
    assert first.conversation["status"] == second.conversation["status"] == "queued"
    assert first.conversation["queue_notice_position"] == 1
    # The team hears of both on Slack, with a link to the conversation.
    texts = [request.json()["text"] for request in slack.requests]
    assert len(texts) == 2
    assert f"https://handoff.example.com/inbox/conversations/{first.conversation['id']}" in texts[0]


def test_an_urgent_customer_goes_ahead_of_those_waiting(db, customers):
    staff_team(db, "Billing", agents=1)
    customers(1).say(ASK_FOR_PERSON)
    customers(2).say("I need a person, I want a refund")  # an urgent topic: high priority
    assert customers(2).received == ["I'm connecting you with our Billing team. You're next in line — about 3 minutes."]
    assert customers(2).conversation["priority"] == "high"


def test_the_estimate_shrinks_with_more_agents_online(db, customers):
    staff_team(db, "Billing", agents=2)
    for index in range(1, 4):
        customers(index).say(ASK_FOR_PERSON)
    # Default 3 minutes a round before there is data; 2 agents serve #3 in the second round.
    assert customers(3).received == ["I'm connecting you with our Billing team. You're #3 in line — about 6 minutes."]


def test_a_waiting_customer_hears_when_their_place_improves(db, customers, run_jobs, redis):
    staff_team(db, "Billing", agents=1)
    waiting = [customers(index) for index in range(1, 4)]
    for customer in waiting:
        customer.say(ASK_FOR_PERSON)
    assert waiting[2].received[-1].startswith("I'm connecting you with our Billing team. You're #3 in line")
    # The two ahead are answered by a person: #3 is now at the front.
    with db() as conn:
        conn.execute("UPDATE conversations SET status = 'assigned', first_agent_reply_at = now() WHERE id IN (%s, %s)",
                     (waiting[0].conversation["id"], waiting[1].conversation["id"]))
    queue(redis, "low").enqueue(tend_waiting)
    run_jobs()
    assert waiting[2].received[-1] == "Thanks for waiting. You're now next in line — about 3 minutes."
    # Nothing changed since: no repeat until queue_update_seconds have passed.
    before = len(waiting[2].received)
    queue(redis, "low").enqueue(tend_waiting)
    run_jobs()
    assert len(waiting[2].received) == before
    later = as_of(waiting[2].conversation, 4 * 60)
    update_settings(db, missed_chat_timeout_seconds=3600)  # the ladder stays out of this
    queue(redis, "low").enqueue(tend_waiting, later)
    run_jobs()
    assert waiting[2].received[-1] == "Thanks for waiting. You're now next in line — about 3 minutes."
    assert len(waiting[2].received) == before + 1


def test_auto_assignment_goes_round_robin_within_capacity(db, customers):
    _, (ann, bob) = staff_team(db, "Billing", agents=2, auto_assign=True, capacity=1)
    for index in range(1, 4):
        customers(index).say(ASK_FOR_PERSON)
    assignees = [customers(index).conversation["assignee_id"] for index in range(1, 4)]
    assert assignees == [ann["id"], bob["id"], None]  # both full: the third waits in the queue
    assert [customers(index).conversation["status"] for index in range(1, 4)] == ["assigned", "assigned", "queued"]
    assert len(events(db, "conversation.assigned")) == 2


# --- nobody can answer now: a ticket -------------------------------------------------------


def test_outside_business_hours_the_customer_gets_a_ticket_and_the_next_opening(db, customers, slack):
    staff_team(db, "Billing", agents=1, hours=closed_today())
    customer = customers(1)
    customer.say(ASK_FOR_PERSON)

    (notice,) = customer.received
    assert notice == ("Our Billing team is offline right now and back tomorrow at 12:00 AM (UTC). "
                      "I've created ticket #1001 for you, and a person will reply here on WhatsApp.")
    assert customer.conversation["status"] == "ticket"
    ticket = fetch_one(db, "SELECT * FROM tickets")
    assert ticket["number"] == 1001 and ticket["status"] == "open"
    assert ticket["subject"] == ASK_FOR_PERSON and ticket["reason"] == "human_request"
    assert ticket["due_at"] > datetime.now(timezone.utc) + timedelta(hours=8)  # business hours start tomorrow
    (created,) = events(db, "ticket.created")
    assert created["detail"]["why"] == "closed"
    assert any("Ticket #1001" in request.json()["text"] for request in slack.requests)


def test_with_nobody_online_the_escalation_becomes_a_ticket(db, customers):
    staff_team(db, "Billing", agents=2, online=False)
    customer = customers(1)
    customer.say(ASK_FOR_PERSON)
    assert customer.received == ["Nobody from our Billing team is available right now. I've created ticket #1001 "
                                 "for you, and a person will reply here on WhatsApp."]
    # Still a ticket, not a second one, whatever the customer says next; the bot stays silent (bot_only).
    customer.say("hello?")
    assert len(customer.received) == 1
    assert fetch_one(db, "SELECT count(*) AS n FROM tickets")["n"] == 1


def test_an_agent_whose_presence_expired_is_not_online(db, customers):
    _, (agent,) = staff_team(db, "Billing", agents=1)
    with db() as conn:
        conn.execute("UPDATE agents SET presence_expires_at = now() - interval '1 second' WHERE id = %s",
                     (agent["id"],))
        assert agents_store.get_agent(conn, agent["id"])["presence"] == "offline"
    customer = customers(1)
    customer.say(ASK_FOR_PERSON)
    assert customer.conversation["status"] == "ticket"


# --- the missed-chat ladder ----------------------------------------------------------------


def test_missed_chat_ladder_realerts_reassigns_then_tells_the_customer_and_opens_a_ticket(
        db, customers, run_jobs, slack, redis):
    _, (ann, bob) = staff_team(db, "Billing", agents=2, auto_assign=True)
    customer = customers(1)
    customer.say(ASK_FOR_PERSON)
    conversation = customer.conversation
    assert conversation["assignee_id"] == ann["id"]

    # RQ's scheduler holds the check for the missed-chat timeout (default 3 minutes).
    scheduled = ScheduledJobRegistry(queue=queue(redis, "low"))
    (job_id,) = scheduled.get_job_ids()
    run_at = scheduled.get_scheduled_time(job_id)
    assert timedelta(seconds=170) < run_at - conversation["escalated_at"] < timedelta(seconds=200)

    # Not yet due: nothing happens.
    queue(redis, "low").enqueue(check_missed_chat, conversation["id"], as_of(conversation, 179))
    run_jobs()
    assert customer.conversation["missed_stage"] == 0

    # 3 minutes, Ann never answered: the team is alerted again and Bob gets it.
    slack.reset()
    queue(redis, "low").enqueue(check_missed_chat, conversation["id"], as_of(conversation, 180))
    run_jobs()
    after_first = customer.conversation
    assert after_first["missed_stage"] == 1 and after_first["assignee_id"] == bob["id"]
    assert [event["detail"]["stage"] for event in events(db, "conversation.missed")] == [1]
    (reassigned,) = events(db, "conversation.reassigned")
    assert reassigned["detail"] == {"reason": "missed_chat", "from_agent_id": ann["id"], "to_agent_id": bob["id"]}
    assert any("Missed chat" in request.json()["text"] for request in slack.requests)
    assert len(customer.received) == 1  # the customer is not bothered yet

    # 6 minutes: the customer is told honestly, and (by default) it becomes a ticket.
    queue(redis, "low").enqueue(check_missed_chat, conversation["id"], as_of(conversation, 360))
    run_jobs()
    assert customer.conversation["status"] == "ticket"
    assert customer.received[-1] == ("I'm sorry, nobody from our Billing team could pick up your conversation in "
                                     "time. I've created ticket #1001 for you, and a person will reply here on "
                                     "WhatsApp.")


def test_missed_chat_can_hand_the_customer_to_the_bot_meanwhile(db, customers, redis, run_jobs):
    add_article(db, "Invoices", "You can download every invoice from the Billing page of your account.")
    add_article(db, "Returns", "You can return any item within 30 days of delivery.")
    update_settings(db, missed_chat_action="bot")
    staff_team(db, "Billing", agents=1)
    customer = customers(1)
    customer.say(ASK_FOR_PERSON)
    customer.say("Where can I download my invoice?")  # while waiting: nobody answers yet
    assert len(customer.received) == 1
    conversation = customer.conversation
    for seconds in (180, 360):
        queue(redis, "low").enqueue(check_missed_chat, conversation["id"], as_of(conversation, seconds))
        run_jobs()
    assert customer.conversation["status"] == "queued"  # still waiting for a person
    assert customer.received[-2].startswith("I'm sorry, it's taking longer than usual for our Billing team")
    # The bot answers the question the customer is waiting with.
    assert "Billing page" in customer.received[-1]
    customer.say("Can I return an item I bought?")
    # The bot keeps helping until a person replies.
    assert customer.received[-1] == "You can return any item within 30 days of delivery."


def test_the_sweep_catches_a_missed_chat_whose_scheduled_check_was_lost(db, customers, redis, run_jobs):
    staff_team(db, "Billing", agents=1)
    customer = customers(1)
    customer.say(ASK_FOR_PERSON)
    scheduled = ScheduledJobRegistry(queue=queue(redis, "low"))
    for job_id in scheduled.get_job_ids():  # as if Redis had restarted without its data
        scheduled.remove(job_id)
    queue(redis, "low").enqueue(tend_waiting, as_of(customer.conversation, 200))
    run_jobs()
    assert customer.conversation["missed_stage"] == 1


def test_a_conversation_never_waits_behind_an_agent_who_went_offline(db, customers, redis, run_jobs):
    _, (ann, bob) = staff_team(db, "Billing", agents=2, auto_assign=True)
    customer = customers(1)
    customer.say(ASK_FOR_PERSON)
    assert customer.conversation["assignee_id"] == ann["id"]
    with db() as conn:  # Ann closed her laptop: her heartbeat stopped
        conn.execute("UPDATE agents SET presence_expires_at = now() - interval '1 second' WHERE id = %s",
                     (ann["id"],))
    queue(redis, "low").enqueue(tend_waiting)
    run_jobs()
    assert customer.conversation["assignee_id"] == bob["id"]
    (reassigned,) = events(db, "conversation.reassigned")
    assert reassigned["detail"]["reason"] == "assignee_offline"


# --- offline_or_missed channels: humans first ----------------------------------------------


def test_humans_first_channel_queues_at_once_and_the_bot_helps_after_the_timeout(
        db, client, run_jobs, fake_twilio, redis):
    add_article(db, "Opening hours", "Our shop is open from 9am to 6pm, Monday to Saturday.")
    add_whatsapp_channel(db, mode="offline_or_missed")
    staff_team(db, "General", agents=1)
    form = whatsapp_form(sid="SMc0ffee" + "1" * 26, body="What are your opening hours?")
    assert post_twilio(client, WEBHOOK, form).status_code == 200
    run_jobs()
    conversation = fetch_one(db, "SELECT * FROM conversations")
    assert conversation["status"] == "queued" and conversation["escalation_reason"] == "humans_first"
    assert [sent["Body"] for sent in fake_twilio.sent()] == [
        "I'm connecting you with our General team. You're next in line — about 3 minutes."]

    queue(redis, "low").enqueue(check_missed_chat, conversation["id"], as_of(conversation, 180))
    run_jobs()
    bodies = [sent["Body"] for sent in fake_twilio.sent()]
    assert bodies[1] == ("Everyone is busy right now, so I'll try to help meanwhile. "
                         "You keep your place in line, and a person will reply here.")
    assert re.search(r"9am to 6pm", bodies[2])


@pytest.mark.parametrize("staffing", [
    pytest.param(lambda: {"online": False}, id="nobody online"),
    pytest.param(lambda: {"hours": closed_today()}, id="outside business hours (someone online)"),
])
def test_humans_first_channel_lets_the_bot_answer_when_nobody_can(db, client, run_jobs, fake_twilio, staffing):
    add_article(db, "Opening hours", "Our shop is open from 9am to 6pm, Monday to Saturday.")
    add_whatsapp_channel(db, mode="offline_or_missed")
    staff_team(db, "General", agents=1, **staffing())
    form = whatsapp_form(sid="SMc0ffee" + "2" * 26, body="What are your opening hours?")
    assert post_twilio(client, WEBHOOK, form).status_code == 200
    run_jobs()
    assert fetch_one(db, "SELECT status FROM conversations")["status"] == "bot"
    assert "9am to 6pm" in fake_twilio.sent()[-1]["Body"]


def test_an_agent_who_just_claimed_a_long_waiting_conversation_has_a_whole_timeout_to_answer(
        app, db, customers, redis, run_jobs):
    team_id, _ = staff_team(db, "Billing", agents=1)
    maya = make_agent(app, db, "Maya Lopez", teams=(team_id,))
    customer = customers(1)
    customer.say(ASK_FOR_PERSON)
    conversation = customer.conversation
    with db() as conn:  # nobody took it for 10 minutes (the sweeps were lost)...
        conn.execute("UPDATE conversations SET escalated_at = now() - interval '10 minutes' WHERE id = %s",
                     (conversation["id"],))
    assert maya.act(conversation["id"], "claim").status_code == 200  # ...then Maya claims it
    queue(redis, "low").enqueue(tend_waiting)
    run_jobs()
    assert customer.conversation["assignee_id"] == maya.id
    assert events(db, "conversation.missed") == []
    # Once she has had the whole timeout without answering, the ladder goes on.
    in_three_minutes = (datetime.now(timezone.utc) + timedelta(minutes=3, seconds=1)).isoformat()
    queue(redis, "low").enqueue(tend_waiting, in_three_minutes)
    run_jobs()
    assert [event["detail"]["stage"] for event in events(db, "conversation.missed")] == [1]


def test_on_the_web_a_ticket_asks_for_an_email_notes_it_and_the_bot_only_helps_when_sure(client, db, run_jobs):
    add_article(db, "Shipping", "Standard shipping takes 3 to 5 business days.")
    web = add_web_channel(db, mode="hybrid")  # hybrid: the bot may help while the ticket waits
    staff_team(db, "Billing", online=False)
    token = widget_session(client, web.address)["visitor_token"]
    for number, text in enumerate(["I want to talk to a person about my refund", "sure, it's ann@example.com",
                                   "what's the weather like on Mars?", "How long does shipping take?"]):
        assert post_widget_message(client, token, text, f"client-{number:04d}").status_code == 201
        run_jobs()

    transcript = client.get("/api/widget/messages", headers=bearer(token)).get_json()["messages"]
    assert [(message["sender"], message["text"]) for message in transcript] == [
        ("customer", "I want to talk to a person about my refund"),
        ("system", "Nobody from our Billing team is available right now. I've created ticket #1001 for you, and a "
                   "person will reply here in this chat. If you may leave this page, tell me your email address "
                   "and we'll answer there."),
        ("customer", "sure, it's ann@example.com"),
        ("system", "Thanks! We'll also answer ticket #1001 by email at ann@example.com."),
        # Not sure: the bot leaves it to the person the customer waits for (no "want a person?").
        ("customer", "what's the weather like on Mars?"),
        ("customer", "How long does shipping take?"),
        # Sure: it answers, without a greeting or an offer of a person.
        ("bot", "Standard shipping takes 3 to 5 business days."),
    ]
    assert not transcript[-1].get("quick_replies")
    assert fetch_one(db, "SELECT email FROM tickets")["email"] == "ann@example.com"


def test_outbound_webhooks_carry_the_conversation_signed(db, customers, run_jobs, slack):
    receiver = RecordingServer(lambda request: (200, {"ok": True})).start()
    try:
        add_article(db, "Shipping", "Standard shipping takes 3 to 5 business days.")
        staff_team(db, "Billing", agents=1)
        with db() as conn:
            secret = webhooks.create_subscription(conn, url=receiver.url + "/hook",
                                                  events=["conversation.escalated", "message.created"])["secret"]
        customer = customers(1)
        customer.say("How long does shipping take?")
        customer.say(ASK_FOR_PERSON)
    finally:
        receiver.stop()

    for request in receiver.requests:
        expected = "sha256=" + hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(request.headers["X-Handoff-Signature-256"], expected)
    bodies = [request.json() for request in receiver.requests]
    assert [(body["event"], body["data"].get("sender")) for body in bodies] == [
        ("message.created", "customer"), ("message.created", "bot"),
        ("message.created", "customer"), ("conversation.escalated", None)]
    packet = bodies[-1]["data"]
    assert packet["conversation_id"] == customer.conversation["id"]
    assert packet["trigger"]["rule"] == "human_request" and packet["team"] == "Billing"
    assert [tried["question"] for tried in packet["bot_tried"]] == ["How long does shipping take?"]


def test_an_escalation_made_while_redis_was_down_still_reaches_the_customer_and_the_ladder(
        db, config, customers, redis, run_jobs, slack):
    staff_team(db, "Billing", agents=1)
    customer = customers(1)
    customer.say(ASK_FOR_PERSON, run=False)
    message_id = fetch_one(db, "SELECT id FROM messages WHERE sender = 'customer'")["id"]
    redis.flushdb()  # the job is lost with Redis...
    configure_workers(config, redis_url="redis://127.0.0.1:1/0")  # ...which is down while the worker escalates
    assert process_inbound(message_id) == "escalated"
    assert customer.conversation["status"] == "queued" and customer.received == []

    configure_workers(config, sweep_after_seconds=0)  # Redis is back: the sweeper finds the unsent notice
    queue(redis, "low").enqueue(sweep)
    run_jobs()
    assert customer.received == ["I'm connecting you with our Billing team. You're next in line — about 3 minutes."]
    # The missed-chat check scheduled in Redis was lost too: the sweep's tending catches it.
    queue(redis, "low").enqueue(tend_waiting, as_of(customer.conversation, 180))
    run_jobs()
    assert customer.conversation["missed_stage"] == 1
