"""One permission rule (gateway/desk/access.py) for every inbox page and
fragment, the agent API and the agent stream: an agent who is only in the
Technical team sees nothing of a Billing conversation (not its customer's
name, words, private notes or contact), wherever they look; an admin sees
it everywhere.

The walk takes every GET route of the inbox blueprint from the app's URL
map, so a page or fragment added later is walked too (or the test says
which argument it does not know how to fill).
"""

import pytest

from tests.agents import make_agent, team, waiting_conversation
from tests.helpers import add_whatsapp_channel, fetch_one, seed_conversation

CUSTOMER_NAME = "Ana Billingsley"
CUSTOMER_WORDS = "Refund for order 4521 please"
PRIVATE_NOTE = "Note: Ana is a repeat refunder"
OTHER_CHANNEL_WORDS = "Earlier question about invoice 77"


@pytest.fixture
def billing_conversation(db):
    billing, technical = team(db, "Billing"), team(db, "Technical")
    whatsapp = add_whatsapp_channel(db)
    conversation_id = waiting_conversation(db, whatsapp, "whatsapp:+15550001111", billing, text=CUSTOMER_WORDS)
    contact_id = fetch_one(db, "SELECT contact_id FROM conversations WHERE id = %s", conversation_id)["contact_id"]
    with db() as conn:
        conn.execute("UPDATE contacts SET name = %s WHERE id = %s", (CUSTOMER_NAME, contact_id))
        conn.execute("INSERT INTO messages (conversation_id, channel_id, direction, sender, text, private, status) "
                     "VALUES (%s, %s, 'outbound', 'agent', %s, true, 'sent')",
                     (conversation_id, whatsapp.id, PRIVATE_NOTE))
    return {"id": conversation_id, "billing": billing, "technical": technical, "channel": whatsapp}


def inbox_urls(app, conversation_id: int) -> list[str]:
    """Every GET route of the inbox pages, filled in for this conversation."""
    known = {"conversation_id": conversation_id}
    urls = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("inbox.") or "GET" not in rule.methods:
            continue
        unknown = set(rule.arguments) - set(known)
        assert not unknown, f"{rule.rule}: the access walk does not know how to fill {sorted(unknown)}"
        urls.append(rule.build({name: known[name] for name in rule.arguments})[1])
    return urls


def page(agent, url: str):
    response = agent.client.get(url)
    if response.status_code in (301, 302, 308):
        response = agent.client.get(response.headers["Location"])
    return response.status_code, response.get_data(as_text=True)


def test_an_agent_of_another_team_sees_nothing_of_it_on_any_inbox_page(app, db, billing_conversation):
    tom = make_agent(app, db, "Tom Technical", teams=(billing_conversation["technical"],), session=True)
    urls = inbox_urls(app, billing_conversation["id"])
    assert "/inbox" in urls and f"/inbox/conversations/{billing_conversation['id']}" in urls
    for url in urls:
        status, html = page(tom, url)
        assert status in (200, 403), url
        for secret in (CUSTOMER_NAME, CUSTOMER_WORDS, PRIVATE_NOTE):
            assert secret not in html, f"{url} shows {secret!r} to an agent of another team"
    status, html = page(tom, f"/inbox/conversations/{billing_conversation['id']}")
    assert status == 403 and "belongs to a team you are not in" in html


def test_an_admin_sees_it_on_every_inbox_page(app, db, billing_conversation):
    ada = make_agent(app, db, "Ada Admin", admin=True, session=True)
    _, listing = page(ada, "/inbox")
    assert CUSTOMER_NAME in listing
    status, html = page(ada, f"/inbox/conversations/{billing_conversation['id']}")
    assert status == 200
    for secret in (CUSTOMER_NAME, CUSTOMER_WORDS, PRIVATE_NOTE):
        assert secret in html
    for url in inbox_urls(app, billing_conversation["id"]):
        assert page(ada, url)[0] == 200, url


def test_a_member_of_the_team_sees_it_and_the_counts_follow_the_rule(app, db, billing_conversation):
    bea = make_agent(app, db, "Bea Billing", teams=(billing_conversation["billing"],), session=True)
    tom = make_agent(app, db, "Tom Technical", teams=(billing_conversation["technical"],), session=True)
    assert CUSTOMER_NAME in page(bea, "/inbox")[1]
    assert page(bea, f"/inbox/conversations/{billing_conversation['id']}")[0] == 200
    assert '<span class="count">1</span>' in page(bea, "/inbox?status=queued")[1]
    assert '<span class="count">1</span>' not in page(tom, "/inbox?status=queued")[1]


def test_a_conversation_of_no_team_or_assigned_to_the_agent_is_visible(app, db, billing_conversation):
    tom = make_agent(app, db, "Tom Technical", teams=(billing_conversation["technical"],), session=True)
    teamless = seed_conversation(db, billing_conversation["channel"], "whatsapp:+15550002222",
                                 [("customer", "A question nobody routed")])
    assert page(tom, f"/inbox/conversations/{teamless}")[0] == 200
    with db() as conn:
        conn.execute("UPDATE conversations SET status = 'assigned', assignee_id = %s WHERE id = %s",
                     (tom.id, billing_conversation["id"]))
    status, html = page(tom, f"/inbox/conversations/{billing_conversation['id']}")
    assert status == 200 and CUSTOMER_WORDS in html


def test_the_contact_history_lists_only_conversations_the_agent_may_open(app, db, billing_conversation):
    """The same customer wrote on another channel too, to Technical: Tom sees
    that conversation and, beside it, not the Billing one (its words are Billing's)."""
    tom = make_agent(app, db, "Tom Technical", teams=(billing_conversation["technical"],), session=True)
    ada = make_agent(app, db, "Ada Admin", admin=True, session=True)
    contact_id = fetch_one(db, "SELECT contact_id FROM conversations WHERE id = %s",
                           billing_conversation["id"])["contact_id"]
    web = add_whatsapp_channel(db, number="whatsapp:+14155550000", name="Second number",
                               team_id=billing_conversation["technical"])
    technical_one = seed_conversation(db, web, "whatsapp:+15550001111", [("customer", OTHER_CHANNEL_WORDS)])
    with db() as conn:
        conn.execute("UPDATE conversations SET contact_id = %s WHERE id = %s", (contact_id, technical_one))
    status, html = page(tom, f"/inbox/conversations/{technical_one}")
    assert status == 200 and OTHER_CHANNEL_WORDS in html
    assert CUSTOMER_WORDS not in html
    assert CUSTOMER_WORDS in page(ada, f"/inbox/conversations/{technical_one}")[1]
    api = tom.get(f"/api/agent/conversations/{technical_one}").get_json()
    assert [other["id"] for other in api["contact"]["conversations"]] == []


def test_the_agent_api_answers_by_the_same_rule(app, db, billing_conversation):
    tom = make_agent(app, db, "Tom Technical", teams=(billing_conversation["technical"],))
    ada = make_agent(app, db, "Ada Admin", admin=True)
    conversation_id = billing_conversation["id"]
    assert tom.get(f"/api/agent/conversations/{conversation_id}").status_code == 403
    assert ada.get(f"/api/agent/conversations/{conversation_id}").status_code == 200
    assert tom.act(conversation_id, "claim").status_code == 403
    waiting = tom.get("/api/agent/queue").get_json()["waiting"]
    assert conversation_id not in [row["id"] for row in waiting]
