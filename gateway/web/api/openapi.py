"""GET /api/openapi.json: the OpenAPI document of Handoff's JSON APIs.

Written by hand, next to the routes it describes; a test checks that every
/api/ route of the app is in it, so it cannot silently fall behind.
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from gateway.events import WEBHOOK_EVENTS
from gateway.services import services

bp = Blueprint("openapi", __name__)

ERROR = {"$ref": "#/components/schemas/Error"}
MESSAGE = {"$ref": "#/components/schemas/WidgetMessage"}
BOT_SETTINGS = {"$ref": "#/components/schemas/BotSettings"}
CHANNEL = {"$ref": "#/components/schemas/Channel"}
TEMPLATE = {"$ref": "#/components/schemas/Template"}
TEMPLATES = {"type": "object", "required": ["channel_id", "templates"], "properties": {
    "channel_id": {"type": "integer"}, "templates": {"type": "array", "items": TEMPLATE}}}


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

CONVERSATION_ID = {"name": "conversation_id", "in": "path", "required": True, "schema": {"type": "integer"}}
TICKET_NUMBER = {"name": "number", "in": "path", "required": True, "schema": {"type": "integer"}}
AGENT_MESSAGE = {"$ref": "#/components/schemas/AgentMessage"}
TICKET = {"$ref": "#/components/schemas/Ticket"}

TEAM = {"$ref": "#/components/schemas/Team"}
AGENT_SCHEMA = {"$ref": "#/components/schemas/Agent"}
TEAM_ID = {"name": "team_id", "in": "path", "required": True, "schema": {"type": "integer"}}
AGENT_ID = {"name": "agent_id", "in": "path", "required": True, "schema": {"type": "integer"}}
HOURS = {"type": "object", "description": "business hours: {timezone, weekly: {mon: [[\"09:00\", \"17:30\"]], ...}, "
                                          "holidays: [\"2026-12-25\"]}; {} is always open"}
TEAM_FIELDS = {"name": {"type": "string", "maxLength": 100}, "hours": HOURS, "auto_assign": {"type": "boolean"},
               "email": {"type": ["string", "null"], "format": "email"}}


def _agent_change(summary: str, body: dict | None = None) -> dict:
    """An agent's action on a conversation: answers with the conversation as it now is."""
    return _operation(summary, {"200": _json({"type": "object", "properties": {"conversation": {"type": "object"}}},
                                             "the conversation"),
                                "409": _json(ERROR, "the conversation's state does not allow it"),
                                **_errors(*((400,) if body else ()), 401, 403, 404)},
                      body=body, security=AGENT, parameters=[CONVERSATION_ID])


CHANNEL_FIELDS = {
    "kind": {"enum": ["whatsapp", "messenger", "web"]}, "name": {"type": "string", "maxLength": 100},
    "mode": {"enum": ["bot_only", "hybrid", "offline_or_missed"]}, "team_id": {"type": ["integer", "null"]},
    "address": {"type": "string", "description": "WhatsApp: the Twilio number (+E.164); Messenger: the Page ID"},
    "credentials": {"type": "object", "description": "WhatsApp: account_sid, auth_token; Messenger: page_token, "
                                                      "app_secret, verify_token (generated when left out)",
                    "additionalProperties": {"type": "string"}},
    "disabled": {"type": "boolean", "description": "a disabled channel receives and sends nothing"}}
WEBHOOK = {"$ref": "#/components/schemas/Webhook"}
WEBHOOK_DELIVERY = {"$ref": "#/components/schemas/WebhookDelivery"}
SUBSCRIPTION_ID = {"name": "subscription_id", "in": "path", "required": True, "schema": {"type": "integer"}}
DELIVERY_ID = {"name": "delivery_id", "in": "path", "required": True, "schema": {"type": "integer"}}
WEBHOOK_EVENT_NAMES = {"enum": [*WEBHOOK_EVENTS, "*"]}
WEBHOOK_FIELDS = {"url": {"type": "string", "format": "uri", "description": "http:// or https://"},
                  "events": {"type": "array", "minItems": 1, "items": WEBHOOK_EVENT_NAMES},
                  "description": {"type": "string", "maxLength": 500}}
