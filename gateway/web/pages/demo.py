"""/demo: a sample business page with the real chat widget on it.

It is what a business's customers see: the page embeds /widget.js with the
snippet `handoff channel add web` prints, for the web channel named by ?key=,
else the first web channel; with none it says how to create one. The widget
inserts every message with textContent, and the page's Content-Security-Policy
allows no inline script at all (nor inline style: the widget's styles are a
constructed style sheet in its shadow root).
"""

from __future__ import annotations

from flask import Blueprint, make_response, render_template, request

from channels import web
from gateway.services import services
from gateway.store import kb
from gateway.store.channels import find_channel, list_channels

bp = Blueprint("demo", __name__)

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)
TOPICS_SHOWN = 6


@bp.get("/demo")
def demo_page():
    key = request.args.get("key")
    with services().pool.connection() as conn:
        if key:
            channel = find_channel(conn, web.kind, key)
        else:
            channel = next(iter(list_channels(conn, web.kind)), None)
        topics = [article["title"] for article in kb.list_articles(conn)[:TOPICS_SHOWN]]
    status = 404 if key and channel is None else 200
    response = make_response(render_template("demo.html", channel=channel, requested_key=key, topics=topics,
                                             public_url=services().config.public_url), status)
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response
