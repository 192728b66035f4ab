"""JSON errors: {"error": ..., "details": ...} with the right status."""

from __future__ import annotations

import logging

import psycopg
from flask import Flask, jsonify, request
from marshmallow import ValidationError
from psycopg_pool import PoolTimeout
from werkzeug.exceptions import HTTPException

from channels.base import MalformedPayload
from gateway.errors import ApiError

__all__ = ["ApiError", "error_response", "register_error_handlers"]

log = logging.getLogger(__name__)

# Seconds a client is asked to wait while PostgreSQL is down.
DATABASE_RETRY_AFTER = 5


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

    @app.errorhandler(psycopg.OperationalError)
    @app.errorhandler(PoolTimeout)
    def database_unavailable(error: Exception):
        # Retryable: a provider resends, and nothing was acknowledged that
        # PostgreSQL did not store. The pool replaces broken connections, so
        # requests succeed again as soon as the database is back.
        log.warning("database unavailable on %s %s: %s", request.method, request.path, type(error).__name__)
        response, status = error_response(503, "the database is unavailable; try again shortly")
        response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER)
        return response, status

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal error; it has been logged")
