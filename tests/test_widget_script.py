"""/widget.js: the chat widget a business embeds in its own website, served,
then used in a real browser from a page on another origin."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import pytest

from gateway import live
from tests.conftest import PUBLIC_URL
from tests.helpers import (
    LiveServer,
    add_agent,
    add_article,
    add_web_channel,
    fetch_all,
    fetch_one,
)
from tests.test_demo_page import SHIPPING, XSS, send

STATIC = Path(__file__).resolve().parent.parent / "gateway" / "web" / "static"
ONLINE = "Online · we usually answer at once"
# What a careless (or hostile) site's stylesheet does to everything it can reach.
HOSTILE_CSS = """
head { display: none !important; }
* { color: red !important; display: inline !important; font-size: 40px !important; line-height: 3 !important; }
html, body { display: block !important; }
button, textarea, ol, li, section, header, form { all: unset !important; background: lime !important;
  position: static !important; width: 10px !important; height: 10px !important; }
handoff-chat, body > :last-child { display: none !important; opacity: 0 !important; visibility: hidden !important; }
:root { --hc-brand: red; }
"""


# --- the file ----------------------------------------------------------------------------


def test_widget_js_is_javascript_with_short_caching_and_an_etag(client):
    response = client.get("/widget.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.mimetype_params["charset"] == "utf-8"
    assert response.cache_control.public
    assert response.cache_control.max_age == 300
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    etag = response.headers["ETag"]

    unchanged = client.get("/widget.js", headers={"If-None-Match": etag})
    assert unchanged.status_code == 304
    assert unchanged.data == b""
    assert unchanged.headers["ETag"] == etag

    changed = client.get("/widget.js", headers={"If-None-Match": '"an-older-widget"'})
    assert changed.status_code == 200
    assert changed.data == response.data


def test_widget_js_is_the_shared_chat_client_then_the_launcher(client):
    script = client.get("/widget.js").get_data(as_text=True)
    chat_client = (STATIC / "widget" / "chat-client.js").read_text(encoding="utf-8").strip()
    launcher = (STATIC / "widget" / "widget-launcher.js").read_text(encoding="utf-8").strip()
    assert chat_client in script
    assert launcher in script
    assert script.index(chat_client) < script.index(launcher)

    # /demo has no chat client of its own: it embeds this widget.
    with client.get("/static/demo.js") as response:
        demo = response.get_data(as_text=True)
    assert "/api/widget" not in demo
    assert "EventSource" not in demo
    # Markup is never parsed from a string, so no text can become HTML.
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script


def test_widget_js_is_one_file_for_every_site_and_holds_no_secret(client, config, db):
    channel = add_web_channel(db)
    script = client.get("/widget.js").get_data(as_text=True)
    for secret in (config.secret_key, config.database_url, config.redis_url, "postgresql://", "redis://"):
        assert secret not in script
    # No key and no URL of this deployment: the tag gives the key, the script's src the API.
    assert channel.address not in script
    assert PUBLIC_URL not in script


# --- on another website, in a real browser -----------------------------------------------


def host_page(widget_src: str, widget_key: str, extra: str = "") -> bytes:
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Acme Shoes</title>
  <link rel="icon" href="data:,">
  <style>{HOSTILE_CSS}</style>
</head>
<body>
  <h1>Acme Shoes</h1>
  <p id="host-text" class="launcher panel msg-text">Our widget's styles must not reach this paragraph.</p>
  <script src="{widget_src}" data-key="{widget_key}" {extra} async></script>
</body>
</html>""".encode()


@pytest.fixture
def host_site():
    """A business's website on its own origin (another port): open_site(html) -> its URL."""
    with ExitStack() as servers:

        def open_site(html: bytes) -> str:
            def site(environ, start_response):
                if environ["PATH_INFO"] != "/":
                    start_response("404 Not Found", [("Content-Type", "text/plain")])
                    return [b"not found"]
                start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                                          ("Cache-Control", "no-store")])
                return [html]

            return servers.enter_context(LiveServer(site)).url + "/"

        yield open_site


def settled_box(locator) -> dict:
    """Its bounding box once its animations (the panel's opening) are over."""
    locator.evaluate("element => Promise.all(element.getAnimations().map(animation => animation.finished))")
    return locator.bounding_box()


def computed(locator, prop: str) -> str:
    return locator.evaluate("(element, prop) => getComputedStyle(element).getPropertyValue(prop)", prop)


