"""GET /api/admin/reports?since=DATE&until=DATE&team=ID&channel=ID: the report's figures as
JSON (the same object as `handoff report --json`), for admins."""

from __future__ import annotations

from flask import Blueprint, jsonify

from gateway.web.auth import api_auth
from gateway.web.pages.reports import requested_report

bp = Blueprint("admin_reports", __name__, url_prefix="/api/admin")


@bp.get("/reports")
@api_auth(admin=True)
def report():
    return jsonify(requested_report()[1])
