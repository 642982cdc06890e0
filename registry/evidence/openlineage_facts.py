"""What OpenLineage events say about datasets and jobs, kept beside the runs.

- **Datasets** (`OpenLineageDatasetFacts`, one row per namespace and name): the latest schema
  sent (field names, types and descriptions; nested fields by dotted path) — remembered, so an
  input that carries no schema is read as the columns seen before —, the ``documentation``
  and ``ownership`` facets, and every ``symlinks`` identifier. DatasetEvents, inputs and
  outputs of RunEvents and JobEvents all count.
- **Jobs** (`OpenLineageJob`): documentation and ownership, and a JobEvent's inputs and outputs
  (static lineage: what the job is declared to read and write).
- **Statistics** (`OpenLineageColumnStat`): ``inputStatistics``, ``outputStatistics`` and
  ``dataQualityMetrics`` (row counts, null and distinct counts per column), one row per event,
  dataset and column, at the event time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import InstanceState, Session

from registry.evidence.openlineage_events import DatasetRef, JobRef, LineageEvent
from registry.evidence.openlineage_matching import in_chunks
from registry.store import models as m

__all__ = ["FactStore", "pair_key"]


def pair_key(namespace: str, name: str) -> str:
    """The SHA-256 of a (namespace, name) pair: names can be long URLs."""
    return hashlib.sha256(f"{namespace}\0{name}".encode()).hexdigest()


LAST_SEEN_RESOLUTION = timedelta(minutes=1)
"""A dataset's or job's facts row is written again for a new sighting alone only once this
much later: every event of every job that reads a busy table would otherwise update that one
row, and concurrent requests would queue on its lock."""


def _set(row: object, name: str, value: object) -> None:
    """Set an attribute only when the value differs (an equal value is no change to write)."""
    if getattr(row, name) != value:
        setattr(row, name, value)


def _seen(row: m.OpenLineageDatasetFacts | m.OpenLineageJob, moment: datetime) -> None:
    """The row's last sighting: written when the row changes anyway, else to the minute."""
    state: InstanceState[Any] = inspect(row)
    if state.pending or state.transient or state.modified \
            or moment - row.last_seen >= LAST_SEEN_RESOLUTION:
        row.last_seen = max(row.last_seen, moment)


def _refs(datasets: Sequence[DatasetRef]) -> list[dict[str, str]]:
    return [{"namespace": d.namespace, "name": d.name} for d in datasets]


class FactStore:
    """One request's dataset and job facts, read in a few queries up front."""

    def __init__(self, session: Session, events: Sequence[LineageEvent]) -> None:
        self.session = session
        datasets = {pair_key(d.namespace, d.name) for e in events
                    for d in (*e.inputs, *e.outputs)}
        jobs = {pair_key(e.job.namespace, e.job.name) for e in events if e.job is not None}
        facts = m.OpenLineageDatasetFacts
        self.datasets: dict[str, m.OpenLineageDatasetFacts] = {
            row[0].dataset_key: row[0]
            for row in in_chunks(session, select(facts), facts.dataset_key, datasets)}
        self.jobs: dict[str, m.OpenLineageJob] = {
            row[0].job_key: row[0]
            for row in in_chunks(session, select(m.OpenLineageJob), m.OpenLineageJob.job_key,
                                 jobs)}

    def remembered(self) -> dict[tuple[str, str], list[str]]:
        """The field names each dataset's latest schema named, by (namespace, name)."""
        return {(r.namespace, r.name): [f["name"] for f in r.fields]
                for r in self.datasets.values()}

    def columns_of(self, ds: DatasetRef) -> tuple[str, ...]:
        """The columns an input reads: its own, else those of the schema seen before."""
        if ds.columns or ds.schema is not None:
            return ds.columns
        row = self.datasets.get(pair_key(ds.namespace, ds.name))
        return tuple(f["name"] for f in row.fields) if row is not None else ()

    def dataset(self, ds: DatasetRef, moment: datetime) -> None:
        key = pair_key(ds.namespace, ds.name)
        row = self.datasets.get(key)
        if row is None:
            row = self.datasets[key] = m.OpenLineageDatasetFacts(
                dataset_key=key, namespace=ds.namespace, name=ds.name, fields=[],
                description=None, owners=[], symlinks=[], last_seen=moment)
            self.session.add(row)
        if ds.schema is not None and ds.schema:
            _set(row, "fields", [f.as_dict() for f in ds.schema])
        if ds.description:
            _set(row, "description", ds.description)
        if ds.owners:
            _set(row, "owners", list(ds.owners))
        links = {(s["namespace"], s["name"]) for s in row.symlinks}
        new = [s for s in ds.symlinks if (s.namespace, s.name) not in links]
        if new:
            row.symlinks = [*row.symlinks, *({"namespace": s.namespace, "name": s.name}
                                             for s in new)]
        _seen(row, moment)

    def job(self, event: LineageEvent, moment: datetime) -> None:
        job: JobRef | None = event.job
        if job is None:
            return
        key = pair_key(job.namespace, job.name)
        row = self.jobs.get(key)
        if row is None:
            row = self.jobs[key] = m.OpenLineageJob(
                job_key=key, namespace=job.namespace, name=job.name, description=None,
                owners=[], declared_inputs=[], declared_outputs=[], last_seen=moment)
            self.session.add(row)
        if event.job_description:
            _set(row, "description", event.job_description)
        if event.job_owners:
            _set(row, "owners", list(event.job_owners))
        if event.kind == "JobEvent":
            _set(row, "declared_inputs", _refs(event.inputs))
            _set(row, "declared_outputs", _refs(event.outputs))
        _seen(row, moment)

    def statistics(self, ds: DatasetRef, source: str | None, moment: datetime,
                   run_id: str | None) -> None:
        self.session.add_all(
            m.OpenLineageColumnStat(namespace=ds.namespace, name=ds.name, source=source,
                                    field=s.field, at=moment, run_id=run_id, facet=s.facet,
                                    metrics=s.metrics)
            for s in ds.stats)

    def record(self, event: LineageEvent, moment: datetime) -> None:
        """Everything an event says about its datasets and job."""
        for ds in (*event.inputs, *event.outputs):
            self.dataset(ds, moment)
        self.job(event, moment)
