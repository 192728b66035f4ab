"""The agent API: who may see and do what, the queue, one conversation with
everything needed to answer it, claim, assign, transfer, private notes,
resolve and reopen, presence, tickets. What the customer receives is read
at the Twilio stand-in; the state, from SQL."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from gateway import live
from gateway.store import teams as teams_store
from tests.agents import conversation_row, make_agent, team, waiting_conversation
from tests.helpers import (
    add_web_channel,
    add_whatsapp_channel,
    bearer,
    fetch_all,
    fetch_one,
    next_live_event,
    post_widget_message,
    seed_conversation,
    widget_session,
)
from workers.schedule import tend_waiting

CUSTOMER = "whatsapp:+15551230001"


@pytest.fixture
def whatsapp(db):
    return add_whatsapp_channel(db)


@pytest.fixture
def billing(db):
    return team(db, "Billing")


@pytest.fixture
def technical(db):
    return team(db, "Technical")


@pytest.fixture
def maya(app, db, billing):
    return make_agent(app, db, "Maya Lopez", teams=(billing,))


@pytest.fixture
def sam(app, db, billing):
    return make_agent(app, db, "Sam Ito", teams=(billing,))


@pytest.fixture
def tom(app, db, technical):
    return make_agent(app, db, "Tom Tech", teams=(technical,))


def events(db, kind: str, conversation_id: int | None = None) -> list[dict]:
    return fetch_all(db, "SELECT * FROM events WHERE kind = %s AND (%s::bigint IS NULL OR conversation_id = %s) "
                         "ORDER BY id", kind, conversation_id, conversation_id)


def received(fake_twilio, address: str = CUSTOMER) -> list[str]:
    return [form["Body"] for form in fake_twilio.sent() if form["To"] == address]


# --- who may ----------------------------------------------------------------------------------


@pytest.mark.parametrize("method, path", [
    ("GET", "/api/agent/queue"), ("GET", "/api/agent/conversations/1"), ("POST", "/api/agent/conversations/1/claim"),
    ("POST", "/api/agent/conversations/1/reply"), ("POST", "/api/agent/presence"), ("GET", "/api/agent/tickets"),
    ("GET", "/api/agent/stream")])
def test_without_credentials_it_is_401(client, method, path):
    response = client.open(path, method=method, json={})
    assert response.status_code == 401
    assert "error" in response.get_json()
    assert client.open(path, method=method, json={}, headers=bearer("hat_wrong")).status_code == 401


def test_another_teams_conversation_is_403_and_an_admin_sees_every_team(app, db, whatsapp, billing, tom):
    conversation_id = waiting_conversation(db, whatsapp, CUSTOMER, billing)
    for response in (tom.get(f"/api/agent/conversations/{conversation_id}"), tom.act(conversation_id, "claim"),
                     tom.act(conversation_id, "notes", {"text": "peeking"})):
        assert response.status_code == 403
        assert response.get_json()["error"] == f"conversation {conversation_id} belongs to a team you are not in"
    assert tom.get("/api/agent/conversations/999999").status_code == 404

    admin = make_agent(app, db, "Ada Admin", admin=True)
    shown = admin.get(f"/api/agent/conversations/{conversation_id}")
    assert shown.status_code == 200
    assert shown.get_json()["conversation"]["team"] == {"id": billing, "name": "Billing"}
    assert [row["id"] for row in admin.get("/api/agent/queue").get_json()["waiting"]] == [conversation_id]
    assert conversation_row(db, conversation_id)["status"] == "queued"


def test_cookie_authenticated_writes_need_the_csrf_header(app, db, whatsapp, billing):
    conversation_id = waiting_conversation(db, whatsapp, CUSTOMER, billing)
    maya = make_agent(app, db, "Maya Lopez", teams=(billing,), session=True)

    refused = maya.client.post(f"/api/agent/conversations/{conversation_id}/claim", json={})
    assert refused.status_code == 403
    assert "X-CSRF-Token" in refused.get_json()["error"]
    assert conversation_row(db, conversation_id)["status"] == "queued"
    # Reads need no token; a write with the session's token goes through.
    assert maya.client.get("/api/agent/queue").status_code == 200
    assert maya.act(conversation_id, "claim").status_code == 200
    assert conversation_row(db, conversation_id)["assignee_id"] == maya.id


def test_an_invalid_body_is_400_with_details(db, whatsapp, billing, maya):
    conversation_id = waiting_conversation(db, whatsapp, CUSTOMER, billing)
    assert maya.client.post(f"/api/agent/conversations/{conversation_id}/reply", data="[1]",
                            content_type="application/json", headers=maya.headers).status_code == 400
    response = maya.act(conversation_id, "reply", {"text": "hi", "template": "follow_up"})
    assert response.status_code == 400
    assert "text" in response.get_json()["details"]
    assert maya.act(conversation_id, "reply", {"text": "   "}).get_json()["details"] == {"text": ["must not be blank"]}
    assert "presence" in maya.post("/api/agent/presence", {"presence": "busy"}).get_json()["details"]
    assert "agent_id" in maya.act(conversation_id, "assign", {}).get_json()["details"]


# --- the queue and one conversation ------------------------------------------------------------


def test_the_queue_is_in_serving_order_with_places_and_lists_mine(db, whatsapp, billing, technical, maya, tom):
    old = waiting_conversation(db, whatsapp, "whatsapp:+15550000001", billing, waited_seconds=600)
    urgent = waiting_conversation(db, whatsapp, "whatsapp:+15550000002", billing, waited_seconds=30,
                                  priority="urgent")
    new = waiting_conversation(db, whatsapp, "whatsapp:+15550000003", billing, waited_seconds=10)
    elsewhere = waiting_conversation(db, whatsapp, "whatsapp:+15550000004", technical)
    assert maya.act(new, "claim").status_code == 200

    body = maya.get("/api/agent/queue").get_json()

    assert [(row["id"], row["position"]) for row in body["waiting"]] == [(urgent, 1), (old, 2), (new, 3)]
    assert body["teams"] == [{"id": billing, "name": "Billing", "waiting": 3}]
    assert [row["id"] for row in body["mine"]] == [new]
    assert body["mine"][0]["awaiting_first_reply"] is True
    assert [row["id"] for row in tom.get(f"/api/agent/queue?team={technical}").get_json()["waiting"]] == [elsewhere]
    assert tom.get(f"/api/agent/queue?team={billing}").status_code == 403
    assert tom.get("/api/agent/queue?team=999999").status_code == 404


def test_a_conversation_comes_with_packet_transcript_history_window_and_reply_options(db, whatsapp, billing, maya):
    web = add_web_channel(db)
    packet = {"trigger": {"rule": "human_request", "excerpt": "a person"}, "summary": "Wants a refund"}
    conversation_id = seed_conversation(
        db, whatsapp, CUSTOMER, [("customer", "I want a refund"), ("bot", "Refunds take 5 days."),
                                 {"sender": "agent", "text": "VIP, be nice", "private": True}],
        phone="+15551230001", status="queued", team_id=billing, handoff_packet=packet)
    earlier = seed_conversation(db, web, "v_0123456789", [("customer", "Hello from the website")],
                                phone="+15551230001", status="resolved")
    with db() as conn:
        conn.execute("UPDATE channels SET settings = %s WHERE id = %s", (json.dumps({"templates": [
            {"name": "follow_up", "content_sid": "HX" + "0" * 32, "variables": ["name"],
             "body": "Hi {{1}}, we have news about your request."}]}), whatsapp.id))

    body = maya.get(f"/api/agent/conversations/{conversation_id}").get_json()

    assert body["conversation"]["status"] == "queued"
    assert body["conversation"]["channel"]["kind"] == "whatsapp"
    assert body["handoff_packet"] == packet
    assert body["queue"]["position"] == 1
    assert [(m["sender"], m["private"]) for m in body["messages"]] == [("customer", False), ("bot", False),
                                                                      ("agent", True)]
    assert {identity["channel_kind"] for identity in body["contact"]["identities"]} == {"whatsapp", "web"}
    assert [other["id"] for other in body["contact"]["conversations"]] == [earlier]
    assert body["window"]["state"] == "open"
    assert body["reply_options"]["via"] == "channel"
    assert body["reply_options"]["error"] is None
    assert body["reply_options"]["email_configured"] is False
    assert [template["name"] for template in body["templates"]] == ["follow_up"]
    assert body["ticket"] is None


# --- claim and assign --------------------------------------------------------------------------


def test_claim_assigns_and_the_customer_hears_who_joined_once(db, run_jobs, fake_twilio, whatsapp, billing, maya,
                                                              sam):
    conversation_id = waiting_conversation(db, whatsapp, CUSTOMER, billing)

    claimed = maya.act(conversation_id, "claim")
    assert claimed.status_code == 200
    assert claimed.get_json()["conversation"]["assignee"] == {"id": maya.id, "name": "Maya Lopez"}
    assert maya.act(conversation_id, "claim").status_code == 200  # a second click changes nothing
    taken = sam.act(conversation_id, "claim")
    run_jobs()

    assert taken.status_code == 409
    assert taken.get_json() == {"error": f"conversation {conversation_id} is assigned to Maya Lopez",
                                "details": {"assignee_id": maya.id, "assignee": "Maya Lopez"}}
    assert received(fake_twilio) == ["Maya from Billing joined"]
    row = conversation_row(db, conversation_id)
    assert (row["status"], row["assignee_id"]) == ("assigned", maya.id)
    (event,) = events(db, "conversation.assigned", conversation_id)
    assert (event["agent_id"], event["detail"]["reason"]) == (maya.id, "claimed")


def test_a_bot_or_resolved_conversation_cannot_be_claimed(db, whatsapp, billing, maya):
    with_bot = seed_conversation(db, whatsapp, CUSTOMER, [("customer", "hi")], team_id=billing)
    done = seed_conversation(db, whatsapp, "whatsapp:+15550000009", [("customer", "bye")], team_id=billing,
                             status="resolved")
    assert maya.act(with_bot, "claim").status_code == 409
    assert "reopen" in maya.act(done, "claim").get_json()["error"]
    assert conversation_row(db, with_bot)["status"] == "bot"


def test_assignment_rules(app, db, whatsapp, billing, technical, maya, sam, tom):
    conversation_id = waiting_conversation(db, whatsapp, CUSTOMER, billing)
    away = make_agent(app, db, "Ann Away", teams=(billing,), online=False)
    # Anyone in the team may assign a queued conversation to a teammate who is online...
    assert maya.act(conversation_id, "assign", {"agent_id": sam.id}).status_code == 200
    assert conversation_row(db, conversation_id)["assignee_id"] == sam.id
    # ...but once someone holds it, only they (or an admin) hand it over.
    assert maya.act(conversation_id, "assign", {"agent_id": maya.id}).status_code == 409
    assert sam.act(conversation_id, "assign", {"agent_id": tom.id}).get_json()["error"] == \
        "Tom Tech is not in the Billing team"
    offline = sam.act(conversation_id, "assign", {"agent_id": away.id})
    assert offline.status_code == 409
    assert "Ann Away is offline" in offline.get_json()["error"]
    assert sam.act(conversation_id, "assign", {"agent_id": 999999}).status_code == 400
    assert sam.act(conversation_id, "assign", {"agent_id": maya.id}).status_code == 200
    admin = make_agent(app, db, "Ada Admin", admin=True)
    assert admin.act(conversation_id, "assign", {"agent_id": sam.id}).status_code == 200

    reasons = [(e["agent_id"], e["detail"]["agent_id"], e["detail"]["reason"])
               for e in events(db, "conversation.assigned", conversation_id)]
    assert reasons == [(maya.id, sam.id, "assigned"), (sam.id, maya.id, "handed_over"), (admin.id, sam.id, "assigned")]


# --- transfer ----------------------------------------------------------------------------------


def test_transfer_queues_for_the_other_team_and_tells_the_customer(db, run_jobs, fake_twilio, whatsapp, billing,
                                                                   technical, maya, tom):
    conversation_id = waiting_conversation(db, whatsapp, CUSTOMER, billing, waited_seconds=900)
    assert maya.act(conversation_id, "claim").status_code == 200

    moved = maya.act(conversation_id, "transfer", {"team": "technical", "note": "Login problem, not billing"})
    run_jobs()

    assert moved.status_code == 200
    assert moved.get_json()["conversation"]["team"] == {"id": technical, "name": "Technical"}
    row = conversation_row(db, conversation_id)
    assert (row["status"], row["assignee_id"], row["missed_stage"]) == ("queued", None, 0)
    assert received(fake_twilio)[-1] == \
        "I'm transferring you to our Technical team. You're next in line — about 3 minutes."
    (event,) = events(db, "conversation.transferred", conversation_id)
    assert event["detail"]["from_team_id"] == billing and event["detail"]["to_team"] == "Technical"
    note = fetch_one(db, "SELECT * FROM messages WHERE conversation_id = %s AND private", conversation_id)
    assert (note["text"], note["agent_id"]) == ("Login problem, not billing", maya.id)
    # Now it is Technical's: Tom sees it and may claim it; Maya no longer sees it.
    assert [row["id"] for row in tom.get("/api/agent/queue").get_json()["waiting"]] == [conversation_id]
    assert maya.get(f"/api/agent/conversations/{conversation_id}").status_code == 403


def test_transfer_to_an_auto_assign_team_assigns_there(app, db, whatsapp, billing, maya):
    sales = team(db, "Sales", auto_assign=True)
    seller = make_agent(app, db, "Sue Sales", teams=(sales,))
    conversation_id = waiting_conversation(db, whatsapp, CUSTOMER, billing)

    assert maya.act(conversation_id, "transfer", {"team_id": sales}).status_code == 200

    assert conversation_row(db, conversation_id)["assignee_id"] == seller.id


def test_transfer_refusals(app, db, whatsapp, billing, maya):
    empty = team(db, "Legal")
    conversation_id = waiting_conversation(db, whatsapp, CUSTOMER, billing)
    nobody = maya.act(conversation_id, "transfer", {"team_id": empty})
    assert nobody.status_code == 409
    assert nobody.get_json()["error"] == "nobody in the Legal team is online: the conversation stays with you"
    assert maya.act(conversation_id, "transfer", {"team": "Nope"}).get_json()["details"] == {"team": ["no team Nope"]}
    assert maya.act(conversation_id, "transfer", {"team": "Billing"}).status_code == 409
    assert maya.act(conversation_id, "transfer", {"team": "Billing", "team_id": billing}).status_code == 400
    assert conversation_row(db, conversation_id)["team_id"] == billing


def test_transfer_to_a_team_outside_its_business_hours_is_refused(app, db, whatsapp, billing, maya):
    today = datetime.now(timezone.utc).date().isoformat()
    legal = team(db, "Legal")
    make_agent(app, db, "Lou Legal", teams=(legal,))
    with db() as conn:
        teams_store.update_team(conn, legal, hours={"timezone": "UTC", "holidays": [today]})
    conversation_id = waiting_conversation(db, whatsapp, CUSTOMER, billing)

    closed = maya.act(conversation_id, "transfer", {"team_id": legal})

    assert closed.status_code == 409
    assert closed.get_json()["error"] == ("the Legal team is closed (back tomorrow at 12:00 AM (UTC)): "
                                          "the conversation stays with you")
    assert conversation_row(db, conversation_id)["team_id"] == billing


def test_a_transferred_ticket_becomes_the_other_teams(app, db, whatsapp, billing, technical, maya):
    conversation_id = waiting_conversation(db, whatsapp, CUSTOMER, billing, status="ticket")
    contact_id = conversation_row(db, conversation_id)["contact_id"]
    with db() as conn:
        conn.execute("INSERT INTO tickets (conversation_id, contact_id, team_id, subject, status) "
                     "VALUES (%s, %s, %s, 'old', 'closed')", (conversation_id, contact_id, billing))
        conn.execute("INSERT INTO tickets (conversation_id, contact_id, team_id, subject) VALUES (%s, %s, %s, 'x')",
                     (conversation_id, contact_id, billing))
    before = conversation_row(db, conversation_id)

    moved = maya.act(conversation_id, "transfer", {"team": "Technical", "note": "for tech"})

    assert moved.status_code == 200, moved.get_json()
    row = conversation_row(db, conversation_id)
    assert (row["status"], row["team_id"], row["assignee_id"]) == ("ticket", technical, None)
    assert row["escalated_at"] == before["escalated_at"]
    assert [(t["subject"], t["team_id"]) for t in fetch_all(
        db, "SELECT subject, team_id FROM tickets WHERE conversation_id = %s ORDER BY id", conversation_id)] == \
        [("old", billing), ("x", technical)]
    note = fetch_one(db, "SELECT * FROM messages WHERE conversation_id = %s AND private", conversation_id)
    assert (note["text"], note["metadata"], note["status"]) == ("for tech", {"transfer_to": "Technical"}, "sent")


# --- private notes -----------------------------------------------------------------------------


def test_a_private_note_is_never_sent_nor_shown_to_the_customer(client, db, run_jobs, fake_twilio, billing, maya):
    web = add_web_channel(db, team_id=billing)
    session = widget_session(client, web.address)
    conversation_id = post_widget_message(client, session["visitor_token"], "Hello?").get_json()["conversation_id"]
    run_jobs()
    with db() as conn:
        conn.execute("UPDATE conversations SET status = 'queued', team_id = %s, escalated_at = now() WHERE id = %s",
                     (billing, conversation_id))

    noted = maya.act(conversation_id, "notes", {"text": "Customer is a reseller: check the contract"})
    run_jobs()

    assert noted.status_code == 201
    note = noted.get_json()["message"]
    assert (note["private"], note["sender"], note["status"]) == (True, "agent", "sent")
    transcript = client.get("/api/widget/messages", headers=bearer(session["visitor_token"])).get_json()
    assert "Customer is a reseller: check the contract" not in [m["text"] for m in transcript["messages"]]
    stored = fetch_one(db, "SELECT * FROM messages WHERE id = %s", note["id"])
    assert (stored["attempts"], stored["sent_at"], stored["provider_message_id"]) == (0, None, None)
    shown = maya.get(f"/api/agent/conversations/{conversation_id}").get_json()["messages"]
    assert [m["private"] for m in shown if m["id"] == note["id"]] == [True]


def test_a_private_note_on_whatsapp_never_reaches_twilio(db, run_jobs, fake_twilio, whatsapp, billing, maya):
    conversation_id = waiting_conversation(db, whatsapp, CUSTOMER, billing)
    assert maya.act(conversation_id, "notes", {"text": "internal only"}).status_code == 201
    run_jobs()
    assert fake_twilio.sent() == []


# --- resolve and reopen ------------------------------------------------------------------------


def test_resolve_closes_the_ticket_records_and_announces_it(db, redis, whatsapp, billing, maya, sam):
    conversation_id = waiting_conversation(db, whatsapp, CUSTOMER, billing, status="ticket")
    with db() as conn:
        contact_id = conversation_row(db, conversation_id)["contact_id"]
        conn.execute("INSERT INTO tickets (conversation_id, contact_id, team_id, subject) VALUES (%s, %s, %s, 'x')",
                     (conversation_id, contact_id, billing))
        conn.execute("INSERT INTO webhook_subscriptions (url, secret, events) "
                     "VALUES ('https://example.com/hook', 's', '{conversation.resolved}')")
    assert maya.act(conversation_id, "claim").status_code == 200
    assert sam.act(conversation_id, "resolve").status_code == 409  # Maya holds it
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(live.inbox_channel(redis))
    pubsub.get_message(timeout=1)

    resolved = maya.act(conversation_id, "resolve")

    assert resolved.status_code == 200
    row = conversation_row(db, conversation_id)
    assert row["status"] == "resolved" and row["resolved_at"] is not None
    assert fetch_one(db, "SELECT status FROM tickets WHERE conversation_id = %s", conversation_id)["status"] == "closed"
    (event,) = events(db, "conversation.resolved", conversation_id)
    assert event["agent_id"] == maya.id
    assert [d["event"] for d in fetch_all(db, "SELECT event FROM webhook_deliveries")] == ["conversation.resolved"]
    published = next_live_event(pubsub, "conversation.resolved")
    pubsub.close()
    assert published == {"type": "conversation.resolved", "conversation_id": conversation_id,
                         "team_id": billing, "agent_id": maya.id}
    assert maya.act(conversation_id, "resolve").status_code == 409


def test_reopen_assigns_to_whoever_reopens_unless_a_newer_conversation_is_open(db, whatsapp, billing, maya, sam):
    conversation_id = waiting_conversation(db, whatsapp, CUSTOMER, billing)
    assert maya.act(conversation_id, "claim").status_code == 200
    assert maya.act(conversation_id, "resolve").status_code == 200
    assert maya.act(conversation_id, "reopen").status_code == 200
    assert sam.act(conversation_id, "reopen").status_code == 409  # not resolved any more

    assert maya.act(conversation_id, "resolve").status_code == 200
    reopened = sam.act(conversation_id, "reopen")
    assert reopened.status_code == 200
    row = conversation_row(db, conversation_id)
    assert (row["status"], row["assignee_id"], row["resolved_at"]) == ("assigned", sam.id, None)
    assert row["first_agent_reply_at"] is not None  # Sam follows up: nobody waits in a queue

    assert sam.act(conversation_id, "resolve").status_code == 200
    newer = seed_conversation(db, whatsapp, CUSTOMER, [("customer", "Me again")])
    refused = sam.act(conversation_id, "reopen")
    assert refused.status_code == 409
    assert refused.get_json()["details"] == {"open_conversation_id": newer}
    assert conversation_row(db, conversation_id)["status"] == "resolved"


def test_a_reopened_bot_conversation_is_not_a_missed_chat(db, run_jobs, billing, maya):
    hybrid = add_whatsapp_channel(db, mode="hybrid", team_id=billing)
    conversation_id = seed_conversation(db, hybrid, CUSTOMER, [("customer", "spam?")], team_id=billing)
    assert maya.act(conversation_id, "resolve").status_code == 200
    assert maya.act(conversation_id, "reopen").status_code == 200

    assert tend_waiting() == {}  # the missed-chat ladder has nothing to do with it
    assert conversation_row(db, conversation_id)["assignee_id"] == maya.id


# --- presence ----------------------------------------------------------------------------------


def test_presence_is_set_renewed_by_the_heartbeat_and_expires(app, db, billing):
    maya = make_agent(app, db, "Maya Lopez", teams=(billing,), online=False)
    away = maya.post("/api/agent/presence", {"presence": "away"})
    assert away.status_code == 200
    assert (away.get_json()["presence"], away.get_json()["ttl_seconds"]) == ("away", 90)
    first_expiry = away.get_json()["expires_at"]

    renewed = maya.post("/api/agent/presence", {})
    assert renewed.get_json()["presence"] == "away"
    assert renewed.get_json()["expires_at"] > first_expiry

    with db() as conn:  # the heartbeat stopped
        conn.execute("UPDATE agents SET presence_expires_at = now() - interval '1 second' WHERE id = %s", (maya.id,))
    assert maya.get("/api/agent/me").get_json()["presence"] == "offline"
    # The inbox is back: its next heartbeat restores what the agent had chosen.
    assert maya.post("/api/agent/presence", {}).get_json()["presence"] == "away"
    offline = maya.post("/api/agent/presence", {"presence": "offline"}).get_json()
    assert (offline["presence"], offline["expires_at"]) == ("offline", None)
    # Each change the agent made is in the audit trail (an expiry is seen, not made).
    changes = [(e["detail"]["from"], e["detail"]["to"]) for e in events(db, "agent.presence")]
    assert changes == [("offline", "away"), ("offline", "away"), ("away", "offline")]


def test_coming_online_takes_queued_conversations_up_to_capacity(app, db, whatsapp):
    sales = team(db, "Sales", auto_assign=True)
    queued = [waiting_conversation(db, whatsapp, f"whatsapp:+1555000000{n}", sales, waited_seconds=600 - n)
              for n in range(3)]
    urgent = waiting_conversation(db, whatsapp, "whatsapp:+15550000099", sales, waited_seconds=5, priority="urgent")
    maya = make_agent(app, db, "Maya Lopez", teams=(sales,), online=False, capacity=2)

    online = maya.post("/api/agent/presence", {"presence": "online"}).get_json()

    assert online["assigned"] == [urgent, queued[0]]
    assignees = {row["id"]: row["assignee_id"] for row in fetch_all(db, "SELECT id, assignee_id FROM conversations")}
    assert assignees == {urgent: maya.id, queued[0]: maya.id, queued[1]: None, queued[2]: None}
    # A heartbeat while online takes nothing more (she is full anyway).
    assert maya.post("/api/agent/presence", {}).get_json()["assigned"] == []


def test_going_away_hands_back_unanswered_conversations(app, db, whatsapp, billing, maya):
    answered = waiting_conversation(db, whatsapp, "whatsapp:+15550000001", billing)
    unanswered = waiting_conversation(db, whatsapp, "whatsapp:+15550000002", billing)
    for conversation_id in (answered, unanswered):
        assert maya.act(conversation_id, "claim").status_code == 200
    with db() as conn:
        conn.execute("UPDATE conversations SET first_agent_reply_at = now() WHERE id = %s", (answered,))

    away = maya.post("/api/agent/presence", {"presence": "away"}).get_json()

    assert away["handed_back"] == [unanswered]
    assert conversation_row(db, answered)["assignee_id"] == maya.id
    row = conversation_row(db, unanswered)
    assert (row["status"], row["assignee_id"]) == ("queued", None)
    (event,) = events(db, "conversation.reassigned", unanswered)
    assert event["detail"]["reason"] == "assignee_away"


def test_going_offline_hands_to_an_online_teammate_in_an_auto_assign_team(app, db, whatsapp):
    sales = team(db, "Sales", auto_assign=True)
    maya = make_agent(app, db, "Maya Lopez", teams=(sales,))
    conversation_id = waiting_conversation(db, whatsapp, CUSTOMER, sales)
    assert maya.act(conversation_id, "claim").status_code == 200
    sam = make_agent(app, db, "Sam Ito", teams=(sales,))

    assert maya.post("/api/agent/presence", {"presence": "offline"}).get_json()["handed_back"] == [conversation_id]

    assert conversation_row(db, conversation_id)["assignee_id"] == sam.id


# --- tickets -----------------------------------------------------------------------------------


def open_ticket(db, channel, address: str, team_id: int, subject: str) -> tuple[int, int]:
    """(ticket number, conversation id) of a conversation waiting as a ticket."""
    conversation_id = waiting_conversation(db, channel, address, team_id, status="ticket")
    with db() as conn:
        contact_id = conversation_row(db, conversation_id)["contact_id"]
        number = conn.execute(
            "INSERT INTO tickets (conversation_id, contact_id, team_id, subject, due_at) "
            "VALUES (%s, %s, %s, %s, now() + interval '1 day') RETURNING number",
            (conversation_id, contact_id, team_id, subject)).fetchone()["number"]
    return number, conversation_id


def test_tickets_of_my_teams_are_listed_shown_and_closed(db, whatsapp, billing, technical, maya, tom):
    mine, conversation_id = open_ticket(db, whatsapp, "whatsapp:+15550000001", billing, "Refund for order 42")
    theirs, _ = open_ticket(db, whatsapp, "whatsapp:+15550000002", technical, "Cannot log in")

    listed = maya.get("/api/agent/tickets").get_json()["tickets"]
    assert [(t["number"], t["subject"], t["team"]) for t in listed] == [(mine, "Refund for order 42", "Billing")]
    assert maya.get(f"/api/agent/tickets/{mine}").get_json()["ticket"]["conversation_id"] == conversation_id
    assert maya.get(f"/api/agent/tickets/{theirs}").status_code == 403
    assert maya.get("/api/agent/tickets/999999").status_code == 404
    assert maya.get("/api/agent/tickets?status=bogus").status_code == 400

    closed = maya.post(f"/api/agent/tickets/{mine}/close")
    assert closed.status_code == 200
    assert closed.get_json()["ticket"]["status"] == "closed"
    # The conversation only waited on the ticket: it is resolved with it.
    assert conversation_row(db, conversation_id)["status"] == "resolved"
    assert maya.post(f"/api/agent/tickets/{mine}/close").status_code == 409
    assert maya.get("/api/agent/tickets").get_json()["tickets"] == []
    assert [t["number"] for t in maya.get("/api/agent/tickets?status=closed").get_json()["tickets"]] == [mine]


def test_closing_the_ticket_of_a_conversation_in_progress_leaves_the_conversation(db, whatsapp, billing, maya):
    number, conversation_id = open_ticket(db, whatsapp, CUSTOMER, billing, "Refund")
    assert maya.act(conversation_id, "claim").status_code == 200
    assert maya.post(f"/api/agent/tickets/{number}/close").status_code == 200
    assert conversation_row(db, conversation_id)["status"] == "assigned"
    assert [e["detail"] for e in events(db, "ticket.closed", conversation_id)] == [{"number": number}]

