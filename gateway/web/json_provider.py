"""The app's JSON provider: `jsonify` encodes rows the way every other JSON
Handoff sends does (gateway/json_encoding.py)."""

from __future__ import annotations

from flask.json.provider import DefaultJSONProvider

from gateway.json_encoding import encode_default


class HandoffJSONProvider(DefaultJSONProvider):
    default = staticmethod(encode_default)
