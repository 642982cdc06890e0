"""Spec proposed for what OpenLineage saw but the catalog does not hold
(``featreg openlineage suggest``, ``GET /api/v1/openlineage/suggest``, the unregistered-reader
page).

- **Sources**: every dataset seen (in runs, JobEvents or DatasetEvents) that matches no
  source. The name is its dotted path made a valid name; an ``openlineage`` alias pins it to
  the dataset's namespace and name, so it matches exactly once applied. Owner: the first
  owner of its ``ownership`` facet (``team:`` or ``user:`` prefixes dropped); description: its
  ``documentation`` facet. Kind: ``stream`` for Kafka, ``file`` for object stores and file
  systems, else ``table``.
- **Features**: one per field of its latest schema (nested fields by dotted path), named
  ``<source>.<field>``, with the field's description and a dtype read from its type.
- **Consumers**: every job seen running that is neither registered nor a task of another job
  (a task rolls up to its parent once that is registered), as a ``job`` with the features its
  runs read. Owner and description from the job's facets.
- **Teams**: each owner not registered yet; ``unowned`` when the facets name none (review it).

The result is a spec mapping that `featreg apply` accepts as it is.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.catalog.export import dump_yaml
from registry.catalog.spec import NAME_RE
from registry.core.names import NAME_LENGTH
from registry.evidence.openlineage_events import DatasetRef, JobRef
from registry.evidence.openlineage_matching import Catalog
from registry.store import models as m

__all__ = ["suggest_spec", "suggestion_yaml", "valid_name"]

UNOWNED = "unowned"
MAX_OBJECTS = 5000
_DTYPES = (
    (re.compile(r"bool", re.I), "bool"),
    (re.compile(r"int|long|short|byte|serial", re.I), "int"),
    (re.compile(r"float|double|decimal|numeric|real|number", re.I), "float"),
    (re.compile(r"time|date", re.I), "timestamp"),
    (re.compile(r"array|list|vector", re.I), "vector"),
)
_KINDS = (("kafka", "stream"), ("s3", "file"), ("gs", "file"), ("file", "file"),
          ("hdfs", "file"), ("abfs", "file"), ("wasb", "file"), ("dbfs", "file"))


def valid_name(text: str) -> str:
    """``text`` made a valid catalog name: other characters become ``_``, a letter first, at
    most 128 characters (a longer one is cut, with 8 hex digits of its SHA-256)."""
    name = re.sub(r"[^A-Za-z0-9_.\-]+", "_", text.strip("/").replace("/", ".")).strip("_.")
    if not name or not name[0].isalpha():
        name = f"ds_{name}"
    if len(name) > NAME_LENGTH:
        name = f"{name[:NAME_LENGTH - 9]}_{hashlib.sha256(text.encode()).hexdigest()[:8]}"
    return name if NAME_RE.fullmatch(name) else f"ds_{hashlib.sha256(text.encode()).hexdigest()}"


def _owner(owners: list[str]) -> str:
    for owner in owners:
        name = valid_name(re.sub(r"^(team|user|group):", "", owner))
        if name:
            return name
    return UNOWNED


def _dtype(kind: str | None) -> str:
    return next((d for pattern, d in _DTYPES if kind and pattern.search(kind)), "string")


def _source_kind(namespace: str) -> str:
    scheme = namespace.split(":", 1)[0].lower()
    return next((k for prefix, k in _KINDS if scheme.startswith(prefix)), "table")


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        suffix = f"_{n}"
        candidate, n = f"{name[:NAME_LENGTH - len(suffix)]}{suffix}", n + 1
    taken.add(candidate)
    return candidate


def _datasets(session: Session, principal: str | None) -> list[m.OpenLineageDatasetFacts]:
    query = select(m.OpenLineageDatasetFacts).order_by(m.OpenLineageDatasetFacts.namespace,
                                                        m.OpenLineageDatasetFacts.name)
    if principal is not None:
        seen = select(m.OpenLineageDataset.namespace, m.OpenLineageDataset.name).where(
            m.OpenLineageDataset.principal == principal)
        pairs = set(session.execute(seen).tuples().all())
        return [r for r in session.scalars(query.where(m.OpenLineageDatasetFacts.name.in_(
            sorted({n for _ns, n in pairs})[:MAX_OBJECTS]))) if (r.namespace, r.name) in pairs]
    return list(session.scalars(query.limit(MAX_OBJECTS)))


def _jobs_of(run: m.OpenLineageRun) -> set[tuple[str, str]]:
    """The run's job, its parent's and its root's."""
    jobs = {(run.job_namespace, run.job_name)}
    for namespace, name in ((run.parent_namespace, run.parent_name),
                            (run.root_namespace, run.root_name)):
        if namespace is not None and name is not None:
            jobs.add((namespace, name))
    return jobs


