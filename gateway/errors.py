"""The error a request is refused with: an HTTP status, a sentence for the
caller, details. Without Flask, so that domain code the web calls (the agent
actions) can raise it too; gateway/web/errors.py answers it as JSON."""

from __future__ import annotations


class ApiError(Exception):
    def __init__(self, status: int, message: str, details=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details
