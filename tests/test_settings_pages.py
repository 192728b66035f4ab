"""The settings pages in headless Chromium, as a new admin uses them: fix a
wrong Twilio token and see the failed send go out; remove the demo articles,
import your own and get answers from them; tune a threshold in the dry-run
box (a real `handoff worker` runs the job) and see the decision change;
deactivate an agent and see their open session refused. Every page is
screenshot at 1280 and 390 px wide (/tmp/settings-*.png) and every control
must have an accessible name.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from gateway.bot.articles import save_articles
from gateway.local.demo import sample_articles
from tests.helpers import (
    AGENT_EMAIL,
    AGENT_PASSWORD,
    TWILIO_SID,
    add_agent,
    add_messenger_channel,
    add_web_channel,
    add_whatsapp_channel,
    fetch_all,
    fetch_one,
    post_twilio,
    seed_conversation,
    whatsapp_form,
)

ADMIN = "boss@example.com"
RIGHT_TOKEN = "the-right-auth-token"
SHOP = "# Where is your shop?\n\nOur shop is at 1 Main Street, Lyon, open Monday to Saturday.\n"
WIDTHS = (1280, 390)
# Controls without an accessible name (a label, aria-label or text): none allowed.
UNNAMED_CONTROLS = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button')]
    .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.textContent.trim())
    .map(el => el.outerHTML.slice(0, 120))"""


@pytest.fixture
def boss(db):
    return add_agent(db, email=ADMIN, name="Boss", is_admin=True)


