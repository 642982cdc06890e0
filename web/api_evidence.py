"""The JSON API for evidence: usage events in batches, importance reports, snapshot uploads,
and the evidence reads the HTTP SDK needs (latest importance, usage per feature).

Uploaded snapshots are kept under the data directory (config DATA_DIR, environment
FEATREG_DATA_DIR, default ``./featreg-data``) in ``snapshots/``, named by their SHA-256 so the
same file uploaded twice is stored once (and registered once: `add_snapshot` is idempotent).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, request
from werkzeug.datastructures import FileStorage

from registry.access.permissions import check_consumers, check_owned, check_snapshot_features
from registry.analysis.frame_io import CSV_SUFFIXES, PARQUET_SUFFIXES
from registry.core.errors import InvalidInput, Problem
from registry.core.timeparse import parse_time
from registry.evidence.freshness import report_refresh
from registry.evidence.importance import latest_reports, report_importance
from registry.evidence.rollups import feature_usage
from registry.evidence.snapshots import add_snapshot
from registry.evidence.usage import record_usage
from registry.store.db import session_scope

from .api_errors import register_error_handlers, request_json, request_object
from .auth import acting, actor
from .support import API_PREFIX, db, sessions

api = Blueprint("api_evidence", __name__, url_prefix=API_PREFIX)
register_error_handlers(api)

DEFAULT_DATA_DIR = "featreg-data"
SNAPSHOT_SUFFIXES = PARQUET_SUFFIXES + CSV_SUFFIXES
MAX_EVENTS = 100_000


def _json(data: Any, status: int = 200) -> Response:
    response = jsonify(data)
    response.status_code = status
    return response


# ----- usage -------------------------------------------------------------------------------------


@api.post("/usage")
def usage() -> Response:
    """Usage events (the JSON Lines shape) and daily counts ({day, consumer, feature, count,
    first_read?, last_read?}), as a JSON array (or {"events": [...]}); the usage service checks
    them, all or nothing: any bad item is listed (``event N``) and nothing is stored."""
    body = request_json()
    items = body.get("events") if isinstance(body, dict) else body
    if not isinstance(items, list) or not items:
        abort(400, description="send a non-empty JSON array of usage events")
    if len(items) > MAX_EVENTS:
        abort(413, description=f"at most {MAX_EVENTS} events per request")
    consumers = {consumer for item in items if isinstance(item, dict)
                 if isinstance(consumer := item.get("consumer"), str)}  # others: 400 below
    with session_scope(sessions()) as session:
        check_consumers(session, acting(), sorted(consumers))
        reads = record_usage(session, items)
    return _json({"events": len(items), "reads": reads}, 201)


@api.get("/usage/features")
def usage_by_feature() -> Response:
    """Last read, reads in 7/30/90 days and readers per feature (``feature`` for one), counted
    back from ``now`` (ISO 8601, default: the current time)."""
    now = datetime.now(UTC)
    if request.args.get("now"):
        try:
            now = parse_time(request.args["now"])
        except ValueError as exc:
            abort(400, description=f"now: {exc}")
    feature = request.args.get("feature") or None
    rows = feature_usage(db(), now, features=None if feature is None else [feature])
    return _json({name: {**asdict(row), "last_read": row.last_read.isoformat()
                         if row.last_read else None} for name, row in rows.items()})


# ----- importance --------------------------------------------------------------------------------


@api.post("/importance")
def importance() -> Response:
    """One importance report: {consumer, values: {feature: number}, method?, metric?, ts?}."""
    body = request_object()
    with session_scope(sessions()) as session:
        if isinstance(body.get("consumer"), str):
            check_consumers(session, acting(), [body["consumer"]])
        report_id, outcome = report_importance(
            session, body.get("consumer"), body.get("values"),  # type: ignore[arg-type]
            method=body.get("method"), metric=body.get("metric"), ts=body.get("ts"),
            actor=actor(body))
    return _json({"report_id": report_id, "outcome": outcome}, 201)


@api.get("/importance/latest")
def latest_importance() -> Response:
    """The latest importance report per consumer (``consumer`` for one)."""
    consumer = request.args.get("consumer") or None
    reports = latest_reports(db(), consumers=None if consumer is None else [consumer])
    return _json({name: report.to_dict() for name, report in reports.items()})


# ----- source updates ----------------------------------------------------------------------------


@api.post("/sources/<name>/refreshed")
def source_refreshed(name: str) -> Response:
    """Report an update of a source (``{"at": ISO 8601 with a timezone}``, default now); a team
    token may report only its own sources."""
    body = request_object() if request.content_length else {}
    at = body.get("at")
    if at is not None and not isinstance(at, str):
        raise InvalidInput([Problem("at must be an ISO 8601 time", field="at")])
    moment = parse_time(at) if at else None
    with session_scope(sessions()) as session:
        check_owned(session, acting(), "source", name)
        result = report_refresh(session, name, at=moment, actor=actor(body))
    return _json(result, 201 if result["recorded"] else 200)


# ----- snapshots ---------------------------------------------------------------------------------


def data_dir() -> Path:
    return Path(current_app.config.get("DATA_DIR") or DEFAULT_DATA_DIR)


def _suffix(filename: str) -> str:
    lowered = filename.lower()
    for suffix in sorted(SNAPSHOT_SUFFIXES, key=len, reverse=True):
        if lowered.endswith(suffix):
            return suffix
    raise InvalidInput([Problem(f"{filename!r}: upload a {', '.join(SNAPSHOT_SUFFIXES)} file",
                                field="file")])


DEFAULT_MAX_UPLOAD_BYTES = 512 * 2**20


def max_upload_bytes() -> int:
    """The largest snapshot upload taken (app config MAX_UPLOAD_BYTES, env
    FEATREG_MAX_UPLOAD_BYTES); a larger one is 413 and nothing of it is kept."""
    return int(current_app.config.get("MAX_UPLOAD_BYTES") or DEFAULT_MAX_UPLOAD_BYTES)


def _named_as_uploaded(exc: InvalidInput, path: Path, filename: str) -> InvalidInput:
    """The problems of reading a stored upload, naming the file as the client sent it, not
    where the server keeps it."""
    where = str(path)
    return InvalidInput([replace(p, message=p.message.replace(where, filename),
                                 file=filename if p.file == where else p.file)
                         for p in exc.problems])


def store_upload(upload: FileStorage) -> tuple[Path, bool]:
    """Save an upload under the data directory, named by content (SHA-256): its path, and
    whether this upload created the file (False: an earlier upload of the same content
    holds it)."""
    suffix = _suffix(upload.filename or "")
    folder = data_dir() / "snapshots"
    folder.mkdir(parents=True, exist_ok=True)
    hasher = hashlib.sha256()
    handle, temporary = tempfile.mkstemp(dir=folder, suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            size, limit = 0, max_upload_bytes()
            while block := upload.stream.read(1 << 20):
                size += len(block)
                if size > limit:
                    abort(413, description=f"file: the upload is larger than {limit} bytes "
                                           "(FEATREG_MAX_UPLOAD_BYTES)")
                hasher.update(block)
                out.write(block)
        target = folder / f"{hasher.hexdigest()}{suffix}"
        created = not target.exists()
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target, created


@api.post("/snapshots")
def snapshots() -> Response:
    """Register a data snapshot: multipart upload with ``file`` (Parquet or CSV) and optional
    ``label``, ``consumer`` and ``name`` (default: the file name without extension)."""
    limit = max_upload_bytes()
    if (request.content_length or 0) > limit:
        abort(413, description=f"file: the upload is larger than {limit} bytes "
                               "(FEATREG_MAX_UPLOAD_BYTES)")
    request.max_content_length = limit  # a body without a length is cut off at the limit too
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        abort(400, description="send the snapshot as a multipart upload in the field 'file'")
    form = {key: request.form.get(key) or None
            for key in ("label", "consumer", "name", "taken_at")}
    taken_at = parse_time(form["taken_at"]) if form["taken_at"] else None
    if form["consumer"] is not None:
        with session_scope(sessions()) as session:
            check_consumers(session, acting(), [form["consumer"]])
    path, created = store_upload(upload)
    name = form["name"] or Path(upload.filename).stem
    identity = acting()
    try:
        with session_scope(sessions()) as session:
            summary = add_snapshot(
                session, path, label=form["label"], consumer=form["consumer"], name=name,
                actor=actor(dict(request.form)), taken_at=taken_at,
                check=lambda features: check_snapshot_features(session, identity, features))
    except BaseException as exc:
        if created:  # a refused upload keeps nothing (an earlier snapshot's file stays)
            path.unlink(missing_ok=True)
        if isinstance(exc, InvalidInput):
            raise _named_as_uploaded(exc, path, upload.filename) from exc
        raise
    data = asdict(summary)
    data["created_at"] = summary.created_at.isoformat()
    data["taken_at"] = summary.taken_at.isoformat() if summary.taken_at else None
    return _json(data, 201)
