"""JSON errors: {"error": ..., "details": ...} with the right status."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from channels.base import MalformedPayload
from gateway.errors import ApiError

__all__ = ["ApiError", "error_response", "register_error_handlers"]

log = logging.getLogger(__name__)


def error_response(status: int, message: str, details=None):
    body = {"error": message}
    if details is not None:
        body["details"] = details
    return jsonify(body), status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def api_error(error: ApiError):
        response, status = error_response(error.status, error.message, error.details)
        response.headers.update(error.headers)
        return response, status

    @app.errorhandler(MalformedPayload)
    def malformed(error: MalformedPayload):
        return error_response(400, str(error), error.details)

    @app.errorhandler(ValidationError)
    def invalid(error: ValidationError):
        return error_response(400, "invalid request body", error.messages)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if request.path.startswith(("/api/", "/webhooks/")):
            return error_response(error.code or 500, error.description or error.name)
        return error

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal error; it has been logged")
