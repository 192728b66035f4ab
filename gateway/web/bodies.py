"""Reading JSON request bodies: every JSON API answers a body that is not a
JSON object with the same 400."""

from __future__ import annotations

from flask import request

from gateway.errors import ApiError


def json_object(*, empty_allowed: bool = False) -> dict:
    """The request's JSON object; 400 otherwise (an empty body is {} where
    empty_allowed: actions like "claim" need no body)."""
    if empty_allowed and not request.get_data(cache=True):
        return {}
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object")
    return body
