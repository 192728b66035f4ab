"""The error a request is refused with: an HTTP status, a sentence for the
caller, details. Without Flask, so that domain code the web calls (the agent
actions) can raise it too; gateway/web/errors.py answers it as JSON."""

from __future__ import annotations


class ApiError(Exception):
    def __init__(self, status: int, message: str, details=None, *, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details
        self.headers = headers or {}


def too_many(what: str, retry_after: int) -> ApiError:
    """429 for a rate limit, with the Retry-After it names."""
    return ApiError(429, f"too many {what}: try again in {retry_after} s", {"retry_after": retry_after},
                    headers={"Retry-After": str(retry_after)})


def describe_details(details, path: str = "") -> str:
    """Validation details (marshmallow's nested messages) on one line:
    "vip.priority: must be one of …; low_confidence_streak: …"."""
    if isinstance(details, dict):
        return "; ".join(describe_details(value, f"{path}.{key}" if path else str(key))
                         for key, value in details.items())
    if isinstance(details, list) and all(isinstance(message, str) for message in details):
        return f"{path or 'document'}: {' '.join(details)}"
    return f"{path or 'document'}: {details}"
