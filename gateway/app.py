"""The Flask application factory: create_app(config=None)."""

from __future__ import annotations

from flask import Flask
from redis import Redis
from werkzeug.middleware.proxy_fix import ProxyFix

from gateway.config import Config
from gateway.db import open_pool
from gateway.logs import configure_logging
from gateway.services import Services
from gateway.web import auth, edge, errors, filters, ops, webhooks, widget, widget_script
from gateway.web.api import admin, admin_reports, admin_teams, admin_webhooks, agent, openapi
from gateway.web.json_provider import HandoffJSONProvider
from gateway.web.pages import demo, inbox, reports, settings


def create_app(config: Config | None = None) -> Flask:
    config = (config or Config.from_env()).require_services().with_secret_key()
    app = Flask(__name__, template_folder="web/templates", static_folder="web/static")
    app.json = HandoffJSONProvider(app)
    app.url_map.converters["int"] = edge.IdConverter  # before any blueprint's routes are built
    app.config.update(SECRET_KEY=config.secret_key, TESTING=config.testing,
                      SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_SECURE=config.public_url.startswith("https://"))
    configure_logging()
    app.extensions["handoff"] = Services(
        config=config,
        pool=open_pool(config.database_url, size=config.db_pool_size),
        redis=Redis.from_url(config.redis_url, socket_timeout=5, socket_connect_timeout=2),
    )
    if config.trusted_proxies:
        # Behind N proxies, the client is who the outermost one saw, and the
        # scheme is what it was called with; nearer X-Forwarded-For entries are
        # whatever the client wrote, and are ignored.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=config.trusted_proxies, x_proto=config.trusted_proxies)
    errors.register_error_handlers(app)
    edge.register(app, max_body_bytes=config.max_body_bytes)
    for blueprint in (ops.bp, webhooks.bp, auth.bp, filters.bp, inbox.bp, settings.bp, reports.bp, widget.bp,
                      widget_script.bp, demo.bp, agent.bp, admin.bp, admin_teams.bp, admin_webhooks.bp, admin_reports.bp,
                      openapi.bp):
        app.register_blueprint(blueprint)
    return app
