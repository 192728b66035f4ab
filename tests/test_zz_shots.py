from tests.helpers import AGENT_EMAIL, AGENT_PASSWORD, add_agent, add_whatsapp_channel, add_web_channel, seed_conversation

def test_shots(live_server, browser, db):
    add_agent(db, is_admin=True)
    wa = add_whatsapp_channel(db, name="Support WhatsApp")
    add_web_channel(db)
    seed_conversation(db, wa, "whatsapp:+15551230001", [("customer","where is your shop?")])
    for width in (1280, 390):
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto(f"{live_server.url}/login")
        page.fill("#email", AGENT_EMAIL); page.fill("#password", AGENT_PASSWORD); page.click("button[type=submit]")
        page.wait_for_url("**/inbox")
        for name, path in [("channels", "/settings/channels"), ("channel", f"/settings/channels/{wa.id}"), ("bot", "/settings/bot"), ("reports", "/reports")]:
            page.goto(live_server.url + path)
            page.screenshot(path=f"/tmp/shot-{name}-{width}.png", full_page=True)
            if width == 390:
                for index in range(min(3, page.evaluate("document.body.scrollHeight") // 800)):
                    page.screenshot(path=f"/tmp/shot-{name}-{width}-{index}.png", full_page=True,
                                    clip={"x": 0, "y": index * 800, "width": 390, "height": 800})
        page.close()
