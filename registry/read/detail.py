"""Read-side services of one object: a feature, a source, a consumer (or principal), a team."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Integer,
    String,
    bindparam,
    cast,
    func,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from registry.catalog import lineage
from registry.catalog.spec import READINESS_LEVELS
from registry.core.batches import chunks
from registry.core.errors import NotFound
from registry.evidence.freshness import freshness_view
from registry.evidence.openlineage_read import consumer_lineage, observed_datasets
from registry.read import evidence
from registry.read.common import (
    ACTIVE_STATUSES,
    active_finding_kinds,
    first_line,
    iso,
    object_history,
    run,
    subject_findings,
    tags_of,
)
from registry.read.finding_actions import (
    declaration_pointer,
    declare_yaml_for,
    deprecation_suggestion,
    register_yaml_for,
)
from registry.read.finding_detail import findings_with_membership, member_findings
from registry.read.health import feature_stats_history, stats_charts
from registry.read.ops import reports_list
from registry.store import models as m

LIST_LIMIT = 500
OBSERVED_DATASETS = 200  # datasets shown per job and direction (newest first)


def _by_name(session: Session, model: Any, name: str, what: str) -> Any:
    row = session.scalar(select(model).where(model.name == name))
    if row is None:
        raise NotFound(f"no {what} named {name!r}")
    return row


def _grouped(nodes: list[lineage.LineageNode]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {"feature": [], "source": [], "consumer": []}
    for node in nodes:
        grouped[node.type].append(node.to_dict())
    return grouped


# ----- feature ---------------------------------------------------------------------------------


def _relations_statement() -> Any:
    """One UNION ALL over the edge tables around the feature `:feature_id` (built once)."""
    other = aliased(m.Feature)
    me = aliased(m.Feature)
    empty = cast(null(), String)
    fid = bindparam("feature_id", type_=Integer)

    def rel(name: str) -> Any:
        return literal_column(f"'{name}'", String).label("relation")

    return union_all(
        select(rel("sources"), m.Source.name, m.Source.kind, empty, m.Team.name)
        .join(m.FeatureSource, m.FeatureSource.source_id == m.Source.id)
        .join(m.Team, m.Team.id == m.Source.owner_id)
        .where(m.FeatureSource.feature_id == fid),
        select(rel("depends_on"), other.name, empty, other.status, empty)
        .join(m.FeatureDependency, m.FeatureDependency.depends_on_id == other.id)
        .where(m.FeatureDependency.feature_id == fid),
        select(rel("derived"), other.name, empty, other.status, empty)
        .join(m.FeatureDependency, m.FeatureDependency.feature_id == other.id)
        .where(m.FeatureDependency.depends_on_id == fid),
        select(rel("declared_consumers"), m.Consumer.name, m.Consumer.kind, empty, m.Team.name)
        .join(m.ConsumerFeature, m.ConsumerFeature.consumer_id == m.Consumer.id)
        .join(m.Team, m.Team.id == m.Consumer.owner_id)
        .where(m.ConsumerFeature.feature_id == fid),
        select(rel("replacement"), other.name, empty, other.status, empty)
        .join(me, me.replacement_id == other.id).where(me.id == fid),
        select(rel("replaces"), other.name, empty, other.status, empty)
        .where(other.replacement_id == fid),
    )


RELATIONS = _relations_statement()


def _feature_relations(session: Session, feature_id: int) -> dict[str, list[dict[str, Any]]]:
    """Sources, dependencies, derived features, declaring consumers, the replacement and the
    features it replaces, in one query: {relation: [{name, kind, status, owner}]}."""
    relations: dict[str, list[dict[str, Any]]] = {
        key: [] for key in ("sources", "depends_on", "derived", "declared_consumers",
                            "replacement", "replaces")}
    for relation, name, kind, status, owner in run(session, RELATIONS,
                                                   {"feature_id": feature_id}):
        entry = {"name": name, "kind": kind, "status": status, "owner": owner}
        relations[relation].append({k: v for k, v in entry.items() if v is not None
                                    or k == "name"})
    return {key: sorted(rows, key=lambda r: r["name"]) for key, rows in relations.items()}


FEATURE_ROW = (select(m.Feature.id, m.Feature.name, m.Feature.dtype, m.Feature.description,
                      m.Feature.status, m.Feature.sunset, m.Feature.deprecation_reason,
                      m.Feature.bundle, m.Feature.cost, m.Feature.created, m.Feature.expect,
                      m.Feature.registered_at, m.Team.name.label("owner"),
                      m.Team.contact.label("owner_contact"))
               .join(m.Team, m.Team.id == m.Feature.owner_id)
               .where(m.Feature.name == bindparam("name", type_=String)))
"""A feature and its owner in one row (no ORM object: the page only reads them)."""


def feature_detail(session: Session, name: str, *, now: datetime | None = None
                   ) -> dict[str, Any]:
    """Everything the feature page shows (the dependency graph and charts are separate)."""
    feature = run(session, FEATURE_ROW, {"name": name}).first()
    if feature is None:
        raise NotFound(f"no feature named {name!r}")
    related = _feature_relations(session, feature.id)
    declared = related["declared_consumers"]
    readers = evidence.feature_readers(session, name, [c["name"] for c in declared], now=now)
    importance = evidence.importance_series(session, name)
    findings = _findings(session, "feature", name)
    return {
        "name": feature.name, "owner": feature.owner, "owner_contact": feature.owner_contact,
        "dtype": feature.dtype, "description": feature.description or "",
        "status": feature.status, "sunset": iso(feature.sunset),
        "replacement": related["replacement"][0]["name"] if related["replacement"] else None,
        "deprecation_reason": feature.deprecation_reason,
        "replaces": [r["name"] for r in related["replaces"]],
        "bundle": feature.bundle, "cost": feature.cost, "created": iso(feature.created),
        "expect": feature.expect or None,
        "stats_history": (stats := feature_stats_history(session, feature.name)),
        "stats_charts": stats_charts(stats, feature.expect),
        "registered_at": iso(feature.registered_at),
        "tags": tags_of(session, [feature.id]).get(feature.id, []),
        "sources": related["sources"], "depends_on": related["depends_on"],
        "derived": related["derived"], "declared_consumers": declared, "readers": readers,
        "undeclared_readers": [r["principal"] for r in readers if not r["declared"]],
        "importance_latest": evidence.latest_importance(importance),
        "importance_history_points": len(importance),
        "has_usage": any(r["reads"] for r in readers),
        "correlated": evidence.correlated_partners(session, name),
        "findings": findings,
        "actions": {
            "deprecate": deprecation_suggestion(name, feature.status, findings,
                                                today=(now or datetime.now(UTC)).date()),
            "declaration": declaration_pointer(session, name)
            if any(f["kind"] == "undocumented" for f in findings) else None,
        },
        "history": object_history(session, "feature", name),
    }


def _findings(session: Session, object_type: str, name: str) -> list[dict[str, Any]]:
    """Findings about the object and the loop and cluster findings it is a member of."""
    return findings_with_membership(subject_findings(session, object_type, name),
                                    member_findings(session, object_type, name))


# ----- source ----------------------------------------------------------------------------------


def source_detail(session: Session, name: str) -> dict[str, Any]:
    """A source, the features built on it directly, and everything it feeds (impact)."""
    source = _by_name(session, m.Source, name, "source")
    direct = [{"name": n, "status": s, "owner": o} for n, s, o in session.execute(
        select(m.Feature.name, m.Feature.status, m.Team.name)
        .join(m.FeatureSource, m.FeatureSource.feature_id == m.Feature.id)
        .join(m.Team, m.Team.id == m.Feature.owner_id)
        .where(m.FeatureSource.source_id == source.id).order_by(m.Feature.name))]
    impact = lineage.impact(session, name)
    return {
        "name": source.name, "kind": source.kind, "owner": source.owner.name,
        "description": source.description or "", "freshness": source.freshness,
        "readiness": source.readiness,
        "updates": freshness_view(session, source.name, source.freshness),
        "produced_by": source.produced_by.name if source.produced_by else None,
        "registered_at": iso(source.registered_at), "features": direct,
        "impact": _grouped(impact), "impact_count": len(impact),
        "findings": _findings(session, "source", name),
        "history": object_history(session, "source", name),
    }


# ----- consumer --------------------------------------------------------------------------------


def consumer_detail(session: Session, name: str, *, now: datetime | None = None
                    ) -> dict[str, Any]:
    """A consumer: declared features, undeclared reads, closure, produced sources, changes.

    A principal that is not a registered consumer but was observed reading features (or has
    findings) gets the same view with ``registered`` false.
    """
    consumer = session.scalar(select(m.Consumer).where(m.Consumer.name == name))
    reads = evidence.features_read_by(session, name, now=now)
    findings = _findings(session, "consumer", name)
    datasets = [d for direction in ("input", "output") for d in observed_datasets(
        session, principal=name, direction=direction, limit=OBSERVED_DATASETS)]
    if consumer is None and not reads and not findings and not datasets:
        raise NotFound(f"no consumer or observed principal named {name!r}")
    declared: list[dict[str, Any]] = []
    produces: list[str] = []
    closure: dict[str, list[dict[str, Any]]] = {"feature": [], "source": [], "consumer": []}
    if consumer is not None:
        declared = [{"name": n, "status": s, "owner": o} for n, s, o in session.execute(
            select(m.Feature.name, m.Feature.status, m.Team.name)
            .join(m.ConsumerFeature, m.ConsumerFeature.feature_id == m.Feature.id)
            .join(m.Team, m.Team.id == m.Feature.owner_id)
            .where(m.ConsumerFeature.consumer_id == consumer.id).order_by(m.Feature.name))]
        produces = list(session.scalars(select(m.Source.name)
                                        .where(m.Source.produced_by_id == consumer.id)
                                        .order_by(m.Source.name)))
        closure = _grouped(lineage.closure(session, name))
    declared_names = {d["name"] for d in declared}
    kinds = active_finding_kinds(session, "feature", declared_names)
    for row in declared:
        row["findings"] = kinds.get(row["name"], [])
    return {
        "name": name, "registered": consumer is not None,
        "kind": consumer.kind if consumer else None,
        "owner": consumer.owner.name if consumer else None,
        "description": (consumer.description or "") if consumer else "",
        "version": consumer.version if consumer else None,
        "stage": consumer.stage if consumer else None,
        "readiness": _closure_readiness(session, [n["name"] for n in closure["source"]]),
        "registered_at": iso(consumer.registered_at) if consumer else None,
        "declared_features": declared, "produces": produces, "reads": reads,
        "undeclared_reads": [r for r in reads if r["feature"] not in declared_names],
        "declared_unread": sorted(declared_names - {r["feature"] for r in reads}),
        "closure": closure, "findings": findings,
        "register_yaml": None if consumer is not None else register_yaml_for(
            session, name, [r["feature"] for r in reads]),
        "declare_yaml": None if consumer is None else declare_yaml_for(
            session, name, [r["feature"] for r in reads if r["feature"] not in declared_names]),
        **_observed_io(datasets, produces),
        "openlineage": consumer_lineage(session, name),  # tasks, runs, declared by the job
        "history": object_history(session, "consumer", name),
        "config_versions": consumer_config_versions(session, name),
    }


def _closure_readiness(session: Session, sources: list[str]) -> dict[str, Any]:
    """The lowest declared readiness among the sources a consumer depends on (C < B < A),
    the sources at that level, and the sources not assessed."""
    levels: dict[str, str | None] = {}
    for chunk in chunks(sorted(set(sources))):
        levels.update(session.execute(select(m.Source.name, m.Source.readiness)
                                      .where(m.Source.name.in_(chunk))).tuples().all())
    assessed = {n: r for n, r in levels.items() if r}
    lowest = min(assessed.values(), key=READINESS_LEVELS.index) if assessed else None
    return {"lowest": lowest,
            "lowest_sources": sorted(n for n, r in assessed.items() if r == lowest),
            "not_assessed": sorted(n for n, r in levels.items() if not r)}


def _observed_io(datasets: list[dict[str, Any]], produces: list[str]) -> dict[str, Any]:
    """What OpenLineage saw the job read and write, and the writes it does not declare: an
    output that matched a source not in `produces`, or no registered source at all."""
    outputs = [{**d, "declared": d["source"] in produces} for d in datasets
               if d["direction"] == "output"]
    return {"observed_inputs": [d for d in datasets if d["direction"] == "input"],
            "observed_outputs": outputs,
            "undeclared_outputs": [d for d in outputs if not d["declared"]]}


def consumer_config_versions(session: Session, name: str) -> list[dict[str, Any]]:
    """The consumer's declared feature set after each audited change, oldest first."""
    events = session.scalars(
        select(m.AuditEvent)
        .where(m.AuditEvent.object_type == "consumer", m.AuditEvent.object_name == name)
        .order_by(m.AuditEvent.ts, m.AuditEvent.id))
    versions: list[dict[str, Any]] = []
    current: list[str] = []
    for event in events:
        after = event.after or {}
        if event.action == "delete":
            current = []
        elif event.action == "create" or "features" in after:
            current = sorted(after.get("features") or [])
        else:
            continue
        versions.append({"event_id": event.id, "ts": iso(event.ts), "actor": event.actor,
                         "action": event.action, "features": current})
    return versions


