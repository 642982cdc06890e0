"""OpenLineage run events as usage evidence (``POST /api/v1/lineage``).

Mapping rules (README "OpenLineage"):

- **Principal.** The run's job is the principal. When a registered consumer is named exactly
  like the job's ``name``, the principal is that consumer (the name alone is unambiguous: a
  consumer claims it). Otherwise the principal is ``"<job namespace>/<job name>"``, or the job's
  name alone when that would be longer than 128 characters. (Consumer names cannot contain
  ``/``, so ``namespace/name`` never collides with a registered consumer.)
- **Sources.** An input or output dataset matches the first registered source named, in
  order: its ``name``; its ``name`` with leading ``/`` removed and the other ``/`` turned into
  ``.`` (``/data/clicks`` → ``data.clicks``); the names in its ``symlinks`` facet.
- **Features.** The columns of an input dataset are the field names of its ``schema`` facet
  (top level) and the input fields that any output's ``columnLineage`` facet names for it
  (``fields.*.inputFields`` and ``dataset``; a dataset named there only counts as an input
  too). A column ``c`` of dataset ``d`` is a read of the first feature in the catalog named
  ``<source>.c`` (when ``d`` matched a source), ``<d>.c``, or ``c``; other columns are ignored.
- **Reads.** Each feature counts one read per run, at the ``eventTime`` of the first event of
  the run that names it (START and COMPLETE of one run are one read). Reads are stored through
  the usage service, so an unregistered job, or a consumer reading what it never declared,
  becomes an ``undeclared_consumer`` finding at the next analysis.
- **Datasets.** Every input and output is recorded per principal (first/last seen, events,
  matched source): outputs are what the job produces.
- **Retries.** An event is identified by (runId, eventType, eventTime, job namespace and name);
  one received again changes nothing and is reported as a duplicate.
- JobEvents and DatasetEvents (no ``run``) are accepted and ignored: they carry no reads.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import models as m
from registry.errors import InvalidInput, Problem
from registry.evidence.usage import record_usage
from registry.evidence.usage_events import UsageEvent, parse_timestamp
from registry.models import NAME_LENGTH

__all__ = [
    "RUN_EVENT_TYPES",
    "DatasetRef",
    "LineageIngestSummary",
    "RunEvent",
    "ingest_lineage_events",
    "observed_datasets",
    "parse_event",
    "principal_for",
]

RUN_EVENT_TYPES = ("START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER")
MAX_RUN_ID = 255
CHUNK = 1000


class Malformed(ValueError):
    """The reason an event cannot be taken."""


@dataclass(frozen=True)
class DatasetRef:
    namespace: str
    name: str
    fields: tuple[str, ...] = ()
    """Columns named by the schema or columnLineage facets (inputs only)."""
    aliases: tuple[str, ...] = ()
    """Names from the symlinks facet."""

    def source_candidates(self) -> list[str]:
        dotted = self.name.strip("/").replace("/", ".")
        return list(dict.fromkeys([self.name, dotted, *self.aliases]))


@dataclass(frozen=True)
class RunEvent:
    run_id: str
    event_type: str
    event_time: datetime
    job_namespace: str
    job_name: str
    inputs: tuple[DatasetRef, ...] = ()
    outputs: tuple[DatasetRef, ...] = ()
    event_time_text: str = ""
    """eventTime as sent (full precision: a retry sends the same text)."""

    @property
    def key(self) -> str:
        """What identifies the event across client retries."""
        parts = (self.run_id, self.event_type, self.event_time_text or self.event_time.isoformat(),
                 self.job_namespace, self.job_name)
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()


# ----- parsing (pure) ----------------------------------------------------------------------


def _text(obj: dict[str, Any], key: str, where: str, limit: int | None = None) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise Malformed(f"{where}{key} must be a non-empty string")
    if limit is not None and len(value) > limit:
        raise Malformed(f"{where}{key} is longer than {limit} characters")
    return value


def _object(value: object, where: str, *, optional: bool = False) -> dict[str, Any]:
    if value is None and optional:
        return {}
    if not isinstance(value, dict):
        raise Malformed(f"{where} must be an object")
    return value


def _list(value: object, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise Malformed(f"{where} must be a list")
    return value


def _schema_fields(facets: dict[str, Any], where: str) -> list[str]:
    schema = _object(facets.get("schema"), f"{where}.facets.schema", optional=True)
    names = []
    for i, item in enumerate(_list(schema.get("fields"), f"{where}.facets.schema.fields")):
        names.append(_text(_object(item, f"{where}.facets.schema.fields[{i}]"), "name",
                           f"{where}.facets.schema.fields[{i}]."))
    return names


def _symlinks(facets: dict[str, Any], where: str) -> list[str]:
    links = _object(facets.get("symlinks"), f"{where}.facets.symlinks", optional=True)
    ids = _list(links.get("identifiers"), f"{where}.facets.symlinks.identifiers")
    return [_text(_object(x, f"{where}.facets.symlinks.identifiers[{i}]"), "name",
                  f"{where}.facets.symlinks.identifiers[{i}].") for i, x in enumerate(ids)]


def _column_lineage(facets: dict[str, Any], where: str) -> list[tuple[str, str, str]]:
    """(namespace, name, field) of every input field an output's columnLineage facet names."""
    facet = _object(facets.get("columnLineage"), f"{where}.facets.columnLineage", optional=True)
    where = f"{where}.facets.columnLineage"
    refs: list[Any] = []
    for out_field, spec in _object(facet.get("fields"), f"{where}.fields", optional=True).items():
        spec = _object(spec, f"{where}.fields.{out_field}")
        refs.extend((f"{where}.fields.{out_field}.inputFields", x)
                    for x in _list(spec.get("inputFields"), f"{where}.fields.{out_field}"))
    refs.extend((f"{where}.dataset", x) for x in _list(facet.get("dataset"), f"{where}.dataset"))
    found = []
    for at, ref in refs:
        ref = _object(ref, at)
        found.append((_text(ref, "namespace", f"{at}."), _text(ref, "name", f"{at}."),
                      _text(ref, "field", f"{at}.")))
    return found


