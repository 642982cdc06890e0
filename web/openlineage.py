"""OpenLineage endpoint: ``POST /api/v1/lineage`` (one event, where the openlineage-python
client's HTTP transport posts by default) and ``POST /api/v1/lineage/batch`` (a JSON array of
events, or ``{"events": [...]}``). Bodies may be gzip-compressed (``Content-Encoding: gzip``,
the client's ``compression: gzip``). 201 when something new was recorded, 200 when every event
had been received before (client retries), 400 with the reason for a malformed event.

The mapping rules live in `registry.evidence.openlineage`.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, jsonify, request
from sqlalchemy.orm import Session

from registry.access.permissions import check_openlineage_jobs, check_owned
from registry.access.tokens import Identity
from registry.catalog.lineage import cached_catalog
from registry.core.errors import Forbidden
from registry.evidence.openlineage import ingest_lineage_events, observed_datasets
from registry.evidence.openlineage_read import consumer_lineage, source_lineage
from registry.read.common import clamp_int
from registry.store.db import session_scope

from .api_errors import register_error_handlers, request_json
from .auth import acting
from .support import API_PREFIX, db, sessions

api = Blueprint("openlineage", __name__, url_prefix=API_PREFIX)
register_error_handlers(api)

MAX_BATCH = 10_000


def _foreign(session: Session, identity: Identity, sources: list[str]) -> set[str]:
    """The sources a team token may not report updates or statistics of: another team's."""
    foreign = set()
    for name in sources:
        try:
            check_owned(session, identity, "source", name)
        except Forbidden:
            foreign.add(name)
    return foreign


def _ingest(events: list[Any]) -> Response:
    identity = acting()
    held = cached_catalog(db())  # the catalog's names, from memory (checked current)
    with session_scope(sessions()) as session:  # the service retries conflicts itself
        summary = ingest_lineage_events(
            session, events,
            check_jobs=lambda jobs: check_openlineage_jobs(session, identity, jobs),
            foreign_sources=lambda names: _foreign(session, identity, names), held=held)
    response = jsonify({"events": summary.events, "duplicates": summary.duplicates,
                        "ignored": summary.ignored, "reads": summary.reads,
                        "warnings": summary.warnings, "results": summary.results})
    response.status_code = 201 if summary.events > summary.duplicates else 200
    return response


@api.post("/lineage")
def lineage_event() -> Response:
    """One OpenLineage event (RunEvent, JobEvent or DatasetEvent)."""
    return _ingest([request_json()])


@api.post("/lineage/batch")
def lineage_batch() -> Response:
    """Several OpenLineage events, all or nothing."""
    body = request_json()
    events = body.get("events") if isinstance(body, dict) else body
    if not isinstance(events, list):
        abort(400, description='send a JSON array of OpenLineage events (or {"events": [...]})')
    if len(events) > MAX_BATCH:
        abort(413, description=f"at most {MAX_BATCH} events per batch")
    return _ingest(events)


@api.get("/openlineage/datasets")
def datasets() -> Response:
    """Datasets jobs were seen reading (``input``) and writing (``output``), newest first."""
    direction = request.args.get("direction") or None
    if direction not in (None, "input", "output"):
        abort(400, description="direction must be input or output")
    rows = observed_datasets(db(), principal=request.args.get("principal") or None,
                             direction=direction,
                             limit=clamp_int(request.args.get("limit"), 1000, 1, 10_000))
    return jsonify(rows)


@api.get("/openlineage/consumers/<path:name>")
def consumer(name: str) -> Response:
    """A consumer's (or an unregistered principal's) tasks, runs by outcome, what its jobs
    declare, and the spec YAML proposed for what it was seen using but is not registered."""
    from registry.evidence.openlineage_suggest import suggest_spec, suggestion_yaml

    session = db()
    return jsonify({**consumer_lineage(session, name),
                    "suggestion": suggestion_yaml(suggest_spec(session, principal=name))})


@api.get("/openlineage/sources/<name>")
def source(name: str) -> Response:
    """A source's writers seen by OpenLineage (with warnings), aliases and statistics."""
    return jsonify(source_lineage(db(), name))


@api.get("/openlineage/suggest")
def suggest() -> Response:
    """Spec for every dataset and job seen but not registered (``?format=yaml`` for YAML)."""
    from registry.evidence.openlineage_suggest import suggest_spec, suggestion_yaml

    spec = suggest_spec(db())
    if request.args.get("format") == "yaml":
        return Response(suggestion_yaml(spec), mimetype="application/yaml")
    return jsonify(spec)
