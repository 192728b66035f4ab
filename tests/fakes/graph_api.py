"""The Messenger Send API (POST /vNN.N/me/messages), as pymessenger calls it.

Strict where Graph is: a versioned path, an access token in the query, a JSON
object body with recipient.id, a valid messaging_type (and a tag for
MESSAGE_TAG) and text within 2000 characters. Anything else gets Graph's
error shape with code 100, so a wrong payload fails a test instead of
passing silently. `delivered` holds what it accepted; `requests` holds
every call, including the ones answered by a scripted failure.
"""

from __future__ import annotations

import itertools
import json
import re

from tests.fakes.recorder import RecordedRequest, RecordingServer

SEND_PATH = re.compile(r"^/v(?P<version>\d+\.\d+)/me/messages$")
ME_PATH = re.compile(r"^/v\d+\.\d+/me$")
MESSAGING_TYPES = {"RESPONSE", "UPDATE", "MESSAGE_TAG"}
TAGS = {"ACCOUNT_UPDATE", "CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE", "CUSTOMER_FEEDBACK", "HUMAN_AGENT"}
TEXT_LIMIT = 2000


def graph_error(code: int, message: str, *, type_: str = "OAuthException", is_transient: bool | None = None,
                subcode: int | None = None) -> dict:
    error = {"message": message, "type": type_, "code": code, "fbtrace_id": "AbCdEfGhIjK"}
    if subcode is not None:
        error["error_subcode"] = subcode
    if is_transient is not None:
        error["is_transient"] = is_transient
    return {"error": error}


def invalid(message: str) -> tuple[int, dict]:
    return 400, graph_error(100, f"(#100) {message}")


class FakeGraph(RecordingServer):
    def __init__(self):
        counter = itertools.count(1)
        self.delivered: list[dict] = []
        # Page tokens Graph knows (token -> (page id, name)); empty: any token is fine.
        self.page_tokens: dict[str, tuple[str, str]] = {}

        def send(request: RecordedRequest):
            token = (request.query.get("access_token") or [""])[0]
            if self.page_tokens and token not in self.page_tokens:
                return 400, graph_error(190, "Invalid OAuth access token - Cannot parse access token")
            if request.method == "GET" and ME_PATH.match(request.path):
                page_id, name = self.page_tokens.get(token, ("0", "Any page"))
                return 200, {"id": page_id, "name": name}
            if request.method != "POST" or not SEND_PATH.match(request.path):
                return 400, graph_error(2500, f"Unknown path components: {request.path}")
            if not request.query.get("access_token"):
                return 400, graph_error(190, "An active access token must be used to query information.")
            try:
                body = request.json()
            except ValueError:
                return invalid("The request body is not JSON")
            if not isinstance(body, dict):
                return invalid("The request body must be an object")
            recipient = body.get("recipient")
            if not isinstance(recipient, dict) or not recipient.get("id"):
                return invalid("param recipient must be an object with an id")
            if body.get("messaging_type") not in MESSAGING_TYPES:
                return invalid("param messaging_type must be one of RESPONSE, UPDATE, MESSAGE_TAG")
            if body["messaging_type"] == "MESSAGE_TAG" and body.get("tag") not in TAGS:
                return invalid("param tag must be a valid message tag")
            message = body.get("message")
            if not isinstance(message, dict):
                return invalid("param message must be an object")
            if len(str(message.get("text", ""))) > TEXT_LIMIT:
                return invalid(f"Length of param message[text] must be less than or equal to {TEXT_LIMIT}")
            self.delivered.append(body)
            return 200, {"recipient_id": recipient["id"], "message_id": f"m_fake{next(counter)}"}

        super().__init__(send)

    def sent(self) -> list[dict]:
        """Every body POSTed to the Send API, accepted or not."""
        return [json.loads(r.body) for r in self.requests if SEND_PATH.match(r.path)]

    def fail_next(self, status: int, code: int, message: str, *, is_transient: bool | None = None,
                  subcode: int | None = None, headers: dict | None = None) -> None:
        """Answer the next call with a Graph error body."""
        self.respond_next(status, graph_error(code, message, is_transient=is_transient, subcode=subcode), headers)

    def know_page_token(self, token: str, page_id: str, name: str) -> None:
        """From now on Graph accepts only the tokens it was told of, each for its Page."""
        with self.lock:
            self.page_tokens[token] = (page_id, name)

    def reset(self) -> None:
        super().reset()
        with self.lock:
            self.delivered.clear()
            self.page_tokens.clear()
