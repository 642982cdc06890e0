"""Weekly reports (list, one report, its own HTML document sandboxed) and scheduler job runs,
with JSON twins."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from registry.core.errors import NotFound
from registry.read import ops as queries_ops

from .support import API_PREFIX, db, respond

bp = Blueprint("ops", __name__)
api = Blueprint("ops_api", __name__, url_prefix=API_PREFIX)


@bp.get("/reports")
@api.get("/reports")
def reports() -> Response:
    return respond("reports.html", queries_ops.reports_list(db(), request.args))


def _report(report_id: int) -> dict[str, Any]:
    detail = queries_ops.report_detail(db(), report_id)
    if detail is None:
        raise NotFound(f"no weekly report with id {report_id}")
    return detail


@bp.get("/reports/<id:report_id>")
@api.get("/reports/<id:report_id>")
def report(report_id: int) -> Response:
    return respond("report.html", _report(report_id))


@bp.get("/reports/<id:report_id>/page")
def report_page(report_id: int) -> Response:
    """The report's own HTML document, sandboxed (no scripts, no same-origin access)."""
    response = Response(_report(report_id)["report"]["html"], mimetype="text/html")
    response.headers["Content-Security-Policy"] = (
        "sandbox; default-src 'none'; img-src data: 'self'; style-src 'unsafe-inline'")
    return response


@bp.get("/jobs")
@api.get("/jobs")
def jobs() -> Response:
    return respond("jobs.html", queries_ops.jobs_list(db(), request.args))