def test_widget_on_another_website_chats_with_the_bot(db, run_jobs, live_server, host_site, page, tmp_path):
    from playwright.sync_api import expect

    channel = add_web_channel(db, name="Acme Store")
    add_article(db, "Shipping", SHIPPING)
    site = host_site(host_page(live_server.url + "/widget.js", channel.address))
    assert site.split("/")[2] != live_server.url.split("/")[2]  # another origin
    api_calls = []
    page.on("request", lambda request: "/api/widget/" in request.url and api_calls.append(request.url))
    page.goto(site)

    # The launcher, bottom-right, untouched by the page's CSS.
    widget = page.locator("handoff-chat")
    launcher = widget.get_by_role("button", name="Open chat")
    expect(launcher).to_be_visible()
    box = launcher.bounding_box()
    viewport = page.viewport_size
    assert box["width"] == pytest.approx(58, abs=1) and box["height"] == pytest.approx(58, abs=1)
    assert viewport["width"] - (box["x"] + box["width"]) == pytest.approx(20, abs=1)
    assert viewport["height"] - (box["y"] + box["height"]) == pytest.approx(20, abs=1)
    assert api_calls == []  # a new visitor costs the API nothing until they open the chat

    # Opening it shows the panel, with the focus in the message box.
    launcher.click()
    dialog = widget.get_by_role("dialog", name="Chat with us")
    expect(dialog).to_be_visible()
    expect(widget.locator(".launcher")).to_have_attribute("aria-expanded", "true")
    expect(widget.locator(".launcher")).to_have_attribute("aria-label", "Close chat")
    expect(widget.locator("#chat-input")).to_be_focused()
    expect(widget.locator("#chat-status")).to_have_text(ONLINE)
    panel = settled_box(dialog)
    assert panel["width"] == pytest.approx(376, abs=1) and panel["height"] > 400

    # A question the knowledge base answers: the bot's reply arrives live.
    mine = send(widget, "How long does shipping take for my order?")
    expect(mine.locator(".msg-sender")).to_have_text("You")
    expect(widget.locator("#chat-log li.typing")).to_have_count(1)  # until the reply comes
    run_jobs()
    bot = widget.locator("#chat-log li.msg-bot")
    expect(bot).to_have_count(1)
    expect(bot.locator(".msg-text")).to_contain_text("2 business days")
    expect(bot.locator(".msg-sender")).to_have_text("Assistant")
    expect(widget.locator("#chat-log li.typing")).to_have_count(0)
    assert all(url.startswith(live_server.url + "/api/widget/") for url in api_calls)

    # Hostile text is shown as text, never run as HTML.
    mine = send(widget, XSS)
    expect(mine.locator(".msg-text")).to_have_text(XSS)
    assert widget.locator("#chat-log img, #chat-log b").count() == 0
    run_jobs()
    expect(bot).to_have_count(2)

    # The page's CSS reaches neither the panel nor its messages, and ours stays inside.
    text = bot.first.locator(".msg-text")
    assert computed(text, "color") == "rgb(29, 36, 51)"
    assert computed(text, "font-size") == "14px"
    assert computed(text, "display") == "block"
    assert computed(mine.locator(".msg-text"), "background-color") == "rgb(47, 91, 234)"
    assert computed(widget.locator("#chat-input"), "background-color") == "rgb(255, 255, 255)"
    host_text = page.locator("#host-text")
    assert computed(host_text, "position") == "static"
    assert computed(host_text, "padding-top") == "0px"
    page.screenshot(path=tmp_path / "widget.png")

    # Escape closes the panel and gives the focus back to the launcher.
    widget.locator("#chat-input").press("Escape")
    expect(dialog).to_be_hidden()
    expect(launcher).to_be_focused()
    expect(launcher).to_have_attribute("aria-expanded", "false")

    # A reload continues the conversation (the visitor token is in the site's localStorage).
    page.reload()
    expect(launcher).to_be_visible()
    launcher.click()
    expect(dialog).to_be_visible()
    expect(widget.locator("#chat-log li.msg")).to_have_count(4)
    expect(widget.locator("#chat-log li.msg-customer .msg-text").nth(1)).to_have_text(XSS)
    assert widget.locator("#chat-log img, #chat-log b").count() == 0

    # A reply that arrives while the panel is closed shows on the launcher.
    send(widget, "Do you ship abroad?")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    run_jobs()
    unread = widget.get_by_role("button", name="Open chat, 1 new message")
    expect(unread).to_be_visible()
    expect(widget.locator(".badge")).to_have_text("1")
    unread.click()
    expect(bot).to_have_count(3)
    expect(widget.locator(".badge")).to_be_hidden()
    assert page.problems == []


