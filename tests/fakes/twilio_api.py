"""The Twilio REST API's Messages endpoint, as the twilio client calls it."""

from __future__ import annotations

import re

from tests.fakes.recorder import RecordedRequest, RecordingServer

MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-zA-Z]+)/Messages\.json$")


def message_sid(number: int) -> str:
    return f"SM{number:032x}"


class FakeTwilio(RecordingServer):
    def __init__(self):
        # How many messages this server created; each gets sid SM%032x of its number.
        self.created_count = 0

        def create_message(request: RecordedRequest):
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
