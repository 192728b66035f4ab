"""What every request passes before its view: a bounded body, and a URL,
query and form whose text PostgreSQL can store; and who the client is.

- The body: a declared Content-Length over MAX_BODY_BYTES is answered 413
  before a byte of it is read; a body sent without one (chunked) is read
  through Flask's MAX_CONTENT_LENGTH, one byte over the limit at most, and
  is a 413 when there is more. Both answer with Connection: close, so that
  the server does not read the rest of a body nobody wants. This works
  under any WSGI server.
- Text: a NUL in the path, a query parameter or a form field is a 400 naming
  the parameter (PostgreSQL refuses NUL, and no legitimate client sends one).
  Werkzeug decodes URLs and forms with replacement characters, so they never
  hold an unpaired surrogate; JSON bodies are checked where they are read
  (gateway/web/bodies.py).

Twilio signs its form, but it does not retry an answer that is not a
connection failure by default, so a NUL in a signed field is refused too.
"""

from __future__ import annotations


from flask import Flask, Response, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import IntegerConverter

from channels.base import INT64, text_problem
from gateway.errors import ApiError
from gateway.web.errors import error_response


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def client_address() -> str:
    """The client's address: the connection's, or behind TRUSTED_PROXIES
    proxies the one the outermost proxy saw (ProxyFix in create_app)."""
    return request.remote_addr or "unknown"


def too_large(limit: int):
    response, status = error_response(413, f"the request body is larger than {limit} bytes",
                                      {"max_body_bytes": limit})
    response.headers["Connection"] = "close"
    return response, status


class IdConverter(IntegerConverter):
    """<int:...> in routes: an id PostgreSQL's bigint can hold (a larger one is a 404)."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", INT64[1])
        super().__init__(url_map, *args, **kwargs)


def register(app: Flask, *, max_body_bytes: int) -> None:
    # Werkzeug stops reading a body of unknown length at this limit without
    # saying so: one byte more tells a body over the limit from one at it.
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes + 1

    @app.before_request
    def bounded_body():
        if request.content_length is not None:
            if request.content_length > max_body_bytes:
                return too_large(max_body_bytes)
        elif request.environ.get("wsgi.input_terminated") and len(request.get_data(cache=True)) > max_body_bytes:
            return too_large(max_body_bytes)
        return None

    @app.errorhandler(RequestEntityTooLarge)
    def body_too_large(error) -> tuple[Response, int]:
        return too_large(max_body_bytes)

    @app.before_request
    def storable_text():
        problem = text_problem(request.path)
        if problem:
            raise ApiError(400, f"the URL path {problem}")
        parts = [("query parameter", request.args)]
        if request.mimetype in FORM_TYPES:
            parts.append(("form field", request.form))
        for what, values in parts:
            for name, value in values.items(multi=True):
                problem = text_problem(name) or text_problem(value)
                if problem:
                    raise ApiError(400, f"the {what} {name!r} {problem}"[:200])
        return None
