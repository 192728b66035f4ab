"""The Messenger Send API (POST /vNN/me/messages), as pymessenger calls it."""

from __future__ import annotations

import itertools

from tests.fakes.recorder import RecordedRequest, RecordingServer


class FakeGraph(RecordingServer):
    def __init__(self):
        counter = itertools.count(1)

        def send(request: RecordedRequest):
            if request.method != "POST" or not request.path.endswith("/me/messages"):
                return 404, {"error": {"message": "Unknown path", "code": 803}}
            if not request.query.get("access_token"):
                return 400, {"error": {"message": "An access token is required", "code": 190}}
            recipient = request.json().get("recipient", {}).get("id")
            return 200, {"recipient_id": recipient, "message_id": f"m_fake{next(counter)}"}

        super().__init__(send)

    def sent(self) -> list[dict]:
        return [r.json() for r in self.requests if r.path.endswith("/me/messages")]

    def fail_next(self, status: int, code: int, message: str) -> None:
        self.respond_next(status, {"error": {"message": message, "type": "OAuthException", "code": code}})
