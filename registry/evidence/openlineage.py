"""OpenLineage events as evidence (``POST /api/v1/lineage``, ``featreg openlineage ingest``).

Mapping rules (DESIGN.md "OpenLineage events"; parsing in `openlineage_events`, names in
`openlineage_matching`, dataset and job facts in `openlineage_facts`):

- **Kinds.** RunEvents are runs: reads, writes, updates. A JobEvent's inputs and outputs are
  the job's static lineage ("declared by the job"); a DatasetEvent describes a dataset. All
  three feed the dataset and job facts (schema, documentation, ownership, symlinks).
- **Runs.** Each run has one principal (the job, or its registered parent, see
  `openlineage_matching`), kept in `OpenLineageRun`. Each feature counts one read per run, at
  the time of the first event of the run that names it, under the run's principal. When the
  principal changes (the job, or its parent, was registered while the run was going on), the
  run's reads move to the new principal: they are never counted twice.
- **Outcome.** Reads count whatever the outcome: a run that fails or aborts still read its
  inputs and depends on them (the dependency is what undeclared-consumer findings are about).
  The run's state (its latest event type) is kept and shown. Only a COMPLETE run that wrote a
  dataset is an update of its source (freshness, `registry.evidence.freshness`).
- **Datasets.** Every input and output is recorded per principal (first/last seen, events,
  matched source): outputs are what the job produces (the source page warns about writers
  the catalog does not name, see `openlineage_read`), and observed outputs of registered
  consumers count for feedback loops as declared ``produces`` do.
- **Retries.** An event is identified by its content: one received again changes nothing and
  is reported as a duplicate; two different events are never taken for one. When a concurrent
  request stores the same event between this request's reads and its writes, the unique key
  refuses the second copy; the service then runs the events again in a SAVEPOINT.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from registry.core.errors import InvalidInput, Problem
from registry.evidence.freshness import SourceUpdateRow, record_updates
from registry.evidence.openlineage_events import (
    DatasetRef,
    JobRef,
    LineageEvent,
    Malformed,
    parse_lineage_event,
)
from registry.evidence.openlineage_facts import FactStore, pair_key
from registry.evidence.openlineage_matching import Catalog, in_chunks, task_prefixes
from registry.evidence.openlineage_read import observed_datasets
from registry.evidence.usage import record_usage
from registry.evidence.usage_events import UsageEvent
from registry.store import models as m
from registry.store.savepoints import begin_for_savepoints

if TYPE_CHECKING:
    from registry.catalog.lineage import HeldCatalog

__all__ = ["LineageIngestSummary", "ingest_lineage_events", "observed_datasets", "parse_events",
           "reattribute_runs"]

ATTEMPTS = 3
MAX_DEPTH = 16
"""Most levels of parent runs followed (DAG -> task -> Spark application -> action ...)."""
"""Runs of one request's events when concurrent copies keep conflicting (then the error)."""


@dataclass
class LineageIngestSummary:
    """What one request did: events taken, duplicates (already received), reads recorded,
    warnings (``event N: ...``), and one result per event in request order. ``ignored`` is
    kept for clients of the first version: every kind of event is now used, so it is 0."""

    events: int = 0
    duplicates: int = 0
    ignored: int = 0
    reads: int = 0
    warnings: list[str] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)


def parse_events(raw_events: Sequence[object]) -> list[LineageEvent]:
    """Parse every event; InvalidInput lists every malformed one (``event N``, from 1)."""
    parsed: list[LineageEvent] = []
    problems: list[Problem] = []
    for position, obj in enumerate(raw_events, start=1):
        try:
            parsed.append(parse_lineage_event(obj))
        except Malformed as exc:
            where = f"event {position}" if len(raw_events) > 1 else None
            problems.append(Problem(str(exc), field=where))
    if problems:
        raise InvalidInput(problems)
    return parsed


def _dataset_key(principal: str, direction: str, ds: DatasetRef) -> str:
    return pair_key(f"{principal}\0{direction}\0{ds.namespace}", ds.name)


def _day(iso: str) -> date:
    return datetime.fromisoformat(iso).astimezone(UTC).date()