QUEUED_DELIVERY = _json({"type": "object", "properties": {"delivery_id": {"type": "integer"}}}, "queued")

PATHS = {
    "/api/admin/webhooks": {
        "get": _operation("Every webhook subscription with its last delivery (never its secret)",
                          {"200": _json({"type": "object", "properties": {
                              "webhooks": {"type": "array", "items": WEBHOOK}}}, "the subscriptions"),
                           **_errors(401, 403)}, security=AGENT),
        "post": _operation("Subscribe a URL to events; the answer carries the signing secret, shown only this once",
                           {"201": _json({"allOf": [WEBHOOK, {"type": "object", "properties": {
                               "secret": {"type": "string"}}}]}, "the subscription and its secret"),
                            **_errors(400, 401, 403)},
                           body={"type": "object", "required": ["url", "events"], "additionalProperties": False,
                                 "properties": WEBHOOK_FIELDS}, security=AGENT),
    },
    "/api/admin/webhooks/{subscription_id}": {
        "get": _operation("A webhook subscription", {"200": _json(WEBHOOK, "the subscription"),
                                                     **_errors(401, 403, 404)},
                          security=AGENT, parameters=[SUBSCRIPTION_ID]),
        "patch": _operation("Change a subscription; deactivating it fails its pending deliveries",
                            {"200": _json(WEBHOOK, "the subscription"), **_errors(400, 401, 403, 404)},
                            body={"type": "object", "additionalProperties": False,
                                  "properties": dict(WEBHOOK_FIELDS, active={"type": "boolean"})},
                            security=AGENT, parameters=[SUBSCRIPTION_ID]),
        "delete": _operation("Delete a subscription and its deliveries",
                             {"204": {"description": "deleted"}, **_errors(401, 403, 404)},
                             security=AGENT, parameters=[SUBSCRIPTION_ID]),
    },
    "/api/admin/webhooks/{subscription_id}/rotate-secret": {
        "post": _operation("A new signing secret, shown only this once (the old one stops at once)",
                           {"200": _json({"type": "object", "properties": {
                               "id": {"type": "integer"}, "secret": {"type": "string"}}}, "the new secret"),
                            **_errors(401, 403, 404)}, security=AGENT, parameters=[SUBSCRIPTION_ID]),
    },
    "/api/admin/webhooks/{subscription_id}/deliveries": {
        "get": _operation("The latest deliveries, newest first, with their envelope and every attempt",
                          {"200": _json({"type": "object", "properties": {
                              "deliveries": {"type": "array", "items": WEBHOOK_DELIVERY}}}, "the deliveries"),
                           **_errors(400, 401, 403, 404)},
                          security=AGENT, parameters=[SUBSCRIPTION_ID, {
                              "name": "limit", "in": "query",
                              "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}}]),
    },
    "/api/admin/webhooks/{subscription_id}/deliveries/{delivery_id}/redeliver": {
        "post": _operation("Send a delivery again now (receivers deduplicate on X-Handoff-Delivery)",
                           {"202": QUEUED_DELIVERY, "409": _json(ERROR, "the subscription is inactive"),
                            **_errors(401, 403, 404)}, security=AGENT, parameters=[SUBSCRIPTION_ID, DELIVERY_ID]),
    },
    "/api/admin/webhooks/{subscription_id}/test": {
        "post": _operation("Send a \"ping\" event to this subscription",
                           {"202": QUEUED_DELIVERY, "409": _json(ERROR, "the subscription is inactive"),
                            **_errors(401, 403, 404)}, security=AGENT, parameters=[SUBSCRIPTION_ID]),
    },
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
    "/api/admin/channels": {
        "get": _operation("Every channel (credentials only as hints), with its webhook URLs or widget snippet",
                          {"200": _json({"type": "object", "properties": {
                              "channels": {"type": "array", "items": CHANNEL}}}, "the channels"),
                           **_errors(401, 403)}, security=AGENT),
        "post": _operation("Add a channel (a web channel needs no address nor credentials: its key is generated)",
                           {"201": _json(CHANNEL, "the channel"), "409": _json(ERROR, "the address is taken"),
                            **_errors(400, 401, 403)},
                           body={"type": "object", "required": ["kind", "name"], "properties": CHANNEL_FIELDS},
                           security=AGENT),
    },
    "/api/admin/channels/{channel_id}": {
        "get": _operation("A channel (credentials only as hints)",
                          {"200": _json(CHANNEL, "the channel"), **_errors(401, 403, 404)},
                          security=AGENT, parameters=[CHANNEL_ID]),
        "patch": _operation("Change a channel: name, mode, team, address, credentials (fields left blank keep "
                            "their value; new credentials send again the messages that failed for authentication), "
                            "disabled",
                            {"200": _json({"allOf": [CHANNEL, {"type": "object", "properties": {
                                "changed": {"type": "array", "items": {"type": "string"}},
                                "resent": {"type": "integer"}}}]}, "the channel"),
                             "409": _json(ERROR, "another channel has this address"), **_errors(400, 401, 403, 404)},
                            body={"type": "object", "properties": CHANNEL_FIELDS},
                            security=AGENT, parameters=[CHANNEL_ID]),
        "delete": _operation("Delete a channel with its conversations and messages (PATCH disabled keeps them)",
                             {"200": _json({"type": "object", "properties": {
                                 "deleted": {"type": "integer"}, "conversations": {"type": "integer"},
                                 "messages": {"type": "integer"}}}, "what was deleted"),
                              **_errors(401, 403, 404)}, security=AGENT, parameters=[CHANNEL_ID]),
    },
    "/api/admin/channels/{channel_id}/check": {
        "post": _operation("Ask the provider whether the credentials work (Twilio: the account; Meta: the Page)",
                           {"200": _json({"type": "object", "properties": {
                               "ok": {"type": "boolean"}, "message": {"type": "string"},
                               "detail": {"type": ["string", "null"]}}}, "the answer, in words"),
                            **_errors(401, 403, 404)}, security=AGENT, parameters=[CHANNEL_ID]),
    },
    "/api/admin/channels/{channel_id}/templates": {
        "get": _operation("A WhatsApp channel's approved templates (what agents send outside the 24-hour window)",
                          {"200": _json(TEMPLATES, "the templates"), **_errors(400, 401, 403, 404)},
                          security=AGENT, parameters=[CHANNEL_ID]),
        "put": _operation("Replace a WhatsApp channel's templates (400 for other kinds of channel)",
                          {"200": _json(TEMPLATES, "the stored templates"), **_errors(400, 401, 403, 404)},
                          body={"type": "object", "required": ["templates"], "additionalProperties": False,
                                "properties": {"templates": {"type": "array", "items": TEMPLATE}}},
                          security=AGENT, parameters=[CHANNEL_ID]),
    },
    "/api/admin/teams": {
        "get": _operation("Every team: hours, open now and the next opening, members and their presence",
                          {"200": _json({"type": "object", "properties": {"teams": {"type": "array", "items": TEAM}}},
                                        "the teams"), **_errors(401, 403)}, security=AGENT),
        "post": _operation("Create a team (always open and auto-assigning unless told otherwise)",
                           {"201": _json(TEAM, "the team"), "409": _json(ERROR, "a team has this name (in any case)"),
                            **_errors(400, 401, 403)},
                           body={"type": "object", "required": ["name"], "additionalProperties": False,
                                 "properties": TEAM_FIELDS}, security=AGENT),
    },
    "/api/admin/teams/{team_id}": {
        "get": _operation("A team", {"200": _json(TEAM, "the team"), **_errors(401, 403, 404)},
                          security=AGENT, parameters=[TEAM_ID]),
        "patch": _operation("Rename a team, set its hours, assignment or email (null clears it); warnings say "
                            "when the bot settings' routing still names the old name",
                            {"200": _json({"allOf": [TEAM, {"type": "object", "properties": {
                                "warnings": {"type": "array", "items": {"type": "string"}}}}]}, "the team"),
                             "409": _json(ERROR, "another team has this name"), **_errors(400, 401, 403, 404)},
                            body={"type": "object", "additionalProperties": False, "properties": TEAM_FIELDS},
                            security=AGENT, parameters=[TEAM_ID]),
    },
    "/api/admin/teams/{team_id}/members": {
        "put": _operation("Make the team's members exactly these agents",
                          {"200": _json(TEAM, "the team"), **_errors(400, 401, 403, 404)},
                          body={"type": "object", "required": ["agent_ids"], "properties": {
                              "agent_ids": {"type": "array", "items": {"type": "integer"}}}},
                          security=AGENT, parameters=[TEAM_ID]),
    },
    "/api/admin/teams/{team_id}/members/{agent_id}": {
        "post": _operation("Add an agent to the team", {"200": _json(TEAM, "the team"), **_errors(401, 403, 404)},
                           security=AGENT, parameters=[TEAM_ID, AGENT_ID]),
        "delete": _operation("Remove an agent from the team (404 if not a member)",
                             {"200": _json(TEAM, "the team"), **_errors(401, 403, 404)},
                             security=AGENT, parameters=[TEAM_ID, AGENT_ID]),
    },
    "/api/admin/agents": {
        "get": _operation("Every agent: presence, capacity, load, teams",
                          {"200": _json({"type": "object", "properties": {
                              "agents": {"type": "array", "items": AGENT_SCHEMA}}}, "the agents"),
                           **_errors(401, 403)}, security=AGENT),
        "post": _operation("Add an agent who logs in to the inbox",
                           {"201": _json(AGENT_SCHEMA, "the agent"), "409": _json(ERROR, "the email is taken"),
                            **_errors(400, 401, 403)},
                           body={"type": "object", "required": ["email", "name", "password"], "properties": {
                               "email": {"type": "string", "format": "email"}, "name": {"type": "string"},
                               "password": {"type": "string", "minLength": 8}, "is_admin": {"type": "boolean"},
                               "teams": {"type": "array", "items": {"type": ["integer", "string"]}}}},
                           security=AGENT),
    },
    "/api/admin/agents/{agent_id}/deactivate": {
        "post": _operation("Deactivate an agent: their sessions and API token stop working at once, their "
                           "conversations go back to the team's queue",
                           {"200": _json({"type": "object", "properties": {
                               "agent": {"type": "object"}, "returned": {"type": "array",
                                                                          "items": {"type": "integer"}}}},
                                         "deactivated"),
                            "409": _json(ERROR, "an admin cannot deactivate themselves"), **_errors(401, 403, 404)},
                           security=AGENT, parameters=[AGENT_ID]),
    },
    "/api/admin/agents/{agent_id}": {
        "patch": _operation("Change an agent's name, admin flag, capacity or teams (exactly those given), or "
                            "disable them (active: false); a role change or a deactivation ends their sessions "
                            "and API token",
                            {"200": _json(AGENT_SCHEMA, "the agent"), "204": {"description": "the agent is disabled"},
                             "409": _json(ERROR, "an admin cannot remove their own admin flag, nor disable "
                                                 "themselves"),
                             **_errors(400, 401, 403, 404)},
                            body={"type": "object", "additionalProperties": False, "properties": {
                                "name": {"type": "string", "maxLength": 100}, "is_admin": {"type": "boolean"},
                                "capacity": {"type": "integer", "minimum": 0, "maximum": 100},
                                "teams": {"type": "array", "items": {"type": ["integer", "string"]},
                                          "description": "team ids or names"},
                                "active": {"type": "boolean", "description": "false disables the agent"}}},
                            security=AGENT, parameters=[AGENT_ID]),
    },
    "/api/admin/reports": {
        "get": _operation(
            "The report over a date range (UTC days): volume, handoffs by rule, first response after a handoff, "
            "resolution, missed chats, tickets, CSAT, repeat escalations, the questions the bot could not answer "
            "(the same object as `handoff report --json`)",
            {"200": _json({"type": "object", "required": [
                "conversations", "handoff_rate", "handoffs_by_rule", "bot_resolution_rate",
                "first_response_seconds_p50", "first_response_seconds_p90", "csat_average", "csat_responses",
                "repeat_escalations", "unanswered_groups"]}, "the figures"), **_errors(400, 401, 403)},
            security=AGENT,
            parameters=[{"name": "since", "in": "query", "schema": {"type": "string", "format": "date"},
                         "description": "first day (default: 6 days before today)"},
                        {"name": "until", "in": "query", "schema": {"type": "string", "format": "date"},
                         "description": "last day, included (default: today)"},
                        {"name": "team", "in": "query", "schema": {"type": "integer"}},
                        {"name": "channel", "in": "query", "schema": {"type": "integer"}}]),
    },
    "/api/agent/me": {
        "get": _operation("The logged-in agent", {"200": _json({"type": "object"}, "the agent"), **_errors(401)},
                          security=AGENT),
    },
    "/api/agent/queue": {
        "get": _operation(
            "Conversations waiting for a person in my teams (or one of them), in serving order with their place "
            "in line; each team's count; and my assigned conversations",
            {"200": _json({"type": "object", "properties": {
                "teams": {"type": "array"}, "waiting": {"type": "array"}, "mine": {"type": "array"}}}, "the queue"),
             **_errors(400, 401, 403, 404)},
            security=AGENT, parameters=[{"name": "team", "in": "query", "schema": {"type": "integer"}}]),
    },
    "/api/agent/conversations/{conversation_id}": {
        "get": _operation(
            "A conversation with its handoff packet, transcript (private notes marked), contact and cross-channel "
            "history, events, messaging window, reply options and templates, and ticket",
            {"200": _json({"type": "object"}, "the conversation"), **_errors(401, 403, 404)},
            security=AGENT, parameters=[CONVERSATION_ID]),
    },
    "/api/agent/conversations/{conversation_id}/claim": {
        "post": _agent_change("Take a queued conversation or a ticket (one of two concurrent claims wins; "
                              "the customer hears who joined)"),
    },
    "/api/agent/conversations/{conversation_id}/assign": {
        "post": _agent_change("Assign to a member of the conversation's team (the assignee handing over, anyone "
                              "while nobody holds it, or an admin)",
                              {"type": "object", "required": ["agent_id"],
                               "properties": {"agent_id": {"type": "integer"}}}),
    },
    "/api/agent/conversations/{conversation_id}/transfer": {
        "post": _agent_change("Transfer to another team's queue (the customer hears their place in line); "
                              "a ticket becomes that team's ticket",
                              {"type": "object", "properties": {"team_id": {"type": "integer"},
                                                                "team": {"type": "string"},
                                                                "note": {"type": "string"}}}),
    },
    "/api/agent/conversations/{conversation_id}/reply": {
        "post": _operation(
            "Reply: text, an approved WhatsApp template, or an email (by_email); 409 with reply_options when "
            "the messaging window or the conversation's state does not allow it",
            {"201": _json({"type": "object", "properties": {"message": AGENT_MESSAGE, "via": {"type": "string"},
                                                            "plan": {"type": "object"}}}, "queued for sending"),
             "409": _json(ERROR, "refused: details.reply_options says what can be sent"),
             **_errors(400, 401, 403, 404)},
            body={"type": "object", "properties": {
                "text": {"type": "string", "maxLength": 4000}, "template": {"type": "string"},
                "variables": {"type": "object", "additionalProperties": {"type": "string"}},
                "by_email": {"type": "boolean"}}},
            security=AGENT, parameters=[CONVERSATION_ID]),
    },
    "/api/agent/conversations/{conversation_id}/notes": {
        "post": _operation(
            "A private note (never sent to the customer)",
            {"201": _json({"type": "object", "properties": {"message": AGENT_MESSAGE}}, "stored"),
             **_errors(400, 401, 403, 404)},
            body={"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}},
            security=AGENT, parameters=[CONVERSATION_ID]),
    },
    "/api/agent/conversations/{conversation_id}/resolve": {
        "post": _agent_change("Resolve (its open ticket is closed)"),
    },
    "/api/agent/conversations/{conversation_id}/reopen": {
        "post": _agent_change("Reopen a resolved conversation, assigned to me (409 if the customer has a newer "
                              "open one)"),
    },
    "/api/agent/presence": {
        "post": _operation(
            "Set my presence, or renew it with {} (the heartbeat); coming online takes queued conversations, "
            "going away or offline hands back those still waiting for a first answer",
            {"200": _json({"type": "object", "properties": {
                "presence": {"enum": ["online", "away", "offline"]}, "expires_at": {"type": ["string", "null"]},
                "assigned": {"type": "array"}, "handed_back": {"type": "array"}}}, "my presence"),
             **_errors(400, 401, 403)},
            body={"type": "object", "properties": {"presence": {"enum": ["online", "away", "offline"]}}},
            security=AGENT),
    },
    "/api/agent/tickets": {
        "get": _operation(
            "Tickets of my teams, due first (closed ones with ?status=closed)",
            {"200": _json({"type": "object", "properties": {"tickets": {"type": "array", "items": TICKET}}},
                          "the tickets"), **_errors(400, 401)},
            security=AGENT,
            parameters=[{"name": "status", "in": "query", "schema": {"enum": ["open", "pending", "closed"]}}]),
    },
    "/api/agent/tickets/{number}": {
        "get": _operation("A ticket", {"200": _json({"type": "object", "properties": {"ticket": TICKET}}, "it"),
                                       **_errors(401, 403, 404)},
                          security=AGENT, parameters=[TICKET_NUMBER]),
    },
    "/api/agent/tickets/{number}/close": {
        "post": _operation("Close a ticket (a conversation waiting only on it is resolved)",
                           {"200": _json({"type": "object", "properties": {"ticket": TICKET}}, "closed"),
                            "409": _json(ERROR, "already closed"), **_errors(401, 403, 404)},
                           security=AGENT, parameters=[TICKET_NUMBER]),
    },
    "/api/agent/stream": {
        "get": _operation(
            "Server-sent events: a hello (my presence, queue sizes), then the live events of my teams' "
            "conversations; ends after about 5 minutes",
            {"200": {"description": "text/event-stream"}, **_errors(401)}, security=AGENT),
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
    "Webhook": {"type": "object", "properties": {
        "id": {"type": "integer"}, "url": {"type": "string"}, "events": {"type": "array", "items": WEBHOOK_EVENT_NAMES},
        "description": {"type": "string"}, "active": {"type": "boolean"},
        "created_at": {"type": "string", "format": "date-time"},
        "last_delivery": {"oneOf": [WEBHOOK_DELIVERY, {"type": "null"}]}}},
    "WebhookDelivery": {"type": "object", "properties": {
        "id": {"type": "integer"}, "subscription_id": {"type": "integer"}, "event": {"type": "string"},
        "status": {"enum": ["pending", "retrying", "delivered", "failed"]}, "attempts": {"type": "integer"},
        "last_status": {"type": ["integer", "null"]}, "last_error": {"type": ["string", "null"]},
        "next_attempt_at": {"type": ["string", "null"], "format": "date-time"},
        "delivered_at": {"type": ["string", "null"], "format": "date-time"},
        "failed_at": {"type": ["string", "null"], "format": "date-time"},
        "created_at": {"type": "string", "format": "date-time"},
        "payload": {"type": "object", "description": "the envelope POSTed (in /deliveries only)"},
        "attempt_log": {"type": "array", "description": "in /deliveries only", "items": {
            "type": "object", "properties": {
                "attempt": {"type": "integer"}, "status": {"type": ["integer", "null"]},
                "error": {"type": ["string", "null"]}, "duration_ms": {"type": "integer"},
                "created_at": {"type": "string", "format": "date-time"}}}}}},
        "Template": {"type": "object", "required": ["name", "content_sid", "body"], "additionalProperties": False,
                     "properties": {
                         "name": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]*$", "maxLength": 64},
                         "content_sid": {"type": "string", "pattern": "^HX[0-9a-fA-F]{32}$"},
                         "variables": {"type": "array", "maxItems": 20,
                                       "items": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
                                       "description": "what {{1}}, {{2}}... stand for, in order"},
                         "body": {"type": "string", "minLength": 1, "maxLength": 1024,
                                  "description": "the approved text, with {{1}}... placeholders"}}},
        "Error": {"type": "object", "required": ["error"],
                  "properties": {"error": {"type": "string"}, "details": {}}},
        "BotSettings": {"type": "object", "description": "see gateway/bot/settings.py for every field"},
        "Channel": {"type": "object", "properties": {
            "id": {"type": "integer"}, "kind": {"enum": ["whatsapp", "messenger", "web"]},
            "name": {"type": "string"}, "address": {"type": "string"},
            "mode": {"enum": ["bot_only", "hybrid", "offline_or_missed"]}, "team_id": {"type": ["integer", "null"]},
            "disabled": {"type": "boolean"},
            "auth_failing": {"type": "boolean", "description": "the provider refused the credentials on a send"},
            "auth_error": {"type": ["string", "null"]},
            "credential_hints": {"type": "object", "description": "enough of each secret to recognize it"},
            "webhook_urls": {"type": "object", "description": "what to paste in the provider's console"},
            "snippet": {"type": "string", "description": "web channels: the embed snippet"}}},
        "Team": {"type": "object", "properties": {
            "id": {"type": "integer"}, **TEAM_FIELDS, "created_at": {"type": "string", "format": "date-time"},
            "open_now": {"type": "boolean"}, "always_open": {"type": "boolean"},
            "next_opening": {"type": ["string", "null"], "format": "date-time"},
            "next_opening_text": {"type": ["string", "null"]},
            "next_closing": {"type": ["string", "null"], "format": "date-time"},
            "next_closing_text": {"type": ["string", "null"]},
            "online": {"type": "integer"}, "available": {"type": "boolean"},
            "members": {"type": "array", "items": {"type": "object", "properties": {
                "id": {"type": "integer"}, "name": {"type": "string"}, "email": {"type": "string"},
                "presence": {"enum": ["online", "away", "offline"]}, "capacity": {"type": "integer"},
                "open_conversations": {"type": "integer"}}}}}},
        "Agent": {"type": "object", "properties": {
            "id": {"type": "integer"}, "email": {"type": "string"}, "name": {"type": "string"},
            "is_admin": {"type": "boolean"}, "presence": {"enum": ["online", "away", "offline"]},
            "presence_expires_at": {"type": ["string", "null"], "format": "date-time"},
            "capacity": {"type": "integer"}, "open_conversations": {"type": "integer"},
            "teams": {"type": "array", "items": {"type": "object", "properties": {
                "id": {"type": "integer"}, "name": {"type": "string"}}}}}},
        "AgentMessage": {"type": "object", "properties": {
            "id": {"type": "integer"}, "conversation_id": {"type": "integer"},
            "sender": {"enum": ["agent"]}, "agent_name": {"type": "string"}, "text": {"type": "string"},
            "status": {"type": "string"}, "private": {"type": "boolean"}, "metadata": {"type": "object"},
            "created_at": {"type": "string", "format": "date-time"}}},
        "Ticket": {"type": "object", "properties": {
            "number": {"type": "integer"}, "subject": {"type": "string"},
            "status": {"enum": ["open", "pending", "closed"]}, "team": {"type": ["string", "null"]},
            "conversation_id": {"type": ["integer", "null"]}, "reply_email": {"type": ["string", "null"]},
            "due_at": {"type": ["string", "null"], "format": "date-time"}}},
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