def _datasets(obj: dict[str, Any], key: str) -> list[tuple[str, str, dict[str, Any], str]]:
    out = []
    for i, item in enumerate(_list(obj.get(key), key)):
        where = f"{key}[{i}]"
        item = _object(item, where)
        facets = _object(item.get("facets"), f"{where}.facets", optional=True)
        out.append((_text(item, "namespace", f"{where}."), _text(item, "name", f"{where}."),
                    facets, where))
    return out


def _parse(obj: object) -> RunEvent | None:
    if not isinstance(obj, dict):
        raise Malformed("an event must be a JSON object")
    if "run" not in obj and "eventType" not in obj and ("job" in obj or "dataset" in obj):
        return None  # a JobEvent or DatasetEvent: static lineage, no reads
    time_text = obj.get("eventTime")
    if not isinstance(time_text, str):
        raise Malformed("eventTime must be an ISO 8601 date-time string with a timezone")
    try:
        event_time = parse_timestamp(time_text)
    except ValueError as exc:
        raise Malformed(f"eventTime: {exc}") from exc
    event_type = obj.get("eventType")
    if event_type is not None and event_type not in RUN_EVENT_TYPES:
        raise Malformed(f"eventType must be one of {', '.join(RUN_EVENT_TYPES)}")
    run = _object(obj.get("run"), "run")
    job = _object(obj.get("job"), "job")
    run_id = _text(run, "runId", "run.", MAX_RUN_ID)
    job_name = _text(job, "name", "job.", NAME_LENGTH)
    job_namespace = _text(job, "namespace", "job.")
    columns: dict[tuple[str, str], list[str]] = {}
    aliases: dict[tuple[str, str], list[str]] = {}
    for namespace, name, facets, where in _datasets(obj, "inputs"):
        columns.setdefault((namespace, name), []).extend(_schema_fields(facets, where))
        aliases.setdefault((namespace, name), []).extend(_symlinks(facets, where))
    outputs = []
    for namespace, name, facets, where in _datasets(obj, "outputs"):
        for ref_ns, ref_name, ref_field in _column_lineage(facets, where):
            columns.setdefault((ref_ns, ref_name), []).append(ref_field)
        outputs.append(DatasetRef(namespace, name, (), tuple(_symlinks(facets, where))))
    inputs = tuple(
        DatasetRef(ns, name, tuple(dict.fromkeys(fields)),
                   tuple(dict.fromkeys(aliases.get((ns, name), []))))
        for (ns, name), fields in columns.items()
    )
    return RunEvent(run_id, event_type or "", event_time, job_namespace, job_name, inputs,
                    tuple(dict.fromkeys(outputs)), time_text)


