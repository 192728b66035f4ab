"""Browser fixtures shared by the page tests: Debian's Chromium driven by Playwright,
and the real app served over HTTP. Registered in conftest.py (pytest_plugins).

Chromium comes from the system (apt-get install chromium), never from
`playwright install`; without it the browser tests skip with that advice.
"""

from __future__ import annotations

import os

import pytest

from tests.helpers import LiveServer

CHROMIUM = "/usr/bin/chromium"
# The flags keep Chromium off the network (this machine has none) and quiet.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
# Generous: the suite shares a machine with other work, and expect() polls, never sleeps.
BROWSER_TIMEOUT_MS = 20_000


@pytest.fixture
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium (apt-get install chromium) for browser tests")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    sync_api.expect.set_options(timeout=BROWSER_TIMEOUT_MS)
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def live_server(app):
    # A closed page frees its stream (and the server thread the teardown joins) quickly.
    app.config.update(WIDGET_HEARTBEAT_SECONDS=0.5, WIDGET_STREAM_SECONDS=30)
    with LiveServer(app) as server:
        yield server


@pytest.fixture
def page(browser, live_server):
    """A fresh page that records problems: console errors (a CSP violation is
    one), uncaught exceptions and dialogs (an alert would be XSS)."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(BROWSER_TIMEOUT_MS)
    page.problems = []
    page.on("console", lambda message: message.type == "error" and page.problems.append(message.text))
    page.on("pageerror", lambda error: page.problems.append(str(error)))
    page.on("dialog", lambda dialog: (page.problems.append("dialog: " + dialog.message), dialog.dismiss()))
    yield page
    context.close()
