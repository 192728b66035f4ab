"""The Twilio REST API's Messages endpoint, as the twilio client calls it."""

from __future__ import annotations

import itertools
import re

from tests.fakes.recorder import RecordedRequest, RecordingServer

MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-zA-Z]+)/Messages\.json$")


class FakeTwilio(RecordingServer):
    def __init__(self):
        counter = itertools.count(1)

        def create_message(request: RecordedRequest):
            match = MESSAGES_PATH.match(request.path)
            if request.method != "POST" or not match:
                return 404, {"code": 20404, "message": "The requested resource was not found", "status": 404}
            form = request.form()
            sid = f"SM{next(counter):032x}"
            return 201, {
                "sid": sid, "account_sid": match.group(1), "status": "queued",
                "to": form.get("To", [""])[0], "from": form.get("From", [""])[0],
                "body": form.get("Body", [""])[0], "num_media": "0", "direction": "outbound-api",
                "api_version": "2010-04-01", "error_code": None, "error_message": None,
            }

        super().__init__(create_message)

    def sent(self) -> list[dict]:
        """The form of every Messages.create call, one value per field."""
        return [
            {key: values[0] if len(values) == 1 else values for key, values in r.form().items()}
            for r in self.requests if MESSAGES_PATH.match(r.path)
        ]

    def fail_next(self, status: int, code: int, message: str) -> None:
        self.respond_next(status, {"code": code, "message": message, "status": status,
                                   "more_info": f"https://www.twilio.com/docs/errors/{code}"})