def parse_event(obj: object) -> RunEvent | None:
    """A RunEvent from decoded JSON; None for a JobEvent or DatasetEvent (nothing to record).
    Raises InvalidInput with the reason when the event is malformed."""
    try:
        return _parse(obj)
    except Malformed as exc:
        raise InvalidInput([Problem(str(exc))]) from None


def principal_for(job_namespace: str, job_name: str, registered: Iterable[str]) -> str:
    """The principal of a job (see the module docstring)."""
    if job_name in set(registered):
        return job_name
    qualified = f"{job_namespace}/{job_name}"
    return qualified if len(qualified) <= NAME_LENGTH else job_name


# ----- storing -----------------------------------------------------------------------------


@dataclass
class LineageIngestSummary:
    """What one request did: events taken, duplicates (already received), ignored (not run
    events), reads recorded, and one result per event in request order."""

    events: int = 0
    duplicates: int = 0
    ignored: int = 0
    reads: int = 0
    results: list[dict[str, Any]] = field(default_factory=list)


def _existing(session: Session, column: Any, names: Iterable[str]) -> set[str]:
    wanted = sorted(set(names))
    found: set[str] = set()
    for i in range(0, len(wanted), CHUNK):
        found.update(session.scalars(select(column).where(column.in_(wanted[i:i + CHUNK]))))
    return found


@dataclass(frozen=True)
class _Catalog:
    """The catalog names an event's candidates resolve to (looked up once per request)."""

    features: set[str]
    sources: set[str]
    consumers: set[str]

    @classmethod
    def load(cls, session: Session, events: Sequence[RunEvent]) -> _Catalog:
        sources, features, jobs = [], [], []
        for event in events:
            jobs.append(event.job_name)
            for ds in (*event.inputs, *event.outputs):
                candidates = ds.source_candidates()
                sources.extend(candidates)
                for column in ds.fields:
                    features.append(column)
                    features.extend(f"{c}.{column}" for c in candidates)
        return cls(_existing(session, m.Feature.name, features),
                   _existing(session, m.Source.name, sources),
                   _existing(session, m.Consumer.name, jobs))

    def source_of(self, ds: DatasetRef) -> str | None:
        return next((n for n in ds.source_candidates() if n in self.sources), None)

    def feature_of(self, ds: DatasetRef, source: str | None, column: str) -> str | None:
        candidates = [f"{source}.{column}"] if source else []
        candidates += [f"{ds.name}.{column}", column]
        return next((n for n in candidates if n in self.features), None)


def _dataset_key(principal: str, direction: str, ds: DatasetRef) -> str:
    text = "\0".join((principal, direction, ds.namespace, ds.name))
    return hashlib.sha256(text.encode()).hexdigest()


def _record_dataset(session: Session, principal: str, direction: str, ds: DatasetRef,
                    source: str | None, moment: datetime) -> None:
    key = _dataset_key(principal, direction, ds)
    row = session.scalars(select(m.OpenLineageDataset)
                          .where(m.OpenLineageDataset.dataset_key == key)).first()
    if row is None:
        session.add(m.OpenLineageDataset(
            dataset_key=key, principal=principal, direction=direction, namespace=ds.namespace,
            name=ds.name, source=source, first_seen=moment, last_seen=moment, events=1))
        return
    row.first_seen, row.last_seen = min(row.first_seen, moment), max(row.last_seen, moment)
    row.events += 1
    row.source = source


