"""Stand-ins for the OpenAI Chat Completions API and the Anthropic Messages
API, as the official SDKs call them.

Like recorder.RecordingServer, each is a loopback HTTP server that records
every request and answers from a script, else with a good answer. A
scripted response may also carry headers and a delay: the delay is waited
out in the handler's thread after the lock is released, so a test can let
the client's short timeout expire without holding up other requests. The
wait ends early on reset() and stop(), so no handler outlives its test.

Strict where the APIs are: the path, the credentials header and the fields
the SDK must send are checked, and a wrong request gets the provider's error
shape, so a wrong call fails a test instead of passing silently.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from tests.fakes.recorder import RecordedRequest

# Sent with scripted failures: the SDKs honour it, so their one retry
# follows at once instead of after a half-second backoff.
QUICK_RETRY = {"retry-after-ms": "20"}


@dataclass
class Scripted:
    status: int
    body: dict | str
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering


class ScriptedServer:
    """The loopback server; a subclass says what a request must look like
    (`invalid`) and what a good answer is (`default`)."""

    path = ""

    def __init__(self):
        self.requests: list[RecordedRequest] = []
        self.scripted: deque[Scripted] = deque()
        self.lock = threading.Lock()
        self.released = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                recorded = RecordedRequest(
                    method=self.command, path=parts.path, query=parse_qs(parts.query),
                    headers={name.lower(): value for name, value in self.headers.items()},
                    body=self.rfile.read(length),
                )
                with server.lock:
                    server.requests.append(recorded)
                    response = server.invalid(recorded)
                    if response is None:
                        response = server.scripted.popleft() if server.scripted else server.default()
                    released = server.released
                if response.delay:
                    released.wait(response.delay)
                payload = response.body if isinstance(response.body, str) else json.dumps(response.body)
                encoded = payload.encode("utf-8")
                try:
                    self.send_response(response.status)
                    self.send_header("Content-Type", "text/html" if isinstance(response.body, str)
                                     else "application/json")
                    self.send_header("Content-Length", str(len(encoded)))
                    for name, value in response.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(encoded)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and hung up: that was the point

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self):
        self.thread.start()
        return self

    def stop(self) -> None:
        self.released.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.scripted.clear()
            self.released.set()  # end the waits of the previous test's delayed answers
            self.released = threading.Event()

    def respond_next(self, response: Scripted) -> None:
        with self.lock:
            self.scripted.append(response)

    def sent(self) -> list[dict]:
        """The JSON body of every request to the API's endpoint."""
        with self.lock:
            return [r.json() for r in self.requests if r.path == self.path]

    def invalid(self, request: RecordedRequest) -> Scripted | None:
        raise NotImplementedError

    def default(self) -> Scripted:
        raise NotImplementedError


GOOD_ANSWER = {"text": "Standard shipping takes 3 to 5 business days.", "confidence": 0.9, "needs_human": False,
               "sources": [1]}


class FakeOpenAI(ScriptedServer):
    """POST /v1/chat/completions (the SDK's base URL is url + "/v1")."""

    path = "/v1/chat/completions"

    def __init__(self, model: str = "gpt-test"):
        super().__init__()
        self.model = model
        self.completions = 0

    def invalid(self, request: RecordedRequest) -> Scripted | None:
        if request.method != "POST" or request.path != self.path:
            return openai_error(404, f"Invalid URL ({request.method} {request.path})", "invalid_request_error")
        if not request.headers.get("authorization", "").removeprefix("Bearer ").strip():
            return openai_error(401, "You didn't provide an API key.", "invalid_request_error")
        try:
            body = request.json()
        except ValueError:
            return openai_error(400, "We could not parse the JSON body of your request.", "invalid_request_error")
        if not isinstance(body, dict):
            return openai_error(400, "The body of your request must be a JSON object.", "invalid_request_error")
        messages = body.get("messages")
        if not isinstance(body.get("model"), str) or not body["model"]:
            return openai_error(400, "you must provide a model parameter", "invalid_request_error")
        if not isinstance(messages, list) or not messages or not all(
                isinstance(m, dict) and m.get("role") in ("system", "developer", "user", "assistant")
                and isinstance(m.get("content"), str) for m in messages):
            return openai_error(400, "Invalid 'messages'.", "invalid_request_error")
        return None

    def default(self) -> Scripted:
        return self.completion(json.dumps(GOOD_ANSWER))

    def completion(self, content: str | None, *, finish_reason: str = "stop", refusal: str | None = None,
                   delay: float = 0.0) -> Scripted:
        self.completions += 1
        return Scripted(200, {
            "id": f"chatcmpl-{self.completions}", "object": "chat.completion", "created": 1767225600,
            "model": self.model,
            "choices": [{"index": 0, "finish_reason": finish_reason, "logprobs": None,
                         "message": {"role": "assistant", "content": content, "refusal": refusal}}],
            "usage": {"prompt_tokens": 420, "completion_tokens": 42, "total_tokens": 462},
        }, headers={"x-request-id": f"req_{self.completions}"}, delay=delay)

    def answer_next(self, answer: object, **options) -> None:
        """The model's message content: a string as it is, anything else as JSON."""
        self.respond_next(self.completion(answer if isinstance(answer, str) else json.dumps(answer), **options))

    def refuse_next(self) -> None:
        self.respond_next(self.completion(None, refusal="I'm sorry, I can't help with that request."))

    def delay_next(self, seconds: float) -> None:
        self.respond_next(self.completion(json.dumps(GOOD_ANSWER), delay=seconds))

    def fail_next(self, status: int, message: str, error_type: str = "server_error", code: str | None = None) -> None:
        self.respond_next(openai_error(status, message, error_type, code, headers=QUICK_RETRY))