def _top_jobs(runs: Sequence[m.OpenLineageRun]) -> set[tuple[str, str]]:
    """Jobs that are no other job's task: jobs whose runs have no parent, and the roots (or
    else the parents) named by child runs that sent no run of their own with a parent."""
    has_parent: dict[tuple[str, str], bool] = {}
    for run in runs:
        job = (run.job_namespace, run.job_name)
        has_parent[job] = has_parent.get(job, False) or run.parent_name is not None
    tops = {job for job, child in has_parent.items() if not child}
    for run in runs:
        if run.root_namespace is not None and run.root_name is not None:
            top = (run.root_namespace, run.root_name)
        elif run.parent_namespace is not None and run.parent_name is not None:
            top = (run.parent_namespace, run.parent_name)
        else:
            continue
        if not has_parent.get(top, False):
            tops.add(top)
    return tops


def suggest_spec(session: Session, *, principal: str | None = None) -> dict[str, Any]:
    """The proposed spec (see the module docstring); only what ``principal`` was seen using
    when given. Empty lists are left out."""
    facts = _datasets(session, principal)
    refs = [DatasetRef(r.namespace, r.name, symlinks=tuple(
        JobRef(s["namespace"], s["name"]) for s in r.symlinks)) for r in facts]
    runs = session.scalars(select(m.OpenLineageRun).where(
        *([m.OpenLineageRun.principal == principal] if principal else []))
        .order_by(m.OpenLineageRun.job_namespace, m.OpenLineageRun.job_name)
        .limit(MAX_OBJECTS * 4)).all()
    tops = _top_jobs(runs)
    catalog = Catalog.load_for(session, refs, [name for _ns, name in tops], {})
    registered = {"sources": set(session.scalars(select(m.Source.name))),
                  "features": set(session.scalars(select(m.Feature.name))),
                  "consumers": set(session.scalars(select(m.Consumer.name)))}
    taken = {k: set(v) for k, v in registered.items()}
    owners: set[str] = set()
    sources, features = [], []
    for row, ref in zip(facts, refs, strict=True):
        if catalog.source_of(ref) is not None:
            continue
        name = _unique(valid_name(row.name), taken["sources"])
        owner = _owner(row.owners)
        owners.add(owner)
        entry: dict[str, Any] = {"name": name, "kind": _source_kind(row.namespace),
                                 "owner": owner}
        if row.description:
            entry["description"] = row.description
        entry["openlineage"] = [{"namespace": row.namespace, "name": row.name}]
        sources.append(entry)
        for field in row.fields:
            feature = {"name": _unique(valid_name(f"{name}.{field['name']}"),
                                       taken["features"]),
                       "owner": owner, "dtype": _dtype(field.get("type")), "sources": [name]}
            if field.get("description"):
                feature["description"] = field["description"]
            features.append(feature)
    consumers = []
    for namespace, job_name in sorted(tops):
        if job_name in catalog.consumers:
            continue
        job = session.scalar(select(m.OpenLineageJob).where(
            m.OpenLineageJob.namespace == namespace, m.OpenLineageJob.name == job_name))
        owner = _owner(list(job.owners) if job else [])
        owners.add(owner)
        reads = sorted({f for r in runs if (namespace, job_name) in _jobs_of(r) for f in r.reads}
                       & registered["features"])
        entry = {"name": _unique(valid_name(job_name), taken["consumers"]), "kind": "job",
                 "owner": owner}
        if job is not None and job.description:
            entry["description"] = job.description
        if reads:
            entry["features"] = reads
        consumers.append(entry)
    known_teams = set(session.scalars(select(m.Team.name)))
    spec = {"teams": [{"name": t} for t in sorted(owners - known_teams)],
            "sources": sources, "features": features, "consumers": consumers}
    return {k: v for k, v in spec.items() if v}


def suggestion_yaml(spec: dict[str, Any]) -> str:
    """The proposed spec as YAML, with a header saying what to review."""
    if not spec:
        return "# Nothing to suggest: every dataset and job OpenLineage saw is registered.\n"
    header = ("# Proposed by `featreg openlineage suggest` from what OpenLineage saw.\n"
              "# Review owners (`unowned` where the events name none), kinds and dtypes, "
              "then `featreg apply`.\n")
    return header + dump_yaml(spec)
