"""Weekly reports (list, one report, its own HTML document sandboxed) and scheduler job runs,
with JSON twins."""

from __future__ import annotations

import logging
import threading
from typing import Any

from flask import Blueprint, Response, current_app, redirect, request, url_for

from registry.core.errors import Forbidden, NotFound
from registry.core.settings import SchedulerSettings
from registry.ops.jobs import JOBS
from registry.read import ops as queries_ops

from . import csrf
from .auth import acting
from .support import API_PREFIX, db, respond

log = logging.getLogger(__name__)

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
    """Each job's schedule, last and next run, and the runs (filters: job, status)."""
    overview = queries_ops.jobs_overview(db(), SchedulerSettings.from_env())
    return respond("jobs.html", {**queries_ops.jobs_list(db(), request.args), "jobs": overview},
                   started=request.args.get("started"))


def _run_in_background(url: str, name: str) -> None:
    """One manual execution through the scheduler's claim and lease (a run already going
    elsewhere makes it `skipped`), on a thread of its own: the request does not wait for a
    job that may take minutes."""
    from registry.ops.scheduler import run_job_now

    def body() -> None:
        try:
            run_job_now(url, name)
        except Exception:  # noqa: BLE001 - recorded as a failed run by execute_job; logged here
            log.exception("manual run of job %s failed", name)

    threading.Thread(target=body, name=f"featreg-run-{name}", daemon=True).start()


@bp.post("/jobs/<name>/run")
def run_job(name: str) -> Response:
    """Run a job now (admins only; a form with its CSRF token). Answers at once: the run
    appears on the jobs page as claimed, running, then succeeded or failed."""
    csrf.check_form()
    identity = acting()
    if not identity.admin:
        raise Forbidden(f"running a job needs an admin token; {identity.actor!r} is not one")
    if name not in JOBS:
        raise NotFound(f"no job named {name!r}; the jobs are {', '.join(JOBS)}")
    log.info("%s runs job %s by hand", identity.actor, name)
    _run_in_background(current_app.config["DATABASE_URL"], name)
    return redirect(url_for("ops.jobs", started=name), code=303)  # type: ignore[return-value]