def openai_error(status: int, message: str, error_type: str, code: str | None = None,
                 headers: dict | None = None) -> Scripted:
    return Scripted(status, {"error": {"message": message, "type": error_type, "param": None, "code": code}},
                    headers={"x-request-id": "req_error", **(headers or {})})


class FakeAnthropic(ScriptedServer):
    """POST /v1/messages (the SDK's base URL is url)."""

    path = "/v1/messages"

    def __init__(self, model: str = "claude-test"):
        super().__init__()
        self.model = model
        self.messages = 0

    def invalid(self, request: RecordedRequest) -> Scripted | None:
        if request.method != "POST" or request.path != self.path:
            return anthropic_error(404, "not_found_error", "Not found")
        # The SDK sends the API key as a bearer token; older ones sent x-api-key.
        if not (request.headers.get("x-api-key") or request.headers.get("authorization", "").removeprefix("Bearer ")):
            return anthropic_error(401, "authentication_error", "x-api-key header is required")
        if not request.headers.get("anthropic-version"):
            return anthropic_error(400, "invalid_request_error", "anthropic-version header is required")
        try:
            body = request.json()
        except ValueError:
            return anthropic_error(400, "invalid_request_error", "The request body is not valid JSON.")
        if not isinstance(body, dict):
            return anthropic_error(400, "invalid_request_error", "The request body must be a JSON object.")
        if not isinstance(body.get("model"), str) or not body["model"]:
            return anthropic_error(400, "invalid_request_error", "model: Field required")
        if not isinstance(body.get("max_tokens"), int):
            return anthropic_error(400, "invalid_request_error", "max_tokens: Field required")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages or not all(
                isinstance(m, dict) and m.get("role") in ("user", "assistant") and m.get("content")
                for m in messages):
            return anthropic_error(400, "invalid_request_error", "messages: invalid")
        if messages[-1]["role"] != "user":
            return anthropic_error(400, "invalid_request_error", "This model does not support assistant prefill.")
        return None

    def default(self) -> Scripted:
        return self.message([self.tool_use(GOOD_ANSWER)], "tool_use")

    def message(self, content: list[dict], stop_reason: str, delay: float = 0.0) -> Scripted:
        self.messages += 1
        return Scripted(200, {
            "id": f"msg_{self.messages:024d}", "type": "message", "role": "assistant", "model": self.model,
            "content": content, "stop_reason": stop_reason, "stop_sequence": None,
            "usage": {"input_tokens": 420, "output_tokens": 42},
        }, headers={"request-id": f"req_{self.messages}"}, delay=delay)

    def tool_use(self, answer: object, name: str = "answer_customer") -> dict:
        return {"type": "tool_use", "id": f"toolu_{self.messages:024d}", "name": name, "input": answer}

    def answer_next(self, answer: object) -> None:
        """The input of the model's answer_customer call."""
        self.respond_next(self.message([self.tool_use(answer)], "tool_use"))

    def text_next(self, text: str) -> None:
        """A plain text reply: the model did not call the tool."""
        self.respond_next(self.message([{"type": "text", "text": text}], "end_turn"))

    def refuse_next(self) -> None:
        self.respond_next(self.message([], "refusal"))

    def delay_next(self, seconds: float) -> None:
        self.respond_next(self.message([self.tool_use(GOOD_ANSWER)], "tool_use", delay=seconds))

    def fail_next(self, status: int, message: str, error_type: str = "api_error") -> None:
        self.respond_next(anthropic_error(status, error_type, message, headers=QUICK_RETRY))


def anthropic_error(status: int, error_type: str, message: str, headers: dict | None = None) -> Scripted:
    return Scripted(status, {"type": "error", "error": {"type": error_type, "message": message}},
                    headers={"request-id": "req_error", **(headers or {})})