def _count_sighting(row: m.OpenLineageDataset) -> None:
    """One more event for a stored sighting, as an increment the database applies
    (``events = events + 1``): concurrent requests that see the same dataset must not
    overwrite each other's count with the value each one read."""
    state = inspect(row)
    held = state.dict.get("events")
    if not state.persistent:
        row.events = (held or 0) + 1
    elif isinstance(held, ColumnElement):  # already counted once in this request
        row.events = held + 1
    else:
        row.events = m.OpenLineageDataset.events + 1


SHARED_ROWS = (m.OpenLineageDataset, m.OpenLineageDatasetFacts, m.OpenLineageJob)
"""Rows that the events of many runs update (see `_Store.finish`)."""


class _Store:
    """One request's writes, with what they depend on read in a few queries up front."""

    def __init__(self, session: Session, events: Sequence[LineageEvent], now: datetime,
                 runs: Sequence[m.OpenLineageRun] = (), held: HeldCatalog | None = None
                 ) -> None:
        self.session, self.now = session, now
        ev = m.OpenLineageEvent
        self.seen = {row[0] for row in in_chunks(session, select(ev.event_key), ev.event_key,
                                                 [e.key for e in events])}
        self.runs: dict[str, m.OpenLineageRun] = {r.run_id: r for r in runs}
        self._load_runs({e.run_id for e in events if e.run_id}
                        | {e.parent_run_id for e in events if e.parent_run_id})
        self.stored_principal = {r.run_id: r.principal for r in self.runs.values()}
        self.stored_reads = {r.run_id: dict(r.reads) for r in self.runs.values()}
        self.facts = FactStore(session, events)
        self.catalog = Catalog.load(session, events, self.facts.remembered(), [
            n for r in self.runs.values()
            for n in (r.job_name, r.parent_name, r.root_name, *task_prefixes(r.job_name))
            if n is not None], held)
        self.datasets: dict[str, m.OpenLineageDataset | None] = {}
        self.updates: list[SourceUpdateRow] = []
        self.foreign: set[str] = set()
        """Sources the caller may not report updates or statistics of (another team's)."""

    def _load_runs(self, wanted: set[str]) -> None:
        """The named runs and their ancestors (parent runs, up to `MAX_DEPTH` levels)."""
        for _depth in range(MAX_DEPTH):
            wanted -= set(self.runs)
            if not wanted:
                return
            rows = [row[0] for row in in_chunks(self.session, select(m.OpenLineageRun),
                                                m.OpenLineageRun.run_id, wanted)]
            self.runs.update({r.run_id: r for r in rows})
            wanted = {r.parent_run_id for r in rows if r.parent_run_id}

    def time_of(self, event: LineageEvent) -> datetime:
        return event.event_time or self.now

    # ----- runs and their principal ------------------------------------------------------

    def run(self, event: LineageEvent) -> m.OpenLineageRun:
        assert event.run_id is not None and event.job is not None
        moment = self.time_of(event)
        row = self.runs.get(event.run_id)
        if row is None:
            row = self.runs[event.run_id] = m.OpenLineageRun(
                run_id=event.run_id, job_namespace=event.job.namespace,
                job_name=event.job.name, principal="", state=event.event_type or "OTHER",
                first_seen=moment, last_seen=moment, reads={}, outputs=[])
            self.session.add(row)
        if event.parent is not None:
            row.parent_namespace, row.parent_name = event.parent.namespace, event.parent.name
        if event.parent_run_id is not None and event.parent_run_id != event.run_id:
            row.parent_run_id = event.parent_run_id
        if event.root is not None:
            row.root_namespace, row.root_name = event.root.namespace, event.root.name
        if moment >= row.last_seen and event.event_type:
            row.state = event.event_type
        row.first_seen, row.last_seen = min(row.first_seen, moment), max(row.last_seen, moment)
        return row

    def resolve(self, row: m.OpenLineageRun, depth: int = 0) -> str:
        """The run's principal, from its job, parent and root and its parent run's."""
        parent_run = self.runs.get(row.parent_run_id or "")
        parent_principal = self.resolve(parent_run, depth + 1) \
            if parent_run is not None and parent_run is not row and depth < MAX_DEPTH else None
        return self.catalog.principal(JobRef(row.job_namespace, row.job_name),
                                      _job(row.parent_namespace, row.parent_name),
                                      parent_principal, _job(row.root_namespace, row.root_name))

    def preload(self, keys: set[str]) -> None:
        """The dataset sightings these keys name, in a few queries."""
        ds = m.OpenLineageDataset
        self.datasets.update({key: None for key in keys})
        self.datasets.update({row[0].dataset_key: row[0]
                              for row in in_chunks(self.session, select(ds), ds.dataset_key,
                                                   keys)})

    # ----- one event -----------------------------------------------------------------------

    def dataset(self, principal: str, direction: str, ds: DatasetRef, moment: datetime
                ) -> str | None:
        """Record one sighting of a dataset by a principal; the source it matched."""
        source = self.catalog.source_of(ds)
        key = _dataset_key(principal, direction, ds)
        if key not in self.datasets:
            self.preload({key})
        row = self.datasets[key]
        if row is None:
            row = self.datasets[key] = m.OpenLineageDataset(
                dataset_key=key, principal=principal, direction=direction,
                namespace=ds.namespace, name=ds.name, source=source, first_seen=moment,
                last_seen=moment, events=0)
            self.session.add(row)
        row.first_seen, row.last_seen = min(row.first_seen, moment), max(row.last_seen, moment)
        _count_sighting(row)
        if row.source != source:
            row.source = source
        return source

    def run_event(self, event: LineageEvent, row: m.OpenLineageRun) -> dict[str, Any]:
        moment = self.time_of(event)
        principal = row.principal
        inputs: list[dict[str, Any]] = []
        read: set[str] = set()
        for ds in event.inputs:
            source = self.dataset(principal, "input", ds, moment)
            matched = {c: self.catalog.feature_of(source, c) for c in self.facts.columns_of(ds)}
            found = {f for f in matched.values() if f}
            inputs.append({"namespace": ds.namespace, "name": ds.name, "source": source,
                           "features": sorted(found),
                           "unmatched_fields": [c for c, f in matched.items() if f is None]})
            read |= found
            if source not in self.foreign:
                self.facts.statistics(ds, source, moment, event.run_id)
        outputs = []
        for ds in event.outputs:
            source = self.dataset(principal, "output", ds, moment)
            outputs.append({"namespace": ds.namespace, "name": ds.name, "source": source})
            if source not in self.foreign:
                self.facts.statistics(ds, source, moment, event.run_id)
        written = {o["source"] for o in outputs if o["source"]}
        if event.event_type == "COMPLETE" or row.state == "COMPLETE":
            # a finished run updates everything the run said it writes (Marquez's seed data
            # names the outputs at START only); an earlier event arriving late adds its own
            done = moment if event.event_type == "COMPLETE" else row.last_seen
            targets = written | set(row.outputs) if event.event_type == "COMPLETE" else written
            self.updates.extend(SourceUpdateRow(s, done, "openlineage", event.run_id)
                                for s in sorted(targets - self.foreign))
        if written - set(row.outputs):
            row.outputs = sorted(set(row.outputs) | written)
        new_reads = sorted(read - set(row.reads))
        if new_reads:
            row.reads = {**row.reads, **{f: moment.isoformat() for f in new_reads}}
        self.facts.record(event, moment)
        self.session.add(m.OpenLineageEvent(
            event_key=event.key, run_id=event.run_id, event_type=event.event_type or "OTHER",
            event_time=moment, job_namespace=row.job_namespace, job_name=row.job_name,
            principal=principal, features=new_reads))
        return {"reads": new_reads, "inputs": inputs, "outputs": outputs}

    def static_event(self, event: LineageEvent) -> dict[str, Any]:
        moment = self.time_of(event)
        self.facts.record(event, moment)
        target = event.job or (event.outputs[0] if event.outputs else None)
        self.session.add(m.OpenLineageEvent(
            event_key=event.key, run_id="", event_type=event.kind[:-5].upper(),
            event_time=moment, job_namespace=getattr(target, "namespace", ""),
            job_name=getattr(target, "name", ""), principal="", features=[]))
        return {"declared_inputs": [{"namespace": d.namespace, "name": d.name}
                                    for d in event.inputs] if event.job else [],
                "declared_outputs": [{"namespace": d.namespace, "name": d.name}
                                     for d in event.outputs] if event.job else []}

    # ----- usage ---------------------------------------------------------------------------

    def usage(self, touched: dict[str, m.OpenLineageRun]) -> int:
        """Store the reads counted in this request, and move the earlier reads of runs whose
        principal changed; the reads recorded."""
        events: list[UsageEvent] = []
        for run_id, row in touched.items():
            before = self.stored_reads.get(run_id, {})
            old = self.stored_principal.get(run_id)
            moved = before if old is not None and old != row.principal else {}
            if moved:
                self._unrecord(old or "", moved)
            by_time: dict[str, list[str]] = defaultdict(list)
            for feature, iso in row.reads.items():
                if feature not in before or feature in moved:
                    by_time[iso].append(feature)
            events += [UsageEvent(datetime.fromisoformat(iso), row.principal,
                                  tuple(sorted(f)), 1) for iso, f in sorted(by_time.items())]
        return record_usage(self.session, events) if events else 0

    def _unrecord(self, principal: str, reads: dict[str, str]) -> None:
        """Take back one read per feature on the day it was counted."""
        for feature, iso in reads.items():
            row = self.session.get(m.UsageDaily, (feature, principal, _day(iso)))
            if row is None:
                continue
            if row.reads <= 1:
                self.session.delete(row)
            else:
                row.reads -= 1
        self.session.flush()

    def finish(self, touched: dict[str, m.OpenLineageRun]) -> int:
        # The event rows go first: a concurrent copy of an event fails here (unique key)
        # and the events are run again, then seeing the event as already received.
        # Rows that concurrent requests update too (a busy dataset's sighting count and
        # facts, a job's facts) are written last, just before the caller commits: each
        # UPDATE locks its row until the commit, and every round trip in between, waiting
        # for a busy worker, made the other requests about that dataset queue behind it.
        shared = [row for row in self.session.dirty if isinstance(row, SHARED_ROWS)]
        for row in shared:
            self.session.expunge(row)  # its changes stay with it (flushed when added back)
        self.session.flush()
        reads = self.usage(touched)
        if self.updates:
            record_updates(self.session, self.updates)
        self.session.add_all(shared)
        self.session.flush()
        return reads


