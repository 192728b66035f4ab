import re
from tests.helpers import add_agent, log_in, add_whatsapp_channel, add_messenger_channel, add_web_channel, seed_conversation

def test_smoke(client, db):
    add_agent(db, is_admin=True)
    assert log_in(client).status_code == 303
    wa = add_whatsapp_channel(db)
    add_messenger_channel(db); add_web_channel(db)
    seed_conversation(db, wa, "whatsapp:+15551230001", [("customer","where is your shop?"), {"sender":"bot","text":"dunno","bot_confidence":0.1,"reply_to_id":None}])
    for path in ["/settings/channels", f"/settings/channels/{wa.id}", "/settings/channels/2", "/settings/channels/3", "/settings/bot", "/settings/teams", "/settings/agents", "/settings/kb", "/settings/kb/new?title=x", "/settings/webhooks", "/reports", "/reports/figures.csv", "/reports/conversations.csv", "/api/admin/reports"]:
        r = client.get(path)
        body = r.get_data(as_text=True)
        assert r.status_code == 200, (path, body[-3000:])
