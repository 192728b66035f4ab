"""One JSON encoding for what Handoff sends: API responses (the app's JSON
provider), live events, SSE frames and webhook payloads. Times are ISO 8601
(never Flask's HTTP dates, never str()'s space), numerics are numbers."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any


def encode_default(value: Any):
    """json's `default` for the types rows carry."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(value: Any, **kwargs) -> str:
    return json.dumps(value, default=encode_default, **kwargs)


def plain(value: Any) -> Any:
    """The value with JSON types only (times as ISO strings), for a jsonb column."""
    return json.loads(dumps(value))