def consumer_config_diff(session: Session, name: str, *, before: int | None = None,
                         after: int | None = None) -> dict[str, Any]:
    """Declared features of a consumer at two audited versions (event ids), side by side.

    Defaults: the version before the latest, and the latest.
    """
    versions = consumer_config_versions(session, name)
    if not versions:
        raise NotFound(f"no configuration history for consumer {name!r}")
    by_id = {v["event_id"]: v for v in versions}
    right = by_id.get(after) if after is not None else versions[-1]
    if right is None:
        raise NotFound(f"consumer {name!r} has no version {after}")
    if before is not None:
        left = by_id.get(before)
        if left is None:
            raise NotFound(f"consumer {name!r} has no version {before}")
    else:
        index = versions.index(right)
        left = versions[index - 1] if index > 0 else None
    old = set(left["features"]) if left else set()
    new = set(right["features"])
    rows = [{"feature": f, "before": f in old, "after": f in new,
             "change": "added" if f not in old else "removed" if f not in new else "kept"}
            for f in sorted(old | new)]
    return {"consumer": name, "before": left, "after": right, "rows": rows,
            "added": sorted(new - old), "removed": sorted(old - new), "versions": versions}


# ----- team ------------------------------------------------------------------------------------


def team_detail(session: Session, name: str) -> dict[str, Any]:
    """A team: what it owns (features up to LIST_LIMIT), its findings and its reports."""
    team = _by_name(session, m.Team, name, "team")
    status_counts = dict(session.execute(
        select(m.Feature.status, func.count()).where(m.Feature.owner_id == team.id)
        .group_by(m.Feature.status)).all())
    features = session.execute(
        select(m.Feature.id, m.Feature.name, m.Feature.status, m.Feature.dtype,
               m.Feature.description)
        .where(m.Feature.owner_id == team.id).order_by(m.Feature.name).limit(LIST_LIMIT)).all()
    kinds = active_finding_kinds(session, "feature", [r[1] for r in features])
    sources = [{"name": n, "kind": k} for n, k in session.execute(
        select(m.Source.name, m.Source.kind).where(m.Source.owner_id == team.id)
        .order_by(m.Source.name))]
    consumers = [{"name": n, "kind": k} for n, k in session.execute(
        select(m.Consumer.name, m.Consumer.kind).where(m.Consumer.owner_id == team.id)
        .order_by(m.Consumer.name))]
    findings = session.scalars(select(m.Finding).where(
        m.Finding.owner == name, m.Finding.status.in_(ACTIVE_STATUSES)))
    by_kind: dict[str, int] = defaultdict(int)
    for finding in findings:
        by_kind[finding.kind] += 1
    return {
        "name": team.name, "contact": team.contact, "description": team.description or "",
        "feature_count": sum(status_counts.values()), "status_counts": status_counts,
        "features": [{"name": n, "status": s, "dtype": d, "summary": first_line(desc),
                      "findings": kinds.get(n, [])} for _, n, s, d, desc in features],
        "features_truncated": sum(status_counts.values()) > len(features),
        "sources": sources, "consumers": consumers,
        "findings_by_kind": dict(sorted(by_kind.items())),
        "reports": reports_list(session, {"team": name, "per_page": 10}),
        "history": object_history(session, "team", name),
    }
