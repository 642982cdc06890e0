"""What a catalog graph must never leave out: every undeclared read (a feature read by a
principal that does not declare it), every member of a feedback loop, and the objects with a
critical or warning finding (drawn first when a node limit applies).

`catalog_warnings` gathers them for the whole catalog in a few queries over whole tables (the
distinct readers of each feature come from the usage table's (principal, feature) index; what
is declared is compared in memory), so a page may keep the value and recompute it in the
background (see `web.support.memo_latest`).
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
from sqlalchemy import String, and_, bindparam, select
from sqlalchemy.orm import Session

from registry.catalog import lineage
from registry.catalog.lineage import NodeKey
from registry.core.batches import chunks
from registry.read.common import ACTIVE_STATUSES, run
from registry.store import models as m

__all__ = ["CatalogWarnings", "UndeclaredRead", "catalog_warnings", "loop_members",
           "undeclared_readers"]

UndeclaredRead = tuple[str, str, str | None]
"""(feature, principal, owner team of the principal when it is a registered consumer)."""
SEVERITY_RANK = {"critical": 0, "warning": 1}


@dataclass(frozen=True)
class CatalogWarnings:
    reads: list[UndeclaredRead]
    """Every undeclared read of a catalog feature, sorted."""
    features: dict[str, NodeKey]
    """The graph key of each feature read undeclared."""
    readers: dict[str, NodeKey]
    """The graph key of each undeclared reader that is a registered consumer."""
    warned: list[NodeKey]
    """Objects with an active critical or warning finding, critical ones first."""
    observed_loops: list[NodeKey]
    """The objects named by active feedback_loop findings (observed loops included)."""


def undeclared_readers(session: Session, features: list[str] | None) -> list[UndeclaredRead]:
    """Reads observed in usage but not declared: of the given features, or (None) of every
    feature in the catalog."""
    if features is None:
        return _every_undeclared_read(session)
    held = lineage.cached_catalog(session)
    if held is not None:
        return _undeclared_in_memory(session, held, features)
    declared = (select(m.ConsumerFeature.consumer_id)
                .join(m.Feature, m.Feature.id == m.ConsumerFeature.feature_id)
                .where(m.ConsumerFeature.consumer_id == m.Consumer.id,
                       m.Feature.name == m.UsageDaily.feature))
    query = (select(m.UsageDaily.feature, m.UsageDaily.principal, m.Team.name).distinct()
             .outerjoin(m.Consumer, m.Consumer.name == m.UsageDaily.principal)
             .outerjoin(m.Team, m.Team.id == m.Consumer.owner_id)
             .where(~declared.exists()))
    found: set[UndeclaredRead] = set()
    for part in chunks(sorted(features)):
        found.update((f, p, o) for f, p, o in run(session,
                                                  query.where(m.UsageDaily.feature.in_(part))))
    return sorted(found, key=lambda row: (row[0], row[1]))


READ_PAIRS = (select(m.UsageDaily.feature, m.UsageDaily.principal).distinct()
              .where(m.UsageDaily.feature.in_(bindparam("features", type_=String,
                                                         expanding=True))))


def _undeclared_in_memory(session: Session, held: lineage.HeldCatalog,
                          features: list[str]) -> list[UndeclaredRead]:
    """The same answer from the distinct (feature, principal) pairs of usage (the usage
    table's primary key) and the declarations of the catalog held in memory."""
    found: set[UndeclaredRead] = set()
    for part in chunks(sorted(features)):
        for feature, principal in run(session, READ_PAIRS, {"features": part}):
            consumer_id = held.ids.get(("consumer", principal))
            if consumer_id is None:
                found.add((feature, principal, None))
                continue
            feature_id = held.ids.get(("feature", feature))
            consumer = ("consumer", consumer_id)
            if feature_id is None or not held.flow.has_edge(("feature", feature_id), consumer):
                found.add((feature, principal, held.info[consumer][1]))
    return sorted(found, key=lambda row: (row[0], row[1]))


def _every_undeclared_read(session: Session) -> list[UndeclaredRead]:
    pairs = run(session, select(m.UsageDaily.principal, m.UsageDaily.feature).distinct()).all()
    catalog = set(session.scalars(select(m.Feature.name)))
    declared = set(run(session, select(m.Consumer.name, m.Feature.name)
                       .join(m.ConsumerFeature, m.ConsumerFeature.consumer_id == m.Consumer.id)
                       .join(m.Feature, m.Feature.id == m.ConsumerFeature.feature_id)).all())
    owners = dict(run(session, select(m.Consumer.name, m.Team.name)
                      .join(m.Team, m.Team.id == m.Consumer.owner_id)).all())
    return sorted((feature, principal, owners.get(principal))
                  for principal, feature in pairs
                  if feature in catalog and (principal, feature) not in declared)


def ids(session: Session, kind: str, names: set[str]) -> dict[str, NodeKey]:
    """The graph keys of the named objects of one type that exist."""
    model = lineage.MODELS[kind]
    found: dict[str, NodeKey] = {}
    for part in chunks(sorted(names)):
        found.update((name, (kind, id_)) for id_, name in run(
            session, select(model.id, model.name).where(model.name.in_(part))))
    return found


def _warned(session: Session) -> list[NodeKey]:
    rank: dict[NodeKey, int] = {}
    for kind, model in lineage.MODELS.items():
        for id_, severity in run(session, select(model.id, m.Finding.severity).join(
                m.Finding, and_(m.Finding.subject_type == kind,
                                m.Finding.subject_name == model.name))
                .where(m.Finding.status.in_(ACTIVE_STATUSES),
                       m.Finding.severity.in_(tuple(SEVERITY_RANK)))):
            key = (kind, id_)
            rank[key] = min(rank.get(key, 2), SEVERITY_RANK[severity])
    return sorted(rank, key=lambda key: (rank[key], key))


def _observed_loops(session: Session) -> list[NodeKey]:
    named: dict[str, set[str]] = {}
    for subject_type, subject, related in run(session, select(
            m.Finding.subject_type, m.Finding.subject_name, m.Finding.related).where(
            m.Finding.kind == "feedback_loop", m.Finding.status.in_(ACTIVE_STATUSES))):
        named.setdefault(subject_type, set()).add(subject)
        for item in related or []:
            if isinstance(item, dict) and item.get("type") in lineage.MODELS:
                named.setdefault(str(item["type"]), set()).add(str(item.get("name")))
    return sorted(key for kind, names in sorted(named.items()) if kind in lineage.MODELS
                  for key in ids(session, kind, names).values())


def catalog_warnings(session: Session) -> CatalogWarnings:
    """The catalog's undeclared reads, warned objects and observed loop members."""
    reads = undeclared_readers(session, None)
    return CatalogWarnings(
        reads=reads, features=ids(session, "feature", {row[0] for row in reads}),
        readers=ids(session, "consumer", {row[1] for row in reads}),
        warned=_warned(session), observed_loops=_observed_loops(session))


def loop_members(flow: nx.DiGraph) -> list[NodeKey]:
    """Every object on a cycle of the catalog's declared edges (each such cycle is a feedback
    loop: it can only close through a consumer that produces a source); kept with the flow,
    which is reused while the catalog is unchanged."""
    held: list[NodeKey] | None = flow.graph.get("loop_members")
    if held is None:
        held = sorted(node for component in nx.strongly_connected_components(flow)
                      if len(component) > 1 for node in component)
        flow.graph["loop_members"] = held
    return held
