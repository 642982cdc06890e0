"""What OpenLineage saw, for pages and the API (JSON-ready values).

- `observed_datasets`: datasets principals were seen reading and writing.
- `consumer_lineage`: for a consumer (or an unregistered principal) page: its tasks (child
  jobs whose reads roll up to it: an Airflow DAG's tasks, a Spark application's actions, a dbt
  run's models), its runs' outcomes, and what its jobs declare (JobEvent static lineage,
  "declared by the job") next to what the runs observed.
- `source_lineage`: for a source page: the jobs seen writing it, and a warning for each writer
  the catalog does not name as its producer (``produced_by``, which a consumer's ``produces``
  sets) — when another consumer produces it, or when it has no producer at all. A
  warning, not a finding: the finding kinds are a contract, and a writer the catalog does not
  know is a fact about the source the owner should see where they look at the source.
  Also the statistics the input facets reported over time, and the source's aliases.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from registry.store import models as m

__all__ = ["consumer_lineage", "feature_statistics", "observed_datasets", "observed_outputs",
           "source_lineage"]

MAX_ROWS = 1000


def observed_datasets(session: Session, *, principal: str | None = None,
                      direction: str | None = None, limit: int = MAX_ROWS
                      ) -> list[dict[str, Any]]:
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


def observed_outputs(session: Session) -> dict[str, set[str]]:
    """The sources each registered consumer was seen writing (feedback loops count them)."""
    rows = session.execute(
        select(m.OpenLineageDataset.principal, m.OpenLineageDataset.source)
        .join(m.Consumer, m.Consumer.name == m.OpenLineageDataset.principal)
        .where(m.OpenLineageDataset.direction == "output",
               m.OpenLineageDataset.source.is_not(None)).distinct())
    found: dict[str, set[str]] = {}
    for principal, source in rows:
        if source is not None:
            found.setdefault(principal, set()).add(source)
    return found


def _job(row: m.OpenLineageJob | None, namespace: str, name: str) -> dict[str, Any]:
    return {"namespace": namespace, "name": name,
            "description": row.description if row else None,
            "owners": list(row.owners) if row else [],
            "declared_inputs": list(row.declared_inputs) if row else [],
            "declared_outputs": list(row.declared_outputs) if row else []}


def consumer_lineage(session: Session, principal: str) -> dict[str, Any]:
    """A principal's tasks, runs by outcome, and its jobs' static lineage (see module doc)."""
    runs = session.scalars(select(m.OpenLineageRun).where(m.OpenLineageRun.principal == principal)
                           .order_by(m.OpenLineageRun.last_seen.desc()).limit(MAX_ROWS)).all()
    tasks: dict[tuple[str, str], dict[str, Any]] = {}
    states: dict[str, int] = {}
    own: set[tuple[str, str]] = set()
    for run in runs:
        states[run.state] = states.get(run.state, 0) + 1
        job = (run.job_namespace, run.job_name)
        if run.job_name == principal or f"{run.job_namespace}/{run.job_name}" == principal:
            own.add(job)
            continue
        task = tasks.setdefault(job, {"namespace": job[0], "name": job[1], "runs": 0,
                                      "last_seen": run.last_seen.isoformat(),
                                      "last_state": run.state, "features": set()})
        task["runs"] += 1
        task["features"] |= set(run.reads)
    if not own and "/" in principal:
        namespace, _, name = principal.partition("/")
        own.add((namespace, name))
    if not own:
        own |= set(session.execute(select(m.OpenLineageJob.namespace, m.OpenLineageJob.name)
                                   .where(m.OpenLineageJob.name == principal)).tuples().all())
    wanted = sorted(own | set(tasks))
    facts = {(r.namespace, r.name): r for r in session.scalars(
        select(m.OpenLineageJob).where(or_(*(
            (m.OpenLineageJob.namespace == ns) & (m.OpenLineageJob.name == n)
            for ns, n in wanted[:200]))))} if wanted else {}
    declared = [_job(facts.get(j), *j) for j in wanted
                if j in facts and (facts[j].declared_inputs or facts[j].declared_outputs
                                   or facts[j].description)]
    return {"tasks": [{**t, "features": sorted(t["features"])}
                      for _key, t in sorted(tasks.items())],
            "runs_by_state": dict(sorted(states.items())),
            "declared_by_job": declared}


def source_lineage(session: Session, source: str) -> dict[str, Any]:
    """The writers of a source seen by OpenLineage, with warnings, its aliases, and the
    statistics reported for it over time (newest first)."""
    row = session.scalar(select(m.Source).where(m.Source.name == source))
    producers: set[str] = set()
    if row is not None and row.produced_by is not None:
        producers.add(row.produced_by.name)
    writers = [d for d in observed_datasets(session, direction="output")
               if d["source"] == source] if row is not None else []
    warnings = []
    for writer in sorted({w["principal"] for w in writers}):
        if writer in producers:
            continue
        if producers:
            warnings.append(f"{writer} was seen writing this source, but the catalog names "
                            f"{', '.join(sorted(producers))} as its producer")
        else:
            warnings.append(f"{writer} was seen writing this source, which names no "
                            "producer (no consumer declares it in produces)")
    stats = session.scalars(select(m.OpenLineageColumnStat)
                            .where(m.OpenLineageColumnStat.source == source)
                            .order_by(m.OpenLineageColumnStat.at.desc(),
                                      m.OpenLineageColumnStat.id).limit(MAX_ROWS))
    return {"source": source, "openlineage": list(row.openlineage or []) if row else [],
            "writers": writers, "warnings": warnings,
            "statistics": [{"at": s.at.isoformat(), "field": s.field, "facet": s.facet,
                            "metrics": s.metrics, "run_id": s.run_id, "dataset":
                            {"namespace": s.namespace, "name": s.name}} for s in stats]}


def feature_statistics(session: Session, feature: str) -> list[dict[str, Any]]:
    """What input facets reported over time about a feature's column: rows of its sources
    whose field is the feature's column (``<source>.<field>``, or the bare name when the
    feature is built on the source), newest first — to show next to the snapshots' own."""
    sources = list(session.scalars(
        select(m.Source.name).join(m.FeatureSource, m.FeatureSource.source_id == m.Source.id)
        .join(m.Feature, m.Feature.id == m.FeatureSource.feature_id)
        .where(m.Feature.name == feature)))
    columns = {s: feature.removeprefix(f"{s}.") for s in sources}
    if not columns:
        return []
    rows = session.scalars(select(m.OpenLineageColumnStat)
                           .where(m.OpenLineageColumnStat.source.in_(sorted(columns)),
                                  m.OpenLineageColumnStat.field.in_(sorted(set(columns.values()))))
                           .order_by(m.OpenLineageColumnStat.at.desc(),
                                     m.OpenLineageColumnStat.id).limit(MAX_ROWS))
    return [{"at": r.at.isoformat(), "source": r.source, "field": r.field, "facet": r.facet,
             "metrics": r.metrics, "run_id": r.run_id} for r in rows
            if r.source is not None and columns.get(r.source) == r.field]
