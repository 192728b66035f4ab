"""Reading request input at the edge: every JSON API answers a body that is
not a JSON object it can store with the same 400, and nothing reaches a
handler (or PostgreSQL) that it could not store.

The body size is bounded before any of this (gateway/web/limits.py: 413).
"""

from __future__ import annotations

from flask import request

from channels.base import MalformedPayload, json_problem, load_json
from gateway.errors import ApiError

NOT_AN_OBJECT = "the request body must be a JSON object"


def json_object(*, empty_allowed: bool = False) -> dict:
    """The request's JSON object; 400 otherwise (an empty body is {} where
    empty_allowed: actions like "claim" need no body). Refused with the
    reason: not JSON, nested too deep, a number out of range, a NUL or an
    unpaired surrogate in any key or string."""
    raw = request.get_data(cache=True)
    if empty_allowed and not raw:
        return {}
    try:
        body = load_json(raw)
    except MalformedPayload as error:
        raise ApiError(400, NOT_AN_OBJECT, f"{error}: {error.details}") from None
    if not isinstance(body, dict):
        raise ApiError(400, NOT_AN_OBJECT)
    problem = json_problem(body)
    if problem:
        raise ApiError(400, "the request body has a value that cannot be stored", problem)
    return body