def _ingest(session: Session, event: RunEvent, catalog: _Catalog) -> dict[str, Any]:
    principal = principal_for(event.job_namespace, event.job_name, catalog.consumers)
    result: dict[str, Any] = {"run_id": event.run_id, "event_type": event.event_type,
                              "principal": principal}
    if session.scalar(select(m.OpenLineageEvent.id)
                      .where(m.OpenLineageEvent.event_key == event.key)) is not None:
        return {**result, "duplicate": True, "reads": []}
    inputs, read = [], []
    for ds in event.inputs:
        source = catalog.source_of(ds)
        matched = {c: catalog.feature_of(ds, source, c) for c in ds.fields}
        inputs.append({"namespace": ds.namespace, "name": ds.name, "source": source,
                       "features": sorted({f for f in matched.values() if f}),
                       "unmatched_fields": [c for c, f in matched.items() if f is None]})
        read.extend(f for f in matched.values() if f)
        _record_dataset(session, principal, "input", ds, source, event.event_time)
    outputs = []
    for ds in event.outputs:
        source = catalog.source_of(ds)
        outputs.append({"namespace": ds.namespace, "name": ds.name, "source": source})
        _record_dataset(session, principal, "output", ds, source, event.event_time)
    counted: set[str] = set()
    for features in session.scalars(select(m.OpenLineageEvent.features).where(
            m.OpenLineageEvent.run_id == event.run_id,
            m.OpenLineageEvent.principal == principal)):
        counted.update(features)
    new_reads = sorted(set(read) - counted)
    session.add(m.OpenLineageEvent(
        event_key=event.key, run_id=event.run_id, event_type=event.event_type,
        event_time=event.event_time, job_namespace=event.job_namespace,
        job_name=event.job_name, principal=principal, features=new_reads))
    if new_reads:
        record_usage(session, [UsageEvent(event.event_time, principal, tuple(new_reads), 1)])
    session.flush()
    return {**result, "duplicate": False, "reads": new_reads, "inputs": inputs,
            "outputs": outputs}


def ingest_lineage_events(session: Session, raw_events: Sequence[object]
                          ) -> LineageIngestSummary:
    """Record OpenLineage events in the caller's transaction (see the module docstring).

    All or nothing: if any event is malformed, InvalidInput lists every one (``event N``,
    counted from 1) and nothing is stored.
    """
    parsed: list[RunEvent | None] = []
    problems: list[Problem] = []
    for position, obj in enumerate(raw_events, start=1):
        try:
            parsed.append(_parse(obj))
        except Malformed as exc:
            where = f"event {position}" if len(raw_events) > 1 else None
            problems.append(Problem(str(exc), field=where))
    if problems:
        raise InvalidInput(problems)
    summary = LineageIngestSummary()
    catalog = _Catalog.load(session, [e for e in parsed if e is not None])
    for event in parsed:
        if event is None:
            summary.ignored += 1
            summary.results.append({"ignored": "not a run event: no reads to record"})
            continue
        result = _ingest(session, event, catalog)
        summary.results.append(result)
        summary.events += 1
        summary.duplicates += result["duplicate"]
        summary.reads += len(result["reads"])
    return summary


def observed_datasets(session: Session, *, principal: str | None = None,
                      direction: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
    """Datasets jobs were seen reading (``input``) and writing (``output``), newest first."""
    query = select(m.OpenLineageDataset).order_by(m.OpenLineageDataset.last_seen.desc(),
                                                  m.OpenLineageDataset.id)
    if principal is not None:
        query = query.where(m.OpenLineageDataset.principal == principal)
    if direction is not None:
        query = query.where(m.OpenLineageDataset.direction == direction)
    return [
        {"principal": row.principal, "direction": row.direction, "namespace": row.namespace,
         "name": row.name, "source": row.source, "first_seen": row.first_seen.isoformat(),
         "last_seen": row.last_seen.isoformat(), "events": row.events}
        for row in session.scalars(query.limit(limit))
    ]
