"""GET /api/openapi.json: the OpenAPI document of Handoff's JSON APIs.

Written by hand, next to the routes it describes; a test checks that every
/api/ route of the app is in it, so it cannot silently fall behind.
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from gateway.services import services

bp = Blueprint("openapi", __name__)

ERROR = {"$ref": "#/components/schemas/Error"}
MESSAGE = {"$ref": "#/components/schemas/WidgetMessage"}
BOT_SETTINGS = {"$ref": "#/components/schemas/BotSettings"}
CHANNEL = {"$ref": "#/components/schemas/Channel"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict:
    meaning = {400: "invalid request (details per field)", 401: "no valid credentials",
               403: "not allowed", 404: "not found"}
    return {str(status): _json(ERROR, meaning[status]) for status in statuses}


def _operation(summary: str, responses: dict, *, body: dict | None = None, security: list | None = None,
               parameters: list | None = None) -> dict:
    operation = {"summary": summary, "responses": responses}
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if security is not None:
        operation["security"] = security
    if parameters:
        operation["parameters"] = parameters
    return operation


AGENT = [{"session": []}, {"token": []}]
VISITOR = [{"visitor": []}]
CHANNEL_ID = {"name": "channel_id", "in": "path", "required": True, "schema": {"type": "integer"}}
WIDGET_KEY = {"name": "widget_key", "in": "path", "required": True, "schema": {"type": "string"}}

PATHS = {
    "/api/admin/bot-settings": {
        "get": _operation("The bot settings document (defaults filled in)",
                          {"200": _json(BOT_SETTINGS, "the document"), **_errors(401, 403)}, security=AGENT),
        "put": _operation("Replace the bot settings (fields left out take their defaults)",
                          {"200": _json(BOT_SETTINGS, "the stored document"), **_errors(400, 401, 403)},
                          body=BOT_SETTINGS, security=AGENT),
        "patch": _operation("Change some top-level fields of the bot settings",
                            {"200": _json(BOT_SETTINGS, "the stored document"), **_errors(400, 401, 403)},
                            body={"type": "object"}, security=AGENT),
    },
    "/api/admin/channels/{channel_id}": {
        "get": _operation("A channel (never its credentials)",
                          {"200": _json(CHANNEL, "the channel"), **_errors(401, 403, 404)},
                          security=AGENT, parameters=[CHANNEL_ID]),
        "patch": _operation("Rename a channel or change its mode",
                            {"200": _json(CHANNEL, "the channel"), **_errors(400, 401, 403, 404)},
                            body={"type": "object", "additionalProperties": False, "properties": {
                                "name": {"type": "string"},
                                "mode": {"enum": ["bot_only", "hybrid", "offline_or_missed"]}}},
                            security=AGENT, parameters=[CHANNEL_ID]),
    },
    "/api/agent/me": {
        "get": _operation("The logged-in agent", {"200": _json({"type": "object"}, "the agent"), **_errors(401)},
                          security=AGENT),
    },
    "/api/widget/{widget_key}/session": {
        "post": _operation(
            "Start a visitor session, or continue the one a visitor token names",
            {"200": _json({"type": "object", "properties": {
                "visitor_token": {"type": "string"}, "visitor_id": {"type": "string"},
                "conversation_id": {"type": ["integer", "null"]}}}, "the session"), **_errors(400, 403, 404)},
            body={"type": "object", "properties": {
                "visitor_token": {"type": "string"}, "name": {"type": "string"}, "email": {"type": "string"}}},
            parameters=[WIDGET_KEY]),
    },
    "/api/widget/messages": {
        "post": _operation(
            "Send a visitor's message (a resend with the same client_id returns the same message)",
            {"201": _json(MESSAGE, "stored"), "200": _json(MESSAGE, "already stored"), **_errors(400, 401, 403)},
            body={"type": "object", "required": ["text", "client_id"], "properties": {
                "text": {"type": "string", "maxLength": 4000}, "client_id": {"type": "string"},
                "payload": {"type": "string"}}},
            security=VISITOR),
        "get": _operation(
            "The visitor's transcript, oldest first",
            {"200": _json({"type": "object", "properties": {
                "messages": {"type": "array", "items": MESSAGE}, "has_more": {"type": "boolean"},
                "conversation_id": {"type": ["integer", "null"]}}}, "a page of messages"), **_errors(400, 401)},
            security=VISITOR,
            parameters=[{"name": "after", "in": "query", "schema": {"type": "integer"}}]),
    },
    "/api/widget/stream": {
        "get": _operation(
            "Server-sent events: one per new message of the visitor's conversation (Last-Event-ID honoured)",
            {"200": {"description": "text/event-stream"}, "204": {"description": "no conversation yet"},
             **_errors(401)},
            parameters=[{"name": "token", "in": "query", "required": True, "schema": {"type": "string"}},
                        {"name": "after", "in": "query", "schema": {"type": "integer"}}]),
    },
}

COMPONENTS = {
    "securitySchemes": {
        "session": {"type": "apiKey", "in": "cookie", "name": "session",
                    "description": "an agent's login (/login); writes also need the X-CSRF-Token header"},
        "token": {"type": "http", "scheme": "bearer", "description": "an agent's personal API token"},
        "visitor": {"type": "http", "scheme": "bearer", "description": "a widget visitor token"},
    },
    "schemas": {
        "Error": {"type": "object", "required": ["error"],
                  "properties": {"error": {"type": "string"}, "details": {}}},
        "BotSettings": {"type": "object", "description": "see gateway/bot_settings.py for every field"},
        "Channel": {"type": "object", "properties": {
            "id": {"type": "integer"}, "kind": {"enum": ["whatsapp", "messenger", "web"]},
            "name": {"type": "string"}, "address": {"type": "string"},
            "mode": {"enum": ["bot_only", "hybrid", "offline_or_missed"]}}},
        "WidgetMessage": {"type": "object", "properties": {
            "id": {"type": "integer"}, "conversation_id": {"type": "integer"},
            "direction": {"enum": ["inbound", "outbound"]},
            "sender": {"enum": ["customer", "bot", "agent", "system"]}, "agent_name": {"type": ["string", "null"]},
            "text": {"type": "string"}, "attachments": {"type": "array"}, "status": {"type": "string"},
            "client_id": {"type": ["string", "null"]}, "quick_replies": {"type": ["array", "null"]},
            "created_at": {"type": "string", "format": "date-time"}}},
    },
}


@bp.get("/api/openapi.json")
def openapi_document():
    return jsonify({
        "openapi": "3.1.0",
        "info": {"title": "Handoff", "version": "0.1.0",
                 "description": "AI customer support with human handoff: widget, agent and admin APIs."},
        "servers": [{"url": services().config.public_url}],
        "paths": PATHS,
        "components": COMPONENTS,
    })
