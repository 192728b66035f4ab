"""GET /widget.js: the chat widget a business embeds in its own website.

    <script src="PUBLIC_URL/widget.js" data-key="wk_..." async></script>

One self-contained script, no build step: the shared chat client
(static/widget/chat-client.js, the API and the transcript) followed by the launcher
(static/widget/widget-launcher.js, the button and the panel in a shadow root). It is
read once per process and served with a short max-age and an ETag: businesses
never re-paste the snippet, so a deploy reaches their pages within minutes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, Response, current_app, request

bp = Blueprint("widget_script", __name__)

SOURCES = ("widget/chat-client.js", "widget/widget-launcher.js")
MAX_AGE_SECONDS = 300
# A cache may serve the old script this long after max-age while it revalidates.
STALE_WHILE_REVALIDATE_SECONDS = 86400


@dataclass(frozen=True)
class WidgetScript:
    body: bytes
    etag: str


def build_widget_script(static_folder: str) -> WidgetScript:
    parts = [f"/*! Handoff web chat widget: {' + '.join(SOURCES)} */\n"]
    for name in SOURCES:
        source = (Path(static_folder) / name).read_text(encoding="utf-8")
        parts.append(f"\n/* --- {name} --- */\n{source.rstrip()}\n;\n")
    body = "".join(parts).encode("utf-8")
    return WidgetScript(body=body, etag=hashlib.sha256(body).hexdigest()[:32])


def widget_script() -> WidgetScript:
    """Built once per app (so once per process); rebuilt on every request in debug mode."""
    cached = current_app.extensions.get("handoff.widget_script")
    if cached is None or current_app.debug:
        cached = build_widget_script(current_app.static_folder)
        current_app.extensions["handoff.widget_script"] = cached
    return cached


@bp.get("/widget.js")
def widget_js():
    script = widget_script()
    response = Response(script.body, mimetype="text/javascript")
    response.set_etag(script.etag)
    response.headers["Cache-Control"] = (
        f"public, max-age={MAX_AGE_SECONDS}, stale-while-revalidate={STALE_WHILE_REVALIDATE_SECONDS}")
    # Public code, meant for other sites: loadable with crossorigin="anonymous"
    # (error details, SRI) and from pages that require CORP.
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response.make_conditional(request)
