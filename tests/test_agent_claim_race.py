"""Two agents claiming the same conversation at once: exactly one wins, the
conversation is assigned once, and the customer hears one "joined" line."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from gateway.db import transaction
from gateway.desk import actions
from gateway.errors import ApiError
from gateway.store import agents as agents_store
from tests.agents import (
    conversation_row,
    joined_lines,
    make_agent,
    team,
    waiting_conversation,
)
from tests.helpers import add_whatsapp_channel, fetch_all

ROUNDS = 5


@pytest.fixture
def contenders(app, db):
    billing = team(db, "Billing")
    return billing, make_agent(app, db, "Maya Lopez", teams=(billing,)), make_agent(app, db, "Sam Ito", teams=(billing,))


def test_two_concurrent_claims_over_http_one_wins(db, run_jobs, fake_twilio, contenders):
    billing, maya, sam = contenders
    channel = add_whatsapp_channel(db)
    for round_ in range(ROUNDS):
        conversation_id = waiting_conversation(db, channel, f"whatsapp:+1555000{round_:04d}", billing)
        start = threading.Barrier(2)

        def claim(agent):
            start.wait(timeout=10)
            return agent, agent.act(conversation_id, "claim")

        with ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(claim, (maya, sam)))

        statuses = sorted(response.status_code for _, response in results)
        assert statuses == [200, 409], [response.get_json() for _, response in results]
        (winner,) = [agent for agent, response in results if response.status_code == 200]
        (loser,) = [response for _, response in results if response.status_code == 409]
        assert loser.get_json()["details"]["assignee_id"] == winner.id
        assert conversation_row(db, conversation_id)["assignee_id"] == winner.id
        assigned = fetch_all(db, "SELECT * FROM events WHERE kind = 'conversation.assigned' AND conversation_id = %s",
                             conversation_id)
        assert [event["detail"]["agent_id"] for event in assigned] == [winner.id]
        assert joined_lines(db, conversation_id) == [f"{winner.name.split()[0]} from Billing joined"]
    run_jobs()
    assert len(fake_twilio.sent()) == ROUNDS


def test_a_claim_waiting_for_the_row_lock_sees_the_winner_and_is_refused(app, db, contenders):
    """The second claim really waits on the first one's row lock (seen in
    pg_stat_activity), then re-checks and refuses: no luck of timing involved."""
    billing, maya, sam = contenders
    conversation_id = waiting_conversation(db, add_whatsapp_channel(db), "whatsapp:+15550000001", billing)
    pool = app.extensions["handoff"].pool
    with db() as conn:
        first, second = agents_store.get_agent(conn, maya.id), agents_store.get_agent(conn, sam.id)
    first_claimed = threading.Event()
    outcome = {}

    def claim_second():
        first_claimed.wait(timeout=10)
        try:
            with transaction(pool) as conn:
                actions.claim(conn, second, conversation_id)
            outcome["second"] = "won"
        except ApiError as error:
            outcome["second"] = (error.status, error.message)

    contender = threading.Thread(target=claim_second)
    contender.start()
    with transaction(pool) as conn:
        actions.claim(conn, first, conversation_id)
        first_claimed.set()
        wait_for_a_lock_waiter(db)
    contender.join(timeout=10)

    assert outcome["second"] == (409, f"conversation {conversation_id} is assigned to Maya Lopez")
    assert conversation_row(db, conversation_id)["assignee_id"] == maya.id
    assert joined_lines(db, conversation_id) == ["Maya from Billing joined"]


def wait_for_a_lock_waiter(db, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db() as conn:
            waiting = conn.execute("SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                   "AND datname = current_database()").fetchone()["n"]
        if waiting:
            return
    raise AssertionError("the second claim never waited for the row lock")