def _job(namespace: str | None, name: str | None) -> JobRef | None:
    return JobRef(namespace, name) if namespace is not None and name is not None else None


def ingest_lineage_events(session: Session, raw_events: Sequence[object], *,
                          check_jobs: Callable[[list[str]], None] | None = None,
                          foreign_sources: Callable[[list[str]], set[str]] | None = None,
                          now: datetime | None = None, held: HeldCatalog | None = None
                          ) -> LineageIngestSummary:
    """Record OpenLineage events in the caller's transaction (see the module docstring).

    All or nothing: if any event is malformed, InvalidInput lists every one (``event N``,
    counted from 1) and nothing is stored. ``check_jobs`` sees every job name an event names
    (its own, its parent's, its root's) and every principal the runs resolve to, and raises
    to refuse them all. ``foreign_sources`` names, of the sources the events write or report
    statistics about, those the caller may not speak for: their updates and statistics are
    not stored (a warning says so). A conflict with a concurrent copy of an event is retried
    in a SAVEPOINT (`ATTEMPTS` runs in all); the caller commits. ``held``: the catalog's
    names as a read-only session holds them in memory (looked up there, not queried).
    """
    parsed = parse_events(raw_events)
    hooks = _Hooks(check_jobs, foreign_sources)
    begin_for_savepoints(session)
    attempt = 1
    while True:
        try:
            with session.begin_nested():
                return _store_events(session, parsed, now or datetime.now(UTC), hooks, held)
        except IntegrityError:
            # The same event (or a first sighting of the same dataset) was being stored by a
            # concurrent request; run again: what it stored is now seen as already received.
            if attempt == ATTEMPTS:
                raise
            attempt += 1


