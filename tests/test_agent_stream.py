"""The agent's live stream (SSE): a hello with presence and queue sizes, then
the live events of the agent's teams only, keep-alives, and an end."""

from __future__ import annotations

import os

import pytest

from gateway import live
from tests.agents import make_agent, team
from tests.helpers import add_whatsapp_channel, fetch_one, post_twilio, whatsapp_form
from tests.test_widget_api import EventStream

ASK_FOR_PERSON = "Can I talk to a person please"


@pytest.fixture
def open_stream():
    streams = []

    def open_(agent) -> EventStream:
        stream = EventStream(agent.client.get("/api/agent/stream", headers=agent.headers, buffered=False))
        streams.append(stream)
        return stream

    yield open_
    for stream in streams:
        stream.close()


@pytest.fixture(autouse=True)
def unshared_conversation_ids(db):
    """Redis pub/sub ignores the db number: test runs sharing a Redis server
    see each other's live events. Our conversations get ids no other run
    uses, and the tests look only at events of those."""
    with db() as conn:
        conn.execute("SELECT setval(pg_get_serial_sequence('conversations', 'id'), %s)",
                     (1_000_000_000 + os.getpid() * 1000,))


def events_about(stream: EventStream, conversation_ids: set[int], count: int) -> list[dict]:
    """The next `count` events of these conversations (others' are skipped)."""
    found = []
    while len(found) < count:
        data = stream.next_event()["data"]
        if data.get("conversation_id") in conversation_ids:
            found.append(data)
    return found


def escalate_a_customer(client, db, run_jobs) -> int:
    """A WhatsApp customer asks for a person: the default team (General) gets the conversation."""
    response = post_twilio(client, "/webhooks/twilio/whatsapp", whatsapp_form(sid="SM" + "7" * 32, body=ASK_FOR_PERSON))
    assert response.status_code == 200
    run_jobs()
    return fetch_one(db, "SELECT id FROM conversations")["id"]


def test_the_stream_says_hello_then_carries_my_teams_events_only(app, client, db, run_jobs, redis, open_stream):
    add_whatsapp_channel(db)
    general, billing = team(db, "General"), team(db, "Billing")
    gina = make_agent(app, db, "Gina General", teams=(general,))
    bill = make_agent(app, db, "Bill Billing", teams=(billing,))
    mine, theirs = open_stream(gina), open_stream(bill)

    hello = mine.next_event()["data"]
    assert hello["type"] == "hello"
    assert (hello["agent"]["id"], hello["agent"]["presence"]) == (gina.id, "online")
    assert hello["teams"] == [{"id": general, "name": "General", "waiting": 0}]
    assert theirs.next_event()["data"]["type"] == "hello"

    conversation_id = escalate_a_customer(client, db, run_jobs)

    seen = events_about(mine, {conversation_id}, 4)
    # The customer's message, the escalation, the queue notice stored and sent. Only the
    # escalation names its team: for the others the stream looked the conversation up.
    assert [(event["type"], event["conversation_id"]) for event in seen] == [
        ("message.created", conversation_id), ("conversation.escalated", conversation_id),
        ("message.created", conversation_id), ("message.status", conversation_id)]
    assert seen[1]["team_id"] == general
    # Billing's stream skipped all of it: the next thing it carries is Billing's own event.
    marker = conversation_id + 1
    live.publish(redis, "conversation.missed", marker, team_id=billing)
    assert events_about(theirs, {conversation_id, marker}, 1) == [
        {"type": "conversation.missed", "conversation_id": marker, "team_id": billing}]


def test_an_admin_stream_carries_every_team(app, client, db, run_jobs, open_stream):
    add_whatsapp_channel(db)
    team(db, "General")
    admin = make_agent(app, db, "Ada Admin", admin=True)
    stream = open_stream(admin)
    assert stream.next_event()["data"]["type"] == "hello"

    conversation_id = escalate_a_customer(client, db, run_jobs)

    assert events_about(stream, {conversation_id}, 1)[0]["type"] == "message.created"


def test_the_stream_sends_heartbeats_and_ends_after_its_time(app, db, open_stream):
    app.config.update(AGENT_HEARTBEAT_SECONDS=0.05, AGENT_STREAM_SECONDS=0.3)
    agent = make_agent(app, db, "Gina General", teams=(team(db, "General"),))
    stream = open_stream(agent)
    assert stream.response.headers["Cache-Control"] == "no-cache"

    stream.next_event()
    stream.read_to_end()

    assert stream.ended
    assert ": keep-alive" in stream.comments
    assert stream.retries == [2000]
