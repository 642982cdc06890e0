"""Which stored objects a plan needs, so that a small change reads a small part of the catalog.

A plan without `--prune` can only create and update the objects its spec names. To compute it
the planner needs, besides those objects:

* the objects they refer to (owners, sources, upstream features, replacements — also the
  stored one a feature keeps when its entry leaves the lifecycle out —, consumed features,
  produced sources, producers), to tell a good reference from an unknown one;
* every consumer whose produced sources may change (the spec's consumers, the producers the
  spec's sources name or had), with all the sources each produces, because a consumer's
  `produces` is derived from its sources' `produced_by`;
* the features upstream of the spec's features' dependencies, following the spec's own
  `depends_on` where it redefines a feature, so that a new dependency cycle is seen.

`plan_scope` returns those names by kind, for `registry.catalog.state.load_state(only=...)`; every
team is included (a small table). `make_plan(..., scoped=True)` then plans from that state
and gives the plan and problems a plan from the whole catalog gives (a property test holds
the two together).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.catalog.spec import KINDS, Spec
from registry.catalog.state import CONSUMER, FEATURE, FEATURE_DEPENDENCY, SOURCE, TEAM
from registry.core.batches import chunks


def _upstream_closure(session: Session, spec: Spec) -> set[str]:
    """Every feature upstream of the spec's features' (new) dependencies."""
    upstream = FEATURE.alias()
    seen: set[str] = set()
    frontier = {d for loc in spec.features.values() for d in loc.entry.depends_on}
    while frontier := frontier - seen:
        seen |= frontier
        redefined = {n for n in frontier if n in spec.features}
        nxt = {d for n in redefined for d in spec.features[n].entry.depends_on}
        for chunk in chunks(sorted(frontier - redefined)):
            nxt |= set(session.scalars(
                select(upstream.c.name).select_from(FEATURE_DEPENDENCY)
                .join(FEATURE, FEATURE.c.id == FEATURE_DEPENDENCY.c.feature_id)
                .join(upstream, upstream.c.id == FEATURE_DEPENDENCY.c.depends_on_id)
                .where(FEATURE.c.name.in_(chunk))))
        frontier = nxt
    return seen


def plan_scope(session: Session, spec: Spec) -> dict[str, set[str]]:
    """Names, by kind, of the stored objects a plan of `spec` without prune reads."""
    scope: dict[str, set[str]] = {kind: set(spec.of(kind)) for kind in KINDS}
    scope["teams"] |= set(session.scalars(select(TEAM.c.name)))
    for loc in spec.features.values():
        entry = loc.entry
        scope["sources"] |= set(entry.sources)
        scope["features"] |= set(entry.depends_on)
        if entry.replacement:
            scope["features"].add(entry.replacement)
    for loc in spec.consumers.values():
        scope["features"] |= set(loc.entry.features)
        scope["sources"] |= set(loc.entry.produces)
    replacement = FEATURE.alias()
    for chunk in chunks(sorted(spec.features)):  # kept when an entry leaves lifecycle out
        scope["features"] |= set(session.scalars(
            select(replacement.c.name)
            .join(FEATURE, FEATURE.c.replacement_id == replacement.c.id)
            .where(FEATURE.c.name.in_(chunk))))
    producers = set(spec.consumers)
    for loc in spec.sources.values():
        if loc.entry.produced_by:
            producers.add(loc.entry.produced_by)
    claimed = set(spec.sources) | {s for loc in spec.consumers.values()
                                   for s in loc.entry.produces}
    producer = CONSUMER.alias()
    for chunk in chunks(sorted(claimed)):
        producers |= set(session.scalars(
            select(producer.c.name).join(SOURCE, SOURCE.c.produced_by_id == producer.c.id)
            .where(SOURCE.c.name.in_(chunk))))
    scope["consumers"] |= producers
    for chunk in chunks(sorted(producers)):
        scope["sources"] |= set(session.scalars(
            select(SOURCE.c.name).join(producer, SOURCE.c.produced_by_id == producer.c.id)
            .where(producer.c.name.in_(chunk))))
    scope["features"] |= _upstream_closure(session, spec)
    return scope
