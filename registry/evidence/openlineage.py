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
- **Updates.** A COMPLETE run's outputs that match a source are updates of that source at the
  event time (`registry.evidence.freshness`); START, RUNNING, FAIL and ABORT are not.
- **Retries.** An event is identified by (runId, eventType, eventTime, job namespace and name);
  one received again changes nothing and is reported as a duplicate. When a concurrent request
  stores the same event (or first sees the same dataset) between this request's reads and its
  writes, the unique key refuses the second copy; the service then runs the events again in a
  SAVEPOINT (the caller's transaction stays open), now seeing them as received.
- JobEvents and DatasetEvents (no ``run``) are accepted and ignored: they carry no reads.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from registry.core.errors import InvalidInput, Problem
from registry.evidence.freshness import SourceUpdateRow, record_updates
from registry.evidence.openlineage_events import (
    DatasetRef,
    Malformed,
    RunEvent,
    parse_event,
    parse_run_event,
    principal_for,
)
from registry.evidence.usage import record_usage
from registry.evidence.usage_events import UsageEvent
from registry.store import models as m
from registry.store.savepoints import begin_for_savepoints

__all__ = [
    "LineageIngestSummary",
    "ingest_lineage_events",
    "observed_datasets",
    "parse_event",
    "principal_for",
]

CHUNK = 1000
ATTEMPTS = 3
"""Runs of one request's events when concurrent copies keep conflicting (then the error)."""


@dataclass
class LineageIngestSummary:
    """What one request did: events taken, duplicates (already received), ignored (not run
    events), reads recorded, and one result per event in request order."""

    events: int = 0
    duplicates: int = 0
    ignored: int = 0
    reads: int = 0
    results: list[dict[str, Any]] = field(default_factory=list)


def _in_chunks(session: Session, query: Any, column: Any, values: Iterable[str]) -> list[Any]:
    wanted = sorted(set(values))
    rows: list[Any] = []
    for i in range(0, len(wanted), CHUNK):
        rows.extend(session.execute(query.where(column.in_(wanted[i:i + CHUNK]))).all())
    return rows


@dataclass(frozen=True)
class _Catalog:
    """The catalog names the events' candidates resolve to (looked up once per request)."""

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

        def names(model: Any, wanted: list[str]) -> set[str]:
            return {row[0] for row in _in_chunks(session, select(model.name), model.name,
                                                 wanted)}

        return cls(names(m.Feature, features), names(m.Source, sources),
                   names(m.Consumer, jobs))

    def source_of(self, ds: DatasetRef) -> str | None:
        return next((n for n in ds.source_candidates() if n in self.sources), None)

    def feature_of(self, ds: DatasetRef, source: str | None, column: str) -> str | None:
        candidates = [f"{source}.{column}"] if source else []
        candidates += [f"{ds.name}.{column}", column]
        return next((n for n in candidates if n in self.features), None)


def _dataset_key(principal: str, direction: str, ds: DatasetRef) -> str:
    text = "\0".join((principal, direction, ds.namespace, ds.name))
    return hashlib.sha256(text.encode()).hexdigest()


class _Store:
    """One request's writes, with what they depend on read in a few queries up front: event
    keys already received, features already counted per run, and the dataset rows."""

    def __init__(self, session: Session, events: Sequence[RunEvent]) -> None:
        self.session = session
        self.catalog = _Catalog.load(session, events)
        self.principals = {e.key: principal_for(e.job_namespace, e.job_name,
                                                self.catalog.consumers) for e in events}
        ev = m.OpenLineageEvent
        self.seen = {row[0] for row in _in_chunks(session, select(ev.event_key), ev.event_key,
                                                  self.principals)}
        self.counted: dict[tuple[str, str], set[str]] = defaultdict(set)
        for run_id, principal, features in _in_chunks(
                session, select(ev.run_id, ev.principal, ev.features), ev.run_id,
                [e.run_id for e in events]):
            self.counted[(run_id, principal)].update(features)
        keys = [_dataset_key(self.principals[e.key], direction, ds) for e in events
                for direction, group in (("input", e.inputs), ("output", e.outputs))
                for ds in group]
        ds_model = m.OpenLineageDataset
        self.datasets: dict[str, m.OpenLineageDataset] = {
            row[0].dataset_key: row[0]
            for row in _in_chunks(session, select(ds_model), ds_model.dataset_key, keys)}
        self.usage: list[UsageEvent] = []
        self.updates: list[SourceUpdateRow] = []

    def dataset(self, principal: str, direction: str, ds: DatasetRef, moment: datetime
                ) -> str | None:
        """Record one sighting of a dataset; returns the source its name matched."""
        source = self.catalog.source_of(ds)
        key = _dataset_key(principal, direction, ds)
        row = self.datasets.get(key)
        if row is None:
            row = self.datasets[key] = m.OpenLineageDataset(
                dataset_key=key, principal=principal, direction=direction,
                namespace=ds.namespace, name=ds.name, source=source, first_seen=moment,
                last_seen=moment, events=0)
            self.session.add(row)
        row.first_seen, row.last_seen = min(row.first_seen, moment), max(row.last_seen, moment)
        row.events += 1
        row.source = source
        return source

    def event(self, event: RunEvent) -> dict[str, Any]:
        principal = self.principals[event.key]
        result: dict[str, Any] = {"run_id": event.run_id, "event_type": event.event_type,
                                  "principal": principal}
        if event.key in self.seen:
            return {**result, "duplicate": True, "reads": []}
        self.seen.add(event.key)
        inputs: list[dict[str, Any]] = []
        read: set[str] = set()
        for ds in event.inputs:
            source = self.dataset(principal, "input", ds, event.event_time)
            matched = {c: self.catalog.feature_of(ds, source, c) for c in ds.fields}
            found = {f for f in matched.values() if f}
            inputs.append({"namespace": ds.namespace, "name": ds.name, "source": source,
                           "features": sorted(found),
                           "unmatched_fields": [c for c, f in matched.items() if f is None]})
            read |= found
        outputs = [{"namespace": ds.namespace, "name": ds.name,
                    "source": self.dataset(principal, "output", ds, event.event_time)}
                   for ds in event.outputs]
        if event.event_type.upper() == "COMPLETE":  # a finished run that wrote its outputs
            self.updates.extend(SourceUpdateRow(o["source"], event.event_time, "openlineage",
                                                event.run_id) for o in outputs if o["source"])
        counted = self.counted[(event.run_id, principal)]
        new_reads = sorted(read - counted)
        counted.update(new_reads)
        self.session.add(m.OpenLineageEvent(
            event_key=event.key, run_id=event.run_id, event_type=event.event_type,
            event_time=event.event_time, job_namespace=event.job_namespace,
            job_name=event.job_name, principal=principal, features=new_reads))
        if new_reads:
            self.usage.append(UsageEvent(event.event_time, principal, tuple(new_reads), 1))
        return {**result, "duplicate": False, "reads": new_reads, "inputs": inputs,
                "outputs": outputs}

    def finish(self) -> None:
        # The event rows go first: a concurrent copy of an event fails here (unique key)
        # and the events are run again, then seeing the event as already received.
        self.session.flush()
        if self.usage:
            record_usage(self.session, self.usage)
        if self.updates:
            record_updates(self.session, self.updates)


def ingest_lineage_events(session: Session, raw_events: Sequence[object], *,
                          check_jobs: Callable[[list[str]], None] | None = None
                          ) -> LineageIngestSummary:
    """Record OpenLineage events in the caller's transaction (see the module docstring).

    All or nothing: if any event is malformed, InvalidInput lists every one (``event N``,
    counted from 1) and nothing is stored. A conflict with a concurrent copy of an event is
    retried in a SAVEPOINT (`ATTEMPTS` runs in all); the caller commits.
    """
    parsed: list[RunEvent | None] = []
    problems: list[Problem] = []
    for position, obj in enumerate(raw_events, start=1):
        try:
            parsed.append(parse_run_event(obj))
        except Malformed as exc:
            where = f"event {position}" if len(raw_events) > 1 else None
            problems.append(Problem(str(exc), field=where))
    if problems:
        raise InvalidInput(problems)
    if check_jobs is not None:  # the names a job may be known by: `name` or `namespace/name`
        check_jobs(sorted({n for e in parsed if e is not None
                           for n in (e.job_name, f"{e.job_namespace}/{e.job_name}")}))
    begin_for_savepoints(session)
    attempt = 1
    while True:
        try:
            with session.begin_nested():
                return _store_events(session, parsed)
        except IntegrityError:
            # The same event (or a first sighting of the same dataset) was being stored by a
            # concurrent request; run again: what it stored is now seen as already received.
            if attempt == ATTEMPTS:
                raise
            attempt += 1


def _store_events(session: Session, parsed: Sequence[RunEvent | None]) -> LineageIngestSummary:
    summary = LineageIngestSummary()
    store = _Store(session, [e for e in parsed if e is not None])
    for event in parsed:
        if event is None:
            summary.ignored += 1
            summary.results.append({"ignored": "not a run event: no reads to record"})
            continue
        result = store.event(event)
        summary.results.append(result)
        summary.events += 1
        summary.duplicates += result["duplicate"]
        summary.reads += len(result["reads"])
    store.finish()
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