def test_on_a_phone_the_panel_fills_the_screen(db, live_server, host_site, browser, tmp_path):
    from playwright.sync_api import expect

    channel = add_web_channel(db)
    site = host_site(host_page(live_server.url + "/widget.js", channel.address,
                               'data-title="Acme support" data-color="#0a7d4f"'))
    context = browser.new_context(viewport={"width": 390, "height": 760}, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        page.goto(site)
        widget = page.locator("handoff-chat")
        widget.get_by_role("button", name="Open chat").click()
        dialog = widget.get_by_role("dialog", name="Acme support")
        expect(dialog).to_be_visible()
        expect(widget.locator("#chat-status")).to_have_text(ONLINE)
        assert settled_box(dialog) == {"x": 0, "y": 0, "width": 390, "height": 760}
        assert computed(widget.locator(".chat-header"), "background-color") == "rgb(10, 125, 79)"
        expect(widget.locator(".launcher")).to_be_hidden()  # the panel's own close button replaces it
        page.screenshot(path=tmp_path / "widget-phone.png")

        widget.get_by_role("button", name="Close chat").click()
        expect(dialog).to_be_hidden()
        expect(widget.get_by_role("button", name="Open chat")).to_be_focused()
    finally:
        context.close()


def test_a_second_copy_of_the_snippet_adds_nothing(db, live_server, host_site, page):
    from playwright.sync_api import expect

    channel = add_web_channel(db)
    snippet = f'<script src="{live_server.url}/widget.js" data-key="{channel.address}" async></script>'
    site = host_site(host_page(live_server.url + "/widget.js", channel.address).replace(
        b"</body>", snippet.encode() + b"</body>"))
    page.goto(site)
    expect(page.locator("handoff-chat").get_by_role("button", name="Open chat")).to_be_visible()
    page.wait_for_load_state("load")  # both copies have run
    expect(page.locator("handoff-chat")).to_have_count(1)


def test_a_failed_send_is_retried_and_never_doubled(db, live_server, host_site, page):
    from playwright.sync_api import expect

    channel = add_web_channel(db)
    page.goto(host_site(host_page(live_server.url + "/widget.js", channel.address)))
    widget = page.locator("handoff-chat")
    widget.get_by_role("button", name="Open chat").click()
    expect(widget.locator("#chat-status")).to_have_text(ONLINE)

    # The server stores the message, but the answer never reaches the browser:
    # the widget retries by itself (same client_id), then offers a Retry button.
    attempts = []

    def lose_the_answer(route):
        if route.request.method != "POST":
            return route.continue_()
        attempts.append(route.request.post_data_json["client_id"])
        route.fetch()
        route.abort("connectionreset")

    page.route(live_server.url + "/api/widget/messages", lose_the_answer)
    widget.locator("#chat-input").fill("Where is my order?")
    widget.locator("#chat-input").press("Enter")
    mine = widget.locator("#chat-log li.msg-customer")
    expect(mine.locator(".msg-note")).to_contain_text("Sending")
    expect(widget.locator("#chat-input")).to_have_value("")
    retry = mine.get_by_role("button", name="Retry")
    expect(retry).to_be_visible()
    expect(mine).to_have_class("msg msg-customer failed")
    assert len(attempts) == 3 and len(set(attempts)) == 1

    page.unroute(live_server.url + "/api/widget/messages")
    retry.click()
    expect(widget.locator("#chat-log li.msg-customer[data-id]")).to_have_count(1)
    expect(mine.locator(".msg-note")).to_have_count(0)
    rows = fetch_all(db, "SELECT text FROM messages WHERE sender = 'customer'")
    assert [row["text"] for row in rows] == ["Where is my order?"]


def test_the_panel_shows_who_writes_bot_person_or_system(db, redis, run_jobs, live_server, host_site, page):
    from playwright.sync_api import expect

    channel = add_web_channel(db, name="Acme Store")
    add_article(db, "Shipping", SHIPPING)
    agent = add_agent(db, name="Ada Agent")
    page.goto(host_site(host_page(live_server.url + "/widget.js", channel.address)))
    widget = page.locator("handoff-chat")
    widget.get_by_role("button", name="Open chat").click()
    send(widget, "How long does shipping take for my order?")
    run_jobs()
    expect(widget.locator("#chat-log li.msg-bot .msg-sender")).to_have_text("Assistant")

    # A person takes over: their messages arrive live, under their name.
    conversation_id = fetch_one(db, "SELECT id FROM conversations")["id"]
    for sender, text, agent_id in (("system", "Ada Agent joined the conversation", None),
                                   ("agent", "Hi, I'm Ada. <i>Let me check.</i>", agent["id"])):
        with db() as conn:
            message_id = conn.execute(
                "INSERT INTO messages (conversation_id, channel_id, direction, sender, agent_id, text, status) "
                "VALUES (%s, %s, 'outbound', %s, %s, %s, 'sent') RETURNING id",
                (conversation_id, channel.id, sender, agent_id, text)).fetchone()["id"]
        live.publish(redis, "message.created", conversation_id, message_id=message_id)

    expect(widget.locator("#chat-log li.msg-system .msg-text")).to_have_text("Ada Agent joined the conversation")
    person = widget.locator("#chat-log li.msg-agent")
    expect(person.locator(".msg-sender")).to_have_text("Ada Agent")
    expect(person.locator(".msg-text")).to_have_text("Hi, I'm Ada. <i>Let me check.</i>")
    assert widget.locator("#chat-log i").count() == 0
    expect(widget.locator("#chat-status")).to_have_text("Online · you're chatting with Ada Agent")

    # A person answers when they answer: no "typing" promise once they own the chat.
    send(widget, "Thanks!")
    expect(widget.locator("#chat-log li.typing")).to_have_count(0)
    assert page.problems == []
