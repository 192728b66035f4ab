"""GET /api/admin/reports?since=DATE&until=DATE&team=ID&channel=ID: the report's figures as
JSON (the same object as `handoff report --json`), for admins."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from gateway.reporting.figures import build_report
from gateway.services import services
from gateway.web.auth import api_auth
from gateway.web.pages.reports import requested_range

bp = Blueprint("admin_reports", __name__, url_prefix="/api/admin")


@bp.get("/reports")
@api_auth(admin=True)
def report():
    window = requested_range(request.args)
    with services().pool.connection() as conn:
        return jsonify(build_report(conn, window))