def log_in_as(browser, live_server, email: str, width: int = 1280):
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.problems = []
    page.on("console", lambda message: message.type == "error" and page.problems.append(message.text))
    page.on("pageerror", lambda error: page.problems.append(str(error)))
    page.goto(f"{live_server.url}/login")
    page.fill("#email", email)
    page.fill("#password", AGENT_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/inbox")
    return page


def look(page, name: str) -> None:
    """A screenshot to look at, no control without a name, no console error (a CSP violation is one;
    a form's refusal, a 400, is one too: call look() before, then clear them)."""
    page.screenshot(path=f"/tmp/settings-{name}-{page.viewport_size['width']}.png", full_page=True)
    assert page.evaluate(UNNAMED_CONTROLS) == [], name
    assert [problem for problem in page.problems if "status of 400" not in problem] == [], name


def test_every_settings_page_at_both_widths(live_server, browser, db, boss):
    whatsapp = add_whatsapp_channel(db, name="Support WhatsApp")
    messenger = add_messenger_channel(db, name="Shop page")
    web = add_web_channel(db)
    seed_conversation(db, whatsapp, "whatsapp:+15551230001", [("customer", "hello")])
    with db() as conn:
        save_articles(conn, sample_articles())
    article = fetch_one(db, "SELECT id FROM kb_articles ORDER BY id LIMIT 1")["id"]
    pages = {"channels": "/settings/channels", "whatsapp": f"/settings/channels/{whatsapp.id}",
             "messenger": f"/settings/channels/{messenger.id}", "widget": f"/settings/channels/{web.id}",
             "bot": "/settings/bot", "teams": "/settings/teams", "agents": "/settings/agents", "kb": "/settings/kb",
             "article": f"/settings/kb/{article}", "webhooks": "/settings/webhooks", "reports": "/reports"}
    for width in WIDTHS:
        page = log_in_as(browser, live_server, ADMIN, width)
        for name, path in pages.items():
            page.goto(live_server.url + path)
            look(page, name)
        page.context.close()


def test_a_wrong_twilio_token_is_flagged_and_fixing_it_sends_the_answer(live_server, browser, client, db, boss,
                                                                        fake_twilio, run_jobs):
    fake_twilio.require_token(TWILIO_SID, RIGHT_TOKEN)
    channel = add_whatsapp_channel(db, name="Support WhatsApp")  # saved with a typo'd token
    with db() as conn:
        save_articles(conn, sample_articles())
    post_twilio(client, "/webhooks/twilio/whatsapp", whatsapp_form(body="How long does shipping take?"))
    run_jobs()
    [reply] = fetch_all(db, "SELECT id, status, failed_for_auth FROM messages WHERE sender = 'bot'")
    assert (reply["status"], reply["failed_for_auth"]) == ("failed", True)

    page = log_in_as(browser, live_server, ADMIN)
    page.goto(f"{live_server.url}/settings/channels")
    banner = page.locator(".alert-danger", has_text="cannot send")
    assert "Authenticate" in banner.inner_text()
    page.click("text=Fix its credentials")
    page.click("button:has-text('Check credentials with Twilio')")
    assert "Twilio refused this Account SID and auth token" in page.locator(".alert-danger[role=status]").inner_text()
    look(page, "whatsapp-refused")

    page.fill("#cred-auth_token", RIGHT_TOKEN)
    page.click("button:has-text('Save credentials')")
    assert "1 message(s) that failed for authentication are being sent again" in page.locator(".flash").inner_text()
    run_jobs()
    assert fetch_one(db, "SELECT status FROM messages WHERE id = %s", reply["id"])["status"] == "queued"
    assert fake_twilio.sent()[-1]["Body"].count("3 to 5 business days") == 1
    page.reload()
    assert page.locator("text=cannot send").count() == 0
    page.click("button:has-text('Check credentials with Twilio')")
    assert "Twilio accepts these credentials" in page.locator(".alert-ok").inner_text()
    assert RIGHT_TOKEN not in page.content()  # a secret is never shown again
    look(page, "whatsapp-fixed")
    assert fetch_one(db, "SELECT auth_failed_at FROM channels WHERE id = %s", channel.id)["auth_failed_at"] is None


def test_the_demo_articles_go_and_the_bot_answers_from_yours(live_server, browser, client, db, boss, run_jobs,
                                                             tmp_path, fake_twilio):
    add_whatsapp_channel(db)
    with db() as conn:
        save_articles(conn, sample_articles())
    (tmp_path / "our-shop.md").write_text(SHOP)

    page = log_in_as(browser, live_server, ADMIN)
    page.goto(f"{live_server.url}/settings/kb")
    page.click(f"button:has-text('Remove the {len(sample_articles())} demo articles')")
    assert "the bot now answers from yours only" in page.locator(".flash").inner_text()
    page.set_input_files("#files", str(tmp_path / "our-shop.md"))
    page.click("button:has-text('Import')")
    assert "Imported 1 new article(s)" in page.locator(".flash").inner_text()
    assert [row["source"] for row in fetch_all(db, "SELECT source FROM kb_articles")] == [
        "our-shop.md#Where is your shop?"]
    look(page, "kb-replaced")

    post_twilio(client, "/webhooks/twilio/whatsapp", whatsapp_form(body="where is your shop?"))
    run_jobs()
    assert "1 Main Street, Lyon" in fake_twilio.sent()[-1]["Body"]


@pytest.fixture
def worker(config, database_url, redis_url):
    """A real `handoff worker`, as production runs it (the dry-run box's job needs one)."""
    env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=redis_url, SECRET_KEY=config.secret_key,
               PUBLIC_URL=config.public_url, TWILIO_API_BASE_URL=config.twilio_api_base_url)
    # Its own session: RQ signals its work-horses' process group, which must not be pytest's.
    process = subprocess.Popen([sys.executable, "-m", "gateway.cli", "worker"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    yield process
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)


def test_the_dry_run_box_shows_a_threshold_change_before_it_is_saved(live_server, browser, db, boss, worker):
    page = log_in_as(browser, live_server, ADMIN)
    page.goto(f"{live_server.url}/settings/bot")
    page.fill("#turns", "This is so frustrating, nothing works")
    page.click("button:has-text('Try these settings')")
    assert page.locator(".alert-danger").count() == 0, page.locator(".alert-danger").inner_text()
    first = page.locator(".dry-run-result tbody tr").first
    assert "offering a person (frustration)" in first.inner_text()

    page.fill("#frustration_threshold", "0.9")
    page.click("button:has-text('Try these settings')")
    decision = page.locator(".dry-run-result tbody tr").first.locator("td").nth(2).inner_text()
    assert decision.startswith("Answer") and "offering" not in decision
    assert page.input_value("#frustration_threshold") == "0.9"  # the form keeps what was typed
    look(page, "bot-dry-run")
    assert fetch_all(db, "SELECT key FROM settings WHERE key = 'bot'") == []  # a dry run saves nothing

    page.click("button:has-text('Save the bot settings')")
    assert "frustration changed" in page.locator(".flash").inner_text()
    stored = fetch_one(db, "SELECT value FROM settings WHERE key = 'bot'")["value"]
    assert stored["frustration"]["threshold"] == 0.9
    assert stored["urgent_topics"][0]["name"] == "fraud"  # the rest of the document is kept as it was


def test_deactivating_an_agent_refuses_their_open_session(live_server, browser, db, boss):
    add_agent(db, email=AGENT_EMAIL, name="Ada Agent")
    agent_page = log_in_as(browser, live_server, AGENT_EMAIL)
    assert agent_page.goto(f"{live_server.url}/settings/channels").status == 403  # not an admin

    admin_page = log_in_as(browser, live_server, ADMIN)
    admin_page.goto(f"{live_server.url}/settings/agents")
    admin_page.click("button[aria-label='Deactivate Ada Agent']")
    assert "Ada Agent is deactivated" in admin_page.locator(".flash").inner_text()
    look(admin_page, "agents-deactivated")

    agent_page.goto(f"{live_server.url}/inbox")
    assert agent_page.url.startswith(f"{live_server.url}/login")
    agent_page.fill("#email", AGENT_EMAIL)
    agent_page.fill("#password", AGENT_PASSWORD)
    agent_page.click("button[type=submit]")
    assert "Wrong email or password" in agent_page.content()


def test_setting_up_the_three_channels_in_the_browser(live_server, browser, db, boss):
    page = log_in_as(browser, live_server, ADMIN)
    page.goto(f"{live_server.url}/settings/channels")
    page.click("summary:has-text('Add WhatsApp')")
    page.fill("#add-whatsapp-name", "Support WhatsApp")
    page.fill("#add-whatsapp-address", "+1 415 523 8886")
    page.fill("#add-whatsapp-account_sid", "AC" + "2" * 32)
    page.fill("#add-whatsapp-auth_token", "tok")
    page.click("button:has-text('Add WhatsApp')")
    assert "paste its webhook URLs" in page.locator(".flash").inner_text()
    assert page.input_value("#url-1") == "https://handoff.example.com/webhooks/twilio/whatsapp"

    page.goto(f"{live_server.url}/settings/channels")
    page.click("summary:has-text('Add Messenger')")
    page.fill("#add-messenger-name", "Shop page")
    page.fill("#add-messenger-address", "not a number")
    page.fill("#add-messenger-page_token", "page-token")
    page.fill("#add-messenger-app_secret", "app-secret")
    page.click("button:has-text('Add Messenger')")
    assert "a Facebook Page ID is a number" in page.locator(".alert-danger").inner_text()
    look(page, "messenger-refused")
    page.problems.clear()  # the refusal's 400 is the browser's "error"
    page.fill("#add-messenger-address", "104955512345678")
    page.fill("#add-messenger-page_token", "page-token")
    page.fill("#add-messenger-app_secret", "app-secret")
    page.click("button:has-text('Add Messenger')")
    assert page.input_value("#url-1") == "https://handoff.example.com/webhooks/messenger"

    page.goto(f"{live_server.url}/settings/channels")
    page.click("summary:has-text('Add Web chat')")
    page.fill("#add-web-name", "Website")
    page.click("button:has-text('Add Web chat')")
    snippet = page.input_value("#snippet")
    assert snippet.startswith('<script src="https://handoff.example.com/widget.js" data-key="wk_')
    look(page, "widget-added")
    rows = fetch_all(db, "SELECT kind, address FROM channels ORDER BY id")
    assert [row["kind"] for row in rows] == ["whatsapp", "messenger", "web"]
    assert rows[0]["address"] == "whatsapp:+14155238886"
