"""The read-only agent inbox: the conversation list, one conversation, escaping.

The last test drives the real app in headless Chromium (Debian's, through
Playwright) with hostile customer text.
"""

import re
from datetime import datetime, timedelta, timezone

import pytest

from gateway.store.channels import create_channel
from gateway.store.events import record_event
from tests.helpers import (
    AGENT_EMAIL,
    AGENT_PASSWORD,
    add_agent,
    add_messenger_channel,
    add_whatsapp_channel,
    log_in,
    seed_conversation,
)

SCREENSHOT = "/tmp/inbox.png"
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
HOSTILE = f"Hi {SCRIPT} and {IMG} & \"quotes\" 'too'"


def add_web_channel(db, name: str = "Website"):
    with db() as conn:
        return create_channel(conn, kind="web", name=name, address="pk_test_widget", credentials={})


@pytest.fixture
def agent(db):
    return add_agent(db)


@pytest.fixture
def agent_client(client, agent):
    assert log_in(client).status_code == 303
    return client


def html_of(response) -> str:
    return response.get_data(as_text=True)


def ago(**delta) -> datetime:
    return datetime.now(timezone.utc) - timedelta(**delta)


# --- Access -------------------------------------------------------------------------------------

def test_inbox_pages_need_a_login(client, db):
    conversation_id = seed_conversation(db, add_whatsapp_channel(db), "whatsapp:+15551230001", [("customer", "hi")])
    for path in ("/inbox", "/inbox?status=bot", f"/inbox/conversations/{conversation_id}"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/login?next=/inbox")


def test_root_goes_to_the_inbox(client):
    assert client.get("/").headers["Location"] == "/inbox"


# --- The list -------------------------------------------------------------------------------------

def test_inbox_lists_conversations_most_recent_first(agent_client, db):
    whatsapp = add_whatsapp_channel(db, name="Support WhatsApp")
    messenger = add_messenger_channel(db, name="Shop Page")
    seed_conversation(db, whatsapp, "whatsapp:+15551230001", [("customer", "Where is my order?")],
                      profile_name="Old Olga", phone="+15551230001", last_message_at=ago(days=3))
    seed_conversation(db, messenger, "psid-1", [("customer", "Hello"), ("bot", "Hi! How can I help?")],
                      profile_name="Newest Nora", status="queued", last_message_at=ago(minutes=5))
    seed_conversation(db, whatsapp, "whatsapp:+15551230002", [("customer", "x" * 500)],
                      profile_name="Middle Max", email="max@example.com", phone="+15551230002",
                      status="ticket", last_message_at=ago(hours=2))

    html = html_of(agent_client.get("/inbox"))

    assert html.index("Newest Nora") < html.index("Middle Max") < html.index("Old Olga")
    assert "Shop Page" in html and "Support WhatsApp" in html
    assert "+15551230001" in html
    assert '<span class="badge badge-queued">queued</span>' in html
    assert '<span class="badge badge-ticket">ticket</span>' in html
    assert "Bot:</span>" in html and "Hi! How can I help?" in html  # who wrote the last message
    assert "x" * 119 + "…" in html and "x" * 120 not in html  # the preview is cut short
    assert ">5 min<" in html and ">2 h<" in html


def test_inbox_filters_by_status_and_counts(agent_client, db):
    channel = add_whatsapp_channel(db)
    seed_conversation(db, channel, "whatsapp:+15551230001", [("customer", "in the queue")],
                      profile_name="Queued Quinn", status="queued")
    seed_conversation(db, channel, "whatsapp:+15551230002", [("customer", "bot handles me")], profile_name="Bot Bea")
    seed_conversation(db, channel, "whatsapp:+15551230003", [("customer", "me too")], profile_name="Bot Ben")

    html = html_of(agent_client.get("/inbox?status=queued"))
    assert "Queued Quinn" in html and "Bot Bea" not in html
    assert re.search(r'aria-current="page">\s*<span class="badge badge-queued">queued</span><span class="count">1</span>',
                     html)
    assert re.search(r'<span class="badge badge-bot">bot</span><span class="count">2</span>', html)
    assert re.search(r"<span>All</span><span class=\"count\">3</span>", html)

    assert "No conversations are resolved right now." in html_of(agent_client.get("/inbox?status=resolved"))
    assert agent_client.get("/inbox?status=nonsense").status_code == 400


def test_inbox_pages_through_older_conversations(agent_client, db):
    channel = add_whatsapp_channel(db)
    for n in range(52):
        seed_conversation(db, channel, f"whatsapp:+1555000{n:04d}", [("customer", f"message {n}")],
                          profile_name=f"Person {n:02d}", last_message_at=ago(minutes=n))

    first = html_of(agent_client.get("/inbox"))
    assert "Person 00" in first and "Person 49" in first and "Person 50" not in first
    older = re.search(r'href="(/inbox\?before=\d+)"', first)
    assert older, "no link to older conversations"

    second = html_of(agent_client.get(older.group(1)))
    assert "Person 50" in second and "Person 51" in second and "Person 49" not in second
    assert "Older conversations" not in second


def test_empty_inbox(agent_client):
    assert "No conversations yet." in html_of(agent_client.get("/inbox"))


# --- One conversation -----------------------------------------------------------------------------

def test_conversation_shows_the_whole_story(agent_client, db, agent):
    whatsapp = add_whatsapp_channel(db, name="Support WhatsApp")
    web = add_web_channel(db)
    conversation_id = seed_conversation(
        db, whatsapp, "whatsapp:+15551230001",
        [
            ("customer", "My parcel never arrived"),
            {"sender": "bot", "text": "Sorry to hear that! Can you give me the order number?",
             "bot_confidence": 0.82, "status": "delivered"},
            {"sender": "customer", "text": "", "attachments": [
                {"url": "https://api.twilio.com/media/ME1", "content_type": "image/jpeg", "kind": "image"}]},
            {"sender": "system", "text": "Escalated to a human: the customer asked for one"},
            {"sender": "agent", "agent_id": agent["id"], "text": "I'm on it.", "status": "read"},
            {"sender": "agent", "agent_id": agent["id"], "text": "Check the courier", "private": True,
             "status": "pending"},
            {"sender": "agent", "agent_id": agent["id"], "text": "Are you still there?", "status": "failed",
             "error_code": "63016", "error_message": "Outside the 24-hour window"},
        ],
        profile_name="Ada Lovelace", phone="+15551230001", status="assigned", assignee_id=agent["id"],
        escalation_reason="customer asked for a human", collected={"order_number": "A-1042"},
    )
    earlier = seed_conversation(db, web, "visitor-42", [("customer", "Do you ship to Canada?")],
                                phone="+15551230001", status="resolved", last_message_at=ago(days=40))
    with db() as conn:
        record_event(conn, "trigger.fired", conversation_id=conversation_id,
                     detail={"trigger": "human_request", "matched": "a human"})
        record_event(conn, "conversation.assigned", conversation_id=conversation_id, agent_id=agent["id"],
                     detail={"reason": "claimed"})

    response = agent_client.get(f"/inbox/conversations/{conversation_id}")
    html = html_of(response)

    assert response.status_code == 200
    assert "<h1>Ada Lovelace</h1>" in html
    assert '<span class="badge badge-assigned">assigned</span>' in html
    assert "assigned to Ada Agent" in html and "customer asked for a human" in html
    # Each sender styled on its own.
    for sender in ("customer", "bot", "agent", "system"):
        assert f'class="msg msg-{sender}' in html
    assert "msg msg-agent msg-private" in html and "private note" in html
    # Bot confidence and delivery statuses.
    assert "confidence 82%" in html
    assert 'class="delivery delivery-delivered">delivered<' in html
    assert 'class="delivery delivery-read">read<' in html
    # The failed message is flagged with its error code.
    assert "msg msg-agent msg-failed" in html
    assert "<strong>Failed</strong> · error 63016: Outside the 24-hour window" in html
    # Attachments link to http(s) only.
    assert 'href="https://api.twilio.com/media/ME1"' in html and "image (image/jpeg)" in html
    # Contact panel: identities on every channel and the other conversation.
    assert "whatsapp:+15551230001" in html and "visitor-42" in html and "Website" in html
    assert f'href="/inbox/conversations/{earlier}"' in html and "Do you ship to Canada?" in html
    assert "order_number" in html and "A-1042" in html
    # Events with their details.
    assert "trigger.fired" in html and "human_request" in html
    assert "conversation.assigned" in html and "by Ada Agent" in html


def test_an_escalated_conversation_shows_why_its_summary_and_its_ticket(agent_client, db):
    channel = add_whatsapp_channel(db)
    conversation_id = seed_conversation(
        db, channel, "whatsapp:+15551230001", [("customer", "I want to talk to a person about my refund")],
        status="ticket", escalation_reason="human_request",
        handoff_packet={"trigger": {"rule": "human_request", "explanation": "The customer asked for a person"},
                        "summary": {"text": 'The customer wrote: "I want to talk to a person about my refund".',
                                    "by": "extractive"}})
    with db() as conn:
        contact_id = conn.execute("SELECT contact_id FROM conversations").fetchone()["contact_id"]
        conn.execute("INSERT INTO tickets (conversation_id, contact_id, subject, email, due_at) "
                     "VALUES (%s, %s, 'Refund', 'ann@example.com', '2026-11-23 17:00+00')", (conversation_id, contact_id))

    html = html_of(agent_client.get(f"/inbox/conversations/{conversation_id}"))

    assert "<strong>Escalated:</strong> The customer asked for a person" in html
    assert "The customer wrote: &#34;I want to talk to a person about my refund&#34;." in html
    assert "<strong>Ticket #1001</strong> · open · due" in html and "replies also to ann@example.com" in html


def test_unknown_conversation_is_a_404_page(agent_client):
    response = agent_client.get("/inbox/conversations/999999")
    assert response.status_code == 404
    assert "Conversation not found" in html_of(response)
    assert agent_client.get("/inbox/conversations/not-a-number").status_code == 404


def test_customer_text_is_escaped_everywhere(agent_client, db):
    channel = add_whatsapp_channel(db, name=f"Chan {IMG}")
    conversation_id = seed_conversation(
        db, channel, f"whatsapp:+15551230001{SCRIPT}",
        [
            ("customer", HOSTILE),
            {"sender": "customer", "text": IMG, "payload": SCRIPT, "attachments": [
                {"url": "javascript:alert(1)", "kind": IMG, "content_type": SCRIPT}]},
            {"sender": "bot", "text": "ok", "status": "failed", "error_code": SCRIPT, "error_message": IMG},
        ],
        profile_name=f"Eve {SCRIPT}", status="ticket", escalation_reason=IMG, collected={SCRIPT: IMG},
        handoff_packet={"trigger": {"explanation": SCRIPT}, "summary": {"text": IMG, "by": "extractive"}},
    )
    with db() as conn:
        conn.execute("UPDATE contacts SET attributes = %s::jsonb",
                     ('{"<b>plan</b>": "<script>alert(1)</script>"}',))
        record_event(conn, "trigger.fired", conversation_id=conversation_id,
                     detail={"matched": SCRIPT, "nested": {"html": IMG}})
        contact_id = conn.execute("SELECT contact_id FROM conversations").fetchone()["contact_id"]
        conn.execute("INSERT INTO tickets (conversation_id, contact_id, subject, email) VALUES (%s, %s, %s, %s)",
                     (conversation_id, contact_id, SCRIPT, f"{IMG}@example.com"))

    for path in ("/inbox", f"/inbox/conversations/{conversation_id}"):
        html = html_of(agent_client.get(path))
        assert SCRIPT not in html, path
        assert IMG not in html, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path
        assert "javascript:" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<b>plan</b>" not in html and "&lt;b&gt;plan&lt;/b&gt;" in html


# --- In a real browser ---------------------------------------------------------------------------

def test_browser_logs_in_and_shows_hostile_text_literally(live_server, browser, db, agent):
    whatsapp = add_whatsapp_channel(db, name="Support WhatsApp")
    web = add_web_channel(db)
    hostile = seed_conversation(
        db, whatsapp, "whatsapp:+15551230001",
        [
            ("customer", "<script>alert(1)</script>"),
            ("customer", "<img src=x onerror=alert(1)>"),
            {"sender": "customer", "text": "<img src=x onerror=\"window.__pwned = true\">", "attachments": [
                {"url": "javascript:alert(1)", "kind": "file"}]},
            {"sender": "bot", "text": "I can help with orders, returns and shipping. What is your order number?",
             "bot_confidence": 0.41, "status": "delivered", "created_at": ago(minutes=3)},
            {"sender": "system", "text": "Handed off to a human: low confidence twice"},
            {"sender": "agent", "agent_id": agent["id"], "text": "Hi Ada, I'm looking into it now.",
             "status": "read"},
            {"sender": "agent", "agent_id": agent["id"], "text": "Courier says it's in the depot.",
             "private": True, "status": "pending"},
            {"sender": "agent", "agent_id": agent["id"], "text": "Could you confirm your address?",
             "status": "failed", "error_code": "63016",
             "error_message": "Failed to send freeform message because you are outside the allowed window"},
        ],
        profile_name="Ada <b>Lovelace</b>", phone="+15551230001", status="assigned", assignee_id=agent["id"],
        escalation_reason="low confidence twice", collected={"order_number": "A-1042"},
    )
    seed_conversation(db, web, "visitor-42", [("customer", "Do you ship to Canada?")], phone="+15551230001",
                      status="resolved", last_message_at=ago(days=12))
    seed_conversation(db, whatsapp, "whatsapp:+15551230009", [("customer", "Refund for order 77?")],
                      profile_name="Grace Hopper", status="queued")
    with db() as conn:
        record_event(conn, "trigger.fired", conversation_id=hostile,
                     detail={"trigger": "low_confidence", "streak": 2})
        record_event(conn, "message.failed", conversation_id=hostile,
                     detail={"status": "failed", "error_code": "63016"})

    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    dialogs, csp_violations = [], []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("console", lambda message: csp_violations.append(message.text)
            if "Content Security Policy" in message.text else None)

    page.goto(f"{live_server.url}/inbox/conversations/{hostile}")
    assert page.url == f"{live_server.url}/login?next=/inbox/conversations/{hostile}"
    page.fill("#email", AGENT_EMAIL)
    page.fill("#password", AGENT_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/inbox/conversations/{hostile}")

    texts = page.locator(".msg-customer .msg-text").all_inner_texts()
    assert texts[:2] == ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>"]
    assert page.locator("h1").inner_text() == "Ada <b>Lovelace</b>"
    assert page.locator(".msg-text img, .msg-text script, h1 b").count() == 0
    assert page.locator("a[href^='javascript']").count() == 0
    assert page.locator(".delivery-failed").inner_text().startswith("Failed · error 63016")
    page.wait_for_timeout(300)  # let any onerror fire, if one had been parsed
    assert page.evaluate("window.__pwned") is None
    assert dialogs == []
    assert csp_violations == []
    page.screenshot(path=SCREENSHOT, full_page=True)

    page.goto(f"{live_server.url}/inbox")
    assert page.locator(".conv-row").count() == 3
    assert page.locator(".conv-row").first.locator(".conv-name").inner_text() == "Grace Hopper"
    assert dialogs == [] and csp_violations == []

    page.click("button:has-text('Log out')")
    page.wait_for_url(f"{live_server.url}/login")
    page.goto(f"{live_server.url}/inbox")
    assert page.url.startswith(f"{live_server.url}/login")


def test_contacts_are_named_by_the_best_thing_known_about_them():
    from gateway.web.filters import contact_label

    assert contact_label({"contact_name": "Ada", "contact_phone": "+15551230001"}) == "Ada"
    assert contact_label({"contact_name": None, "contact_phone": "+15551230001"}) == "+15551230001"
    assert contact_label({"identity_address": "v_39affea266b348858954e7611b4e0c85"}) == "Visitor 39affe"
    assert contact_label({"identity_address": "2345678901"}) == "2345678901"  # a Messenger PSID
    assert contact_label({}) == "Unknown contact"
