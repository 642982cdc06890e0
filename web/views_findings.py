"""Findings (list, detail, acknowledge / suppress / reopen), with JSON twins."""

from __future__ import annotations

from datetime import UTC, datetime, time

from flask import Blueprint, Response, abort, redirect, request, url_for

from registry.access.permissions import check_finding
from registry.core.errors import FeatregError
from registry.core.timeparse import InvalidTime, parse_day
from registry.findings.records import finding_to_dict, get_finding, set_status
from registry.read import lists as queries
from registry.read.common import object_history
from registry.store.db import session_scope

from . import csrf
from .auth import acting, safe_next
from .support import API_PREFIX, db, respond, sessions

bp = Blueprint("findings", __name__)
api = Blueprint("findings_api", __name__, url_prefix=API_PREFIX)
ACTIONS = {"acknowledge": "acknowledged", "suppress": "suppressed", "reopen": "open"}


@bp.get("/findings")
@api.get("/findings")
def findings() -> Response:
    query = queries.FindingsQuery.from_args(request.args)
    return respond("findings.html", queries.findings_page(db(), query), query=query,
                   facets=queries.findings_facets(db()))


@bp.get("/findings/<id:finding_id>")
@api.get("/findings/<id:finding_id>")
def finding(finding_id: int) -> Response:
    data = finding_to_dict(get_finding(db(), finding_id))
    data["history"] = object_history(db(), "finding", str(finding_id))
    return respond("finding.html", data)


def _until(raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        day = parse_day(raw)
    except InvalidTime as exc:
        raise FeatregError(f"'until' must be a date (YYYY-MM-DD), not {raw!r}") from exc
    return datetime.combine(day, time(0, 0), tzinfo=UTC)


@bp.post("/findings/<id:finding_id>/status")
def change_status(finding_id: int) -> Response:
    """Acknowledge, suppress (optionally until a date) or reopen a finding, with a reason."""
    csrf.check_form()
    status = ACTIONS.get(request.form.get("action", ""))
    if status is None:
        abort(400, description="action must be acknowledge, suppress or reopen")
    identity = acting()
    with session_scope(sessions()) as session:
        check_finding(session, identity, get_finding(session, finding_id))
        set_status(session, finding_id, status=status, reason=request.form.get("reason", ""),
                   actor=identity.actor, now=datetime.now(UTC),
                   until=_until(request.form.get("until")))
    target = safe_next(request.form.get("next"),
                       url_for("findings.finding", finding_id=finding_id))
    return redirect(target, code=303)  # type: ignore[return-value]