@dataclass(frozen=True)
class _Hooks:
    check_jobs: Callable[[list[str]], None] | None = None
    foreign_sources: Callable[[list[str]], set[str]] | None = None

    def check(self, store: _Store, fresh: Sequence[LineageEvent],
              touched: dict[str, m.OpenLineageRun]) -> list[str]:
        """Run the caller's checks; the warnings about sources it may not speak for."""
        if self.check_jobs is not None:
            self.check_jobs(sorted({j.name for e in fresh for j in (e.job, e.parent, e.root)
                                    if j is not None} | {r.principal for r in touched.values()}))
        if self.foreign_sources is None:
            return []
        claimed = {store.catalog.source_of(ds) for e in fresh if e.kind == "RunEvent"
                   for ds in (*e.outputs, *(i for i in e.inputs if i.stats))}
        store.foreign = self.foreign_sources(sorted(n for n in claimed if n is not None))
        return [f"source {n!r} is another team's: its updates and statistics from these "
                "events are not kept" for n in sorted(store.foreign)]


def _store_events(session: Session, parsed: Sequence[LineageEvent], now: datetime,
                  hooks: _Hooks, held: HeldCatalog | None = None) -> LineageIngestSummary:
    summary = LineageIngestSummary()
    store = _Store(session, parsed, now, held=held)
    fresh: list[LineageEvent] = []
    for event in parsed:  # retries, and copies within the request, are duplicates
        if event.key not in store.seen:
            store.seen.add(event.key)
            fresh.append(event)
    touched = {e.run_id: store.run(e) for e in fresh if e.kind == "RunEvent" and e.run_id}
    for row in touched.values():
        row.principal = store.resolve(row)
    summary.warnings.extend(hooks.check(store, fresh, touched))
    store.preload({_dataset_key(touched[e.run_id].principal, direction, ds)
                   for e in fresh if e.run_id in touched
                   for direction, group in (("input", e.inputs), ("output", e.outputs))
                   for ds in group})
    taken = {id(e) for e in fresh}
    for position, event in enumerate(parsed, start=1):
        result: dict[str, Any] = {"kind": event.kind, "duplicate": id(event) not in taken}
        if event.run_id:
            result.update(run_id=event.run_id, event_type=event.event_type)
        if event.run_id in touched:
            result["principal"] = touched[event.run_id].principal
        if event.warnings:
            result["warnings"] = list(event.warnings)
            where = f"event {position}: " if len(parsed) > 1 else ""
            summary.warnings.extend(where + w for w in event.warnings)
        if not result["duplicate"]:
            result.update(store.run_event(event, touched[event.run_id or ""])
                          if event.kind == "RunEvent" else store.static_event(event))
        else:
            result["reads"] = []
        summary.results.append(result)
        summary.events += 1
        summary.duplicates += result["duplicate"]
    summary.reads = store.finish(touched)
    return summary


