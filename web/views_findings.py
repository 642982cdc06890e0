"""Findings (list, detail, acknowledge / suppress / reopen one or many), with JSON twins, and
the deprecation a finding suggests (a form for a signed-in owner)."""

from __future__ import annotations

from datetime import UTC, datetime, time

from flask import Blueprint, Response, abort, redirect, request, url_for

from registry.access.permissions import check_finding, check_plan
from registry.catalog import service as catalog
from registry.core.errors import FeatregError
from registry.core.timeparse import InvalidTime, parse_day
from registry.findings.bulk import parse_ids, set_status_many
from registry.findings.records import get_finding, set_status
from registry.read import lists as queries
from registry.read.finding_detail import finding_detail, finding_page_extras
from registry.read.findings_list import findings_list, parse_list_args
from registry.store.db import session_scope

from . import csrf
from .auth import acting, safe_next
from .finding_pictures import draw_picture
from .support import API_PREFIX, db, respond, sessions, wants_json

bp = Blueprint("findings", __name__)
api = Blueprint("findings_api", __name__, url_prefix=API_PREFIX)
ACTIONS = {"acknowledge": "acknowledged", "suppress": "suppressed", "reopen": "open"}


@bp.get("/findings")
@api.get("/findings")
def findings() -> Response:
    query, sort, view = parse_list_args(request.args)
    return respond("findings.html", findings_list(db(), query, sort=sort, view=view),
                   query=query, facets=queries.findings_facets(db()))


@bp.get("/findings/<id:finding_id>")
@api.get("/findings/<id:finding_id>")
def finding(finding_id: int) -> Response:
    data = finding_detail(db(), finding_id)
    if wants_json():
        return respond("finding.html", data)
    extras = finding_page_extras(db(), data, today=datetime.now(UTC).date())
    return respond("finding.html", data, picture_svg=draw_picture(extras["picture"]),
                   **extras)


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


@bp.post("/findings/bulk")
def change_status_many() -> Response:
    """The findings list's checkboxes: one action and one reason for every ticked finding,
    each checked as the single action is (all or none change)."""
    csrf.check_form()
    identity = acting()
    ids = parse_ids(request.form.getlist("ids"))
    with session_scope(sessions()) as session:
        set_status_many(session, ids, action=request.form.get("action", ""),
                        reason=request.form.get("reason", ""), actor=identity.actor,
                        now=datetime.now(UTC), until=_until(request.form.get("until")),
                        check=lambda f: check_finding(session, identity, f))
    target = safe_next(request.form.get("next"), url_for("findings.findings"))
    return redirect(target, code=303)  # type: ignore[return-value]


@bp.post("/features/<name>/deprecate")
def deprecate_feature(name: str) -> Response:
    """Start the deprecation a finding suggests: the feature's team or an admin, signed in."""
    csrf.check_form()
    identity = acting()
    raw_sunset = request.form.get("sunset", "")
    try:
        sunset = parse_day(raw_sunset)
    except InvalidTime as exc:
        raise FeatregError(f"'sunset' must be a date (YYYY-MM-DD), not {raw_sunset!r}") from exc
    with session_scope(sessions()) as session:
        catalog.set_lifecycle(session, name, status="deprecated", actor=identity.actor,
                              sunset=sunset, replacement=request.form.get("replacement") or None,
                              reason=request.form.get("reason") or None,
                              check=lambda plan: check_plan(identity, plan))
    return redirect(url_for("catalog.feature", name=name), code=303)  # type: ignore[return-value]
