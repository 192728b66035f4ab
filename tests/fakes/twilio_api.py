"""The Twilio REST API's Messages and Accounts endpoints, as the twilio client calls them.

Any credentials are accepted, unless a test says which auth token an
account has (`require_token`): then a request with another one is refused
as Twilio refuses it (401, error 20003).
"""

from __future__ import annotations

import base64
import re

from tests.fakes.recorder import RecordedRequest, RecordingServer

MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-zA-Z]+)/Messages\.json$")
ACCOUNT_PATH = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-zA-Z]+)\.json$")
AUTHENTICATE = {"code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003",
                "status": 401}


def message_sid(number: int) -> str:
    return f"SM{number:032x}"


class FakeTwilio(RecordingServer):
    def __init__(self):
        # How many messages this server created; each gets sid SM%032x of its number.
        self.created_count = 0
        self.tokens: dict[str, str] = {}

        def create_message(request: RecordedRequest):
            if not self._authenticated(request):
                return 401, AUTHENTICATE
            account = ACCOUNT_PATH.match(request.path)
            if request.method == "GET" and account:
                return 200, {"sid": account.group(1), "friendly_name": "Test account", "status": "active",
                             "type": "Full"}
            match = MESSAGES_PATH.match(request.path)
            if request.method != "POST" or not match:
                return 404, {"code": 20404, "message": "The requested resource was not found", "status": 404}
            form = request.form()
            self.created_count += 1  # called under self.lock
            sid = message_sid(self.created_count)
            return 201, {
                "sid": sid, "account_sid": match.group(1), "status": "queued",
                "to": form.get("To", [""])[0], "from": form.get("From", [""])[0],
                "body": form.get("Body", [""])[0], "num_media": "0", "direction": "outbound-api",
                "api_version": "2010-04-01", "error_code": None, "error_message": None,
            }

        super().__init__(create_message)

    def require_token(self, account_sid: str, token: str) -> None:
        """From now on, this account's requests need this auth token."""
        with self.lock:
            self.tokens[account_sid] = token

    def _authenticated(self, request: RecordedRequest) -> bool:
        user, _, password = base64.b64decode(
            request.headers.get("Authorization", "").removeprefix("Basic ") or b"").decode().partition(":")
        return user not in self.tokens or self.tokens[user] == password

    def reset(self) -> None:
        super().reset()
        with self.lock:
            self.tokens.clear()

    def next_sid(self) -> str:
        """The sid the next successfully created message will get (for receipts
        that must arrive before the send returns)."""
        with self.lock:
            return message_sid(self.created_count + 1)

    def sent(self) -> list[dict]:
        """The form of every Messages.create call, one value per field."""
        return [
            {key: values[0] if len(values) == 1 else values for key, values in r.form().items()}
            for r in self.requests if MESSAGES_PATH.match(r.path)
        ]

    def fail_next(self, status: int, code: int, message: str, headers: dict | None = None) -> None:
        self.respond_next(status, {"code": code, "message": message, "status": status,
                                   "more_info": f"https://www.twilio.com/docs/errors/{code}"}, headers)