def reattribute_runs(session: Session, consumers: Iterable[str], *,
                     now: datetime | None = None) -> int:
    """Runs whose job, parent or root is one of ``consumers`` (just registered), and their
    descendants, count for the principal they now resolve to: their reads move there.
    Returns the runs that moved. Called by apply in its unit of work."""
    names = sorted(set(consumers))
    if not names:
        return 0
    run = m.OpenLineageRun
    found: dict[str, m.OpenLineageRun] = {}
    for column in (run.job_name, run.parent_name, run.root_name):
        found.update({r[0].run_id: r[0] for r in in_chunks(session, select(run), column, names)})
    wanted = set(names)  # unregistered runs whose name makes them a task of one of them
    tasks = [job for (job,) in session.execute(
        select(run.job_name).where(run.principal.contains("/")).distinct())
        if wanted.intersection(task_prefixes(job))]
    found.update({r[0].run_id: r[0] for r in in_chunks(session, select(run), run.job_name,
                                                        tasks)})
    frontier = set(found)
    for _depth in range(MAX_DEPTH):
        if not frontier:
            break
        children = [r[0] for r in in_chunks(session, select(run), run.parent_run_id, frontier)]
        frontier = {c.run_id for c in children} - set(found)
        found.update({c.run_id: c for c in children})
    if not found:
        return 0
    store = _Store(session, [], now or datetime.now(UTC), list(found.values()))
    moved = {}
    for row in found.values():
        principal = store.resolve(row)
        if principal != row.principal:
            row.principal = principal
            moved[row.run_id] = row
    store.usage(moved)
    return len(moved)
