"""Log lines escape untrusted text (issue 13: "log lines can be forged
through the request path in the 500 handler")."""

from __future__ import annotations

import logging

from gateway.app import create_app
from gateway.logs import escape


def test_a_request_path_cannot_forge_a_log_line(config, caplog):
    app = create_app(config)

    @app.get("/api/explode/<rest>")
    def explode(rest):
        raise RuntimeError("boom")

    try:
        with caplog.at_level(logging.ERROR, logger="gateway.web.errors"):
            response = app.test_client().get(
                "/api/explode/x%0A2026-12-01 12:00:00,000 INFO gateway.web.auth: agent 1 logged in%1B[2J")
    finally:
        app.extensions["handoff"].pool.close()
    assert response.status_code == 500
    assert response.get_json() == {"error": "internal error; it has been logged"}
    [record] = [r for r in caplog.records if r.name == "gateway.web.errors"]
    line = record.getMessage()
    assert "\n" not in line and "\x1b" not in line
    assert line.endswith("/api/explode/x\\n2026-12-01 12:00:00,000 INFO gateway.web.auth: agent 1 logged in\\x1b[2J")


def test_escape_leaves_ordinary_text_alone_and_escapes_the_rest():
    assert escape("Zoë ordered 3 items ✓") == "Zoë ordered 3 items ✓"
    assert escape("a\r\nb\tc\x00d\x7f\u2028\ud800") == "a\\r\\nb\\tc\\x00d\\x7f\\u2028\\ud800"
