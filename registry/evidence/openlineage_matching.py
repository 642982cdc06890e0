"""What OpenLineage names resolve to in the catalog: principals, sources, features.

- **Principal** (`Catalog.principal`): the first registered consumer among the job's ``name``,
  its parent job's name (``parent`` run facet), the principal of its parent run when that is a
  registered consumer (so a Spark action under an Airflow task under a registered DAG rolls up
  to the DAG), the root job's name (2-0-x ``parent.root``), and — for producers that send no
  parent facet (older Airflow integrations) — the job name's dotted prefixes, longest first
  (``dag.task`` is a task of the consumer ``dag``); else ``namespace/name`` (a
  name longer than 128 characters is cut, with 8 hex digits of its SHA-256 after ``~``).
  Consumer names cannot hold ``/``, so an unregistered job never collides with a consumer.
- **Source** (`Catalog.source_of`): the source that declares the dataset's (namespace, name),
  or one of its ``symlinks`` identifiers, among its ``openlineage`` aliases; else a source
  named like the dataset's name, its dotted path (``/data/clicks`` → ``data.clicks``) or a
  symlink's name — but not a source that declares aliases: that one is pinned to the
  namespaces it names, so ``public.orders`` on two hosts are two datasets.
- **Feature** (`Catalog.feature_of`): column ``c`` of a dataset that matched source ``s`` is
  the feature ``s.c``, or the feature ``c`` only when ``c`` is built on ``s``. A dataset that
  matched no source reads no feature.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.core.names import NAME_LENGTH
from registry.evidence.openlineage_events import DatasetRef, JobRef, LineageEvent
from registry.store import models as m

if TYPE_CHECKING:
    from registry.catalog.lineage import HeldCatalog

__all__ = ["Catalog", "in_chunks", "qualified_principal"]

CHUNK = 1000


def in_chunks(session: Session, query: Any, column: Any, values: Iterable[str]) -> list[Any]:
    """Rows of ``query`` where ``column`` is one of ``values`` (IN lists of at most CHUNK)."""
    wanted = sorted(set(values))
    rows: list[Any] = []
    for i in range(0, len(wanted), CHUNK):
        rows.extend(session.execute(query.where(column.in_(wanted[i:i + CHUNK]))).all())
    return rows


def task_prefixes(name: str) -> list[str]:
    """``dag.group.task`` -> ``dag.group``, ``dag``: the parents a task's name implies."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(len(parts) - 1, 0, -1)][:8]


def qualified_principal(job: JobRef) -> str:
    """``namespace/name``, cut to 128 characters with a digest when longer."""
    text = job.qualified
    if len(text) <= NAME_LENGTH:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return f"{text[:NAME_LENGTH - 9]}~{digest}"


@dataclass(frozen=True)
class Catalog:
    """The catalog names one request's events can resolve to (looked up once per request)."""

    consumers: frozenset[str]
    sources: frozenset[str]
    pinned: frozenset[str]
    """Sources that declare openlineage aliases (matched only through them)."""
    aliases: dict[tuple[str, str], str]
    features: frozenset[str]
    feature_sources: dict[str, frozenset[str]]
    """The sources of each feature whose bare name is a column candidate."""

    @classmethod
    def load(cls, session: Session, events: Sequence[LineageEvent],
             remembered: dict[tuple[str, str], list[str]],
             principals: Iterable[str] = (), held: HeldCatalog | None = None) -> Catalog:
        """The names one request's events can resolve to (``principals``: earlier runs')."""
        jobs = [*principals, *(j.name for e in events for j in (e.job, e.parent, e.root)
                               if j is not None)]
        jobs += [p for e in events if e.job is not None for p in task_prefixes(e.job.name)]
        return cls.load_for(session, [ds for e in events for ds in (*e.inputs, *e.outputs)],
                            jobs, remembered, held)

    @classmethod
    def load_for(cls, session: Session, datasets: Sequence[DatasetRef], jobs: Iterable[str],
                 remembered: dict[tuple[str, str], list[str]],
                 held: HeldCatalog | None = None) -> Catalog:
        """`held`: the catalog a read-only session holds in memory (the same answers
        without a query; see `registry.catalog.lineage.FlowCache`)."""
        sources: list[str] = []
        columns: list[str] = []
        for ds in datasets:
            sources += ds.source_candidates()
            columns += [*ds.columns, *remembered.get((ds.namespace, ds.name), [])]
        if held is not None:
            return cls._from_held(held, sources, columns, jobs)

        def names(model: Any, wanted: Iterable[str]) -> frozenset[str]:
            return frozenset(row[0] for row in in_chunks(session, select(model.name),
                                                         model.name, wanted))

        aliases: dict[tuple[str, str], str] = {}
        for name, declared in session.execute(
                select(m.Source.name, m.Source.openlineage)
                .where(m.Source.openlineage.is_not(None)).order_by(m.Source.name)):
            for alias in declared or ():
                aliases.setdefault((alias["namespace"], alias["name"]), name)
        source_names = names(m.Source, sources) | frozenset(aliases.values())
        candidates = set(columns)
        candidates |= {f"{s}.{c}" for s in source_names for c in columns}
        features = names(m.Feature, candidates)
        built_on: dict[str, set[str]] = {}
        for feature, source in in_chunks(
                session, select(m.Feature.name, m.Source.name)
                .join(m.FeatureSource, m.FeatureSource.feature_id == m.Feature.id)
                .join(m.Source, m.Source.id == m.FeatureSource.source_id),
                m.Feature.name, features & set(columns)):
            built_on.setdefault(feature, set()).add(source)
        return cls(names(m.Consumer, jobs), source_names, frozenset(aliases.values()), aliases,
                   features, {f: frozenset(s) for f, s in built_on.items()})

    @classmethod
    def _from_held(cls, held: HeldCatalog, sources: list[str], columns: list[str],
                   jobs: Iterable[str]) -> Catalog:
        source_names = held.named("source", sources) | frozenset(held.aliases.values())
        candidates = set(columns)
        candidates |= {f"{s}.{c}" for s in source_names for c in columns}
        features = held.named("feature", candidates)
        built_on = {f: held.sources_of(f) for f in features & set(columns)}
        return cls(held.named("consumer", jobs), source_names,
                   frozenset(held.aliases.values()), dict(held.aliases), features,
                   {f: s for f, s in built_on.items() if s})

    def source_of(self, ds: DatasetRef) -> str | None:
        for ref in ((ds.namespace, ds.name), *((s.namespace, s.name) for s in ds.symlinks)):
            if ref in self.aliases:
                return self.aliases[ref]
        return next((n for n in ds.source_candidates()
                     if n in self.sources and n not in self.pinned), None)

    def feature_of(self, source: str | None, column: str) -> str | None:
        if source is None:
            return None
        if f"{source}.{column}" in self.features:
            return f"{source}.{column}"
        if column in self.features and source in self.feature_sources.get(column, ()):
            return column
        return None

    def principal(self, job: JobRef, parent: JobRef | None, parent_principal: str | None,
                  root: JobRef | None) -> str:
        """The principal of a run (see the module docstring)."""
        for name in (job.name, parent.name if parent else None, parent_principal,
                     root.name if root else None, *task_prefixes(job.name)):
            if name is not None and name in self.consumers:
                return name
        return qualified_principal(job)
