"""The JSON write API for the catalog: register objects, plan/apply a spec, deprecate/retire,
acknowledge/suppress findings, plus the plain catalog reads the HTTP SDK needs.

Every write is one unit of work through the same services as the CLI and the direct SDK
(`registry.catalog.service`, `registry.findings.records`). Every write needs a token
(`web.auth`); a team token may change only its team's objects (`registry.access.permissions`,
checked on the plan before anything is written). The audit trail records the token's identity
with the X-Featreg-Actor header (or the body's ``actor``) as a note. Plans come back as
`registry.wire.plan_to_dict`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import Any

from flask import Blueprint, Response, abort, jsonify, request

from registry.access.permissions import check_finding, check_plan
from registry.catalog import service as catalog
from registry.catalog.plan import Plan
from registry.catalog.spec import KIND_SINGULAR, KINDS, Spec, parse_documents
from registry.core.errors import InvalidInput, Problem
from registry.core.timeparse import InvalidTime, parse_day
from registry.findings.bulk import parse_ids, set_status_many
from registry.findings.records import finding_to_dict, get_finding, set_status
from registry.read.common import clamp_int
from registry.read.lists import FEATURE_STATUSES, feature_list
from registry.store.db import session_scope
from registry.wire import plan_to_dict

from .api_errors import register_error_handlers, request_object
from .auth import acting, actor
from .support import API_PREFIX, db, sessions

api = Blueprint("api_write", __name__, url_prefix=API_PREFIX)
register_error_handlers(api)

KIND_RULE = "<any(teams,sources,features,consumers):kind>"
FINDING_ACTIONS = {"ack": "acknowledged", "acknowledge": "acknowledged",
                   "suppress": "suppressed", "reopen": "open"}


def _json(data: Any, status: int = 200) -> Response:
    response = jsonify(data)
    response.status_code = status
    return response


def _problem(message: str, field: str | None = None) -> InvalidInput:
    return InvalidInput([Problem(message, field=field)])


def _optional_text(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise _problem(f"{key} must be a string", key)
    return value


def _date(body: Mapping[str, Any], key: str) -> date | None:
    value = _optional_text(body, key)
    if value is None:
        return None
    try:
        return parse_day(value)
    except InvalidTime:
        raise _problem(f"{key} must be a date (YYYY-MM-DD), not {value!r}", key) from None


def _may_apply(plan: Plan) -> None:
    check_plan(acting(), plan)


def _register(entries: list[tuple[str, Mapping[str, Any]]], label: str, who: str) -> Response:
    spec = catalog.spec_from_entries(entries)
    with session_scope(sessions()) as session:
        plan, changeset = catalog.apply_spec(session, spec, actor=who, kind="sdk",
                                             label=label[:255], check=_may_apply)
    return _json(plan_to_dict(plan, changeset))


# ----- registration --------------------------------------------------------------------------


@api.post("/register")
def register() -> Response:
    """Register objects of any kinds as one change set (what an SDK batch sends)."""
    body = request_object()
    raw = body.get("entries")
    if not isinstance(raw, list) or not raw:
        raise _problem("entries must be a non-empty list of {kind, fields}", "entries")
    _refuse_large(len(raw))
    entries: list[tuple[str, Mapping[str, Any]]] = []
    for position, item in enumerate(raw, start=1):
        if (not isinstance(item, dict) or item.get("kind") not in KINDS
                or not isinstance(item.get("fields"), dict)):
            raise _problem(f"each entry needs kind (one of {', '.join(KINDS)}) and fields "
                           "(an object)", f"entries[{position}]")
        entries.append((item["kind"], item["fields"]))
    label = _optional_text(body, "label") or "api register"
    return _register(entries, label, actor(body))


@api.put(f"/{KIND_RULE}/<name>")
def put_object(kind: str, name: str) -> Response:
    """Register or redeclare whole one object named in the URL."""
    body = request_object()
    if body.get("name", name) != name:
        raise _problem(f"the body names {body.get('name')!r} but the URL names {name!r}", "name")
    fields = {k: v for k, v in body.items() if k != "actor"} | {"name": name}
    return _register([(kind, fields)], f"api {kind} {name}", actor(body))


@api.post(f"/{KIND_RULE}")
def post_object(kind: str) -> Response:
    """Register or redeclare whole one object named in the body."""
    body = request_object()
    fields = {k: v for k, v in body.items() if k != "actor"}
    return _register([(kind, fields)], f"api {kind} {fields.get('name')}", actor(body))


# ----- plan and apply --------------------------------------------------------------------------


MAX_SPEC_ENTRIES = 100_000  # objects in one plan, apply or register request


def _refuse_large(count: int) -> None:
    if count > MAX_SPEC_ENTRIES:
        abort(413, description=f"at most {MAX_SPEC_ENTRIES:,} objects per request "
                               f"(this one has {count:,}); split the spec or use featreg apply")


def _spec_from_dict(spec: Any) -> Spec:
    if not isinstance(spec, dict):
        raise _problem("spec must be an object of teams/sources/features/consumers", "spec")
    _refuse_large(sum(len(v) for v in spec.values() if isinstance(v, list)))
    entries: list[tuple[str, Mapping[str, Any]]] = []
    problems = []
    for key, items in spec.items():
        if key not in KINDS:
            problems.append(Problem(f"unknown top-level key {key!r} (allowed: "
                                    f"{', '.join(KINDS)})", field="spec"))
        elif not isinstance(items, list | None):
            problems.append(Problem(f"{key!r} must be a list", field="spec"))
        else:
            for item in items or []:
                if isinstance(item, dict):
                    entries.append((key, item))
                else:
                    problems.append(Problem(f"each entry of {key!r} must be a mapping",
                                            field="spec"))
    if problems:
        raise InvalidInput(problems)
    return catalog.spec_from_entries(entries)


def _spec_from_body(body: Mapping[str, Any]) -> Spec:
    """The spec of a plan/apply request: ``yaml`` (a document, or {file name: document}) or
    ``spec`` (the YAML structure as JSON)."""
    if ("yaml" in body) == ("spec" in body):
        raise _problem("give either yaml (YAML text) or spec (an object), not both or neither")
    if "spec" in body:
        return _spec_from_dict(body["spec"])
    documents = body["yaml"]
    if isinstance(documents, str):
        documents = {"request.yaml": documents}
    if not isinstance(documents, dict) or not all(isinstance(v, str)
                                                  for v in documents.values()):
        raise _problem("yaml must be YAML text or an object of file name to YAML text", "yaml")
    spec = parse_documents(sorted(documents.items()))
    _refuse_large(sum(len(spec.of(kind)) for kind in KINDS))
    return spec


def _prune(body: Mapping[str, Any]) -> bool:
    prune = body.get("prune", False)
    if not isinstance(prune, bool):
        raise _problem("prune must be true or false", "prune")
    return prune


@api.post("/plan")
def plan() -> Response:
    """The changes `apply` would make, without making them."""
    body = request_object()
    spec, prune = _spec_from_body(body), _prune(body)
    return _json({"plan": plan_to_dict(catalog.plan_spec(db(), spec, prune=prune))})


@api.post("/apply")
def apply() -> Response:
    """Apply a spec atomically (all or nothing), like `featreg apply`."""
    body = request_object()
    spec, prune = _spec_from_body(body), _prune(body)
    label = _optional_text(body, "label") or "api apply"
    with session_scope(sessions()) as session:
        result, changeset = catalog.apply_spec(session, spec, actor=actor(body), prune=prune,
                                               kind="apply", label=label[:255],
                                               check=_may_apply)
    return _json({"plan": plan_to_dict(result, changeset), "applied": changeset is not None,
                  "changeset": changeset})


# ----- lifecycle ---------------------------------------------------------------------------------


@api.post("/features/<name>/<any(deprecate,undeprecate,retire):action>")
def lifecycle(name: str, action: str) -> Response:
    """Deprecate (sunset, replacement, reason), undeprecate, or retire (reason) a feature."""
    body = request_object() if request.content_length else {}
    status = {"deprecate": "deprecated", "undeprecate": "active", "retire": "retired"}[action]
    options: dict[str, Any] = {}
    if action == "deprecate":
        options = {"sunset": _date(body, "sunset"),
                   "replacement": _optional_text(body, "replacement")}
    if action != "undeprecate":
        options["reason"] = _optional_text(body, "reason")
    with session_scope(sessions()) as session:
        result = catalog.set_lifecycle(session, name, status=status, actor=actor(body),
                                       check=_may_apply, **options)
    return _json(plan_to_dict(result))


# ----- findings ----------------------------------------------------------------------------------


@api.post("/findings/<id:finding_id>/<any(ack,acknowledge,suppress,reopen):action>")
def finding_status(finding_id: int, action: str) -> Response:
    """Acknowledge, suppress (optionally ``until`` a date) or reopen a finding, with a reason."""
    body = request_object()
    until = _date(body, "until")
    with session_scope(sessions()) as session:
        check_finding(session, acting(), get_finding(session, finding_id))
        finding = set_status(
            session, finding_id, status=FINDING_ACTIONS[action],
            reason=_optional_text(body, "reason") or "", actor=actor(body),
            now=datetime.now(UTC),
            until=datetime.combine(until, time(0, 0), tzinfo=UTC) if until else None)
        data = finding_to_dict(finding)
    return _json(data)


@api.post("/findings/bulk")
def finding_status_many() -> Response:
    """Acknowledge, suppress (optionally ``until`` a date) or reopen many findings (``ids``)
    with one ``reason``: each checked as the single action is, all or none changed, each
    audited."""
    body = request_object()
    raw_ids = body.get("ids")
    if not isinstance(raw_ids, list):
        raise _problem("ids must be a list of finding ids", "ids")
    ids = parse_ids(raw_ids)
    until = _date(body, "until")
    identity = acting()
    with session_scope(sessions()) as session:
        changed = set_status_many(
            session, ids, action=_optional_text(body, "action") or "",
            reason=_optional_text(body, "reason") or "", actor=actor(body),
            now=datetime.now(UTC),
            until=datetime.combine(until, time(0, 0), tzinfo=UTC) if until else None,
            check=lambda f: check_finding(session, identity, f))
        data = [finding_to_dict(f) for f in changed]
    return _json({"count": len(data), "findings": data})


# ----- plain catalog reads (the SDK's get / list / history) ---------------------------------


@api.get("/catalog/objects/<path:name>")
def catalog_object(name: str) -> Response:
    """A feature, source, consumer or team by name, as stored (what `Client.get` returns)."""
    kind, fields = catalog.find_object(db(), name)
    return _json({"type": KIND_SINGULAR[kind], "name": name, **fields})


@api.get("/catalog/features")
def catalog_features() -> Response:
    """Every feature matching the filters, by name (what `Client.list` returns): the listing of
    ``GET /api/v1/features`` (the same search and filters; ``search`` or ``q``) unpaged, with
    whole descriptions."""
    args = {key: request.args.get(key) or None
            for key in ("search", "q", "owner", "status", "tag", "finding")}
    if args["status"] is not None and args["status"] not in FEATURE_STATUSES:
        abort(400, description="status must be active, deprecated or retired")
    return _json(feature_list(db(), search=args["search"] or args["q"], owner=args["owner"],
                              status=args["status"], tag=args["tag"], finding=args["finding"]))


@api.get("/catalog/history")
def catalog_history() -> Response:
    """Audit events, newest first, of one object (``name``) or all (what `Client.history`
    returns)."""
    limit = clamp_int(request.args.get("limit"), 200, 1, 10_000)
    events = catalog.history(db(), request.args.get("name") or None, limit)
    return _json([{"ts": e.ts.isoformat(), "actor": e.actor, "action": e.action,
                   "type": e.object_type, "name": e.object_name, "before": e.before,
                   "after": e.after} for e in events])
