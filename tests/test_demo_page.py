"""/demo: a sample page with the real widget, and a real browser chatting through it with the bot."""

from __future__ import annotations

from tests.conftest import PUBLIC_URL
from tests.helpers import add_article, add_web_channel

SHIPPING = "Orders ship within 2 business days. Tracking numbers arrive by email."
XSS = "<img src=x onerror=alert(1)> is this <b>bold</b>?"


def test_without_a_web_channel_the_page_says_how_to_add_one(client):
    response = client.get("/demo")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "handoff channel add web --name Website" in page
    assert 'id="chat"' not in page


def test_page_chats_on_the_first_web_channel(client, db):
    first = add_web_channel(db, name="Website")
    add_web_channel(db, name="Second site")
    response = client.get("/demo")
    page = response.get_data(as_text=True)
    # The real widget, as a business embeds it, on the first channel; no chat code of its own.
    assert f'<script src="/widget.js" data-key="{first.address}" data-title="Website" async>' in page
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "<script src=\"/static/demo.js\"" in page
    # The snippet to copy, with the public URL.
    assert f'&lt;script src="{PUBLIC_URL}/widget.js" data-key="{first.address}" async&gt;&lt;/script&gt;' in page


def test_key_picks_the_channel_and_an_unknown_key_is_404(client, db):
    add_web_channel(db, name="Website")
    second = add_web_channel(db, name="Second site")
    assert f'data-key="{second.address}"' in client.get(f"/demo?key={second.address}").get_data(as_text=True)

    response = client.get('/demo?key="><script>alert(1)</script>')
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "handoff channel add web --name Website" in page


def test_knowledge_base_topics_are_escaped(client, db):
    add_web_channel(db)
    add_article(db, "<b>Returns</b> & refunds", "Return anything within 30 days.")
    page = client.get("/demo").get_data(as_text=True)
    assert "&lt;b&gt;Returns&lt;/b&gt; &amp; refunds" in page
    assert "<b>Returns</b>" not in page


def test_static_files_are_served(client):
    for path in ("/static/demo.js", "/static/demo.css", "/static/widget/chat-client.js", "/static/widget/widget-launcher.js",
                 "/widget.js"):
        with client.get(path) as response:
            assert response.status_code == 200


# --- in a real browser -------------------------------------------------------------------


def send(scope, text: str):
    """Type and send a message in the widget (scope: the page or the widget's
    element); returns once the server has stored it."""
    from playwright.sync_api import expect

    confirmed = scope.locator("#chat-log li.msg-customer[data-id]")
    before = confirmed.count()
    scope.locator("#chat-input").fill(text)
    scope.locator("#chat-input").press("Enter")
    expect(confirmed).to_have_count(before + 1)
    return confirmed.nth(before)


def test_visitor_chats_with_the_bot_in_a_browser(db, run_jobs, live_server, page):
    from playwright.sync_api import expect

    add_web_channel(db, name="Acme Store")
    add_article(db, "Shipping", SHIPPING)
    page.goto(live_server.url + "/demo")
    page.click("#open-chat")
    expect(page.get_by_role("dialog", name="Acme Store")).to_be_visible()
    expect(page.locator("#chat-status")).to_have_text("Online · we usually answer at once")
    expect(page.locator("#chat-input")).to_be_focused()
    # The widget's styles hold under the page's strict CSP (no inline style).
    assert page.locator(".launcher").evaluate("element => getComputedStyle(element).position") == "fixed"

    send(page, "How long does shipping take for my order?")
    run_jobs()  # the web process enqueued the job before it answered the POST

    bot = page.locator("#chat-log li.msg-bot .msg-text")
    expect(bot).to_have_count(1)
    expect(bot.first).to_contain_text("2 business days")
    expect(page.locator("#chat-log li.typing")).to_have_count(0)

    # Customer text is shown as text, never run as HTML.
    mine = send(page, XSS)
    expect(mine.locator(".msg-text")).to_have_text(XSS)
    assert page.locator("#chat-log img, #chat-log b").count() == 0
    run_jobs()
    expect(bot).to_have_count(2)

    # A reload continues the same conversation (the token is in localStorage),
    # in the panel the visitor left open.
    page.reload()
    expect(page.get_by_role("dialog", name="Acme Store")).to_be_visible()
    expect(page.locator("#chat-log li.msg")).to_have_count(4)
    expect(page.locator("#chat-log li.msg-customer .msg-text").nth(1)).to_have_text(XSS)
    assert page.locator("#chat-log img, #chat-log b").count() == 0
    send(page, "Do you ship abroad?")
    run_jobs()
    expect(bot).to_have_count(3)

    # "New visitor" forgets the token: an empty chat for someone else.
    page.click("#chat-reset")
    expect(page.locator("#chat-empty")).to_be_visible()
    expect(page.locator("#chat-log li.msg")).to_have_count(0)
    assert page.problems == []


def test_topic_buttons_fill_the_question(db, live_server, page):
    from playwright.sync_api import expect

    add_web_channel(db)
    add_article(db, "Shipping", SHIPPING)
    page.goto(live_server.url + "/demo")
    page.click("button.topic")
    expect(page.get_by_role("dialog")).to_be_visible()
    expect(page.locator("#chat-input")).to_have_value("Shipping")
    expect(page.locator("#chat-input")).to_be_focused()
    assert page.problems == []
