"""What apply_plan writes for a mixed plan, row by row, on SQLite and PostgreSQL.

apply_plan stamps rows with the change set's time inside the INSERT and writes None as JSON
null without binding it per row; these tests pin the values that must not change: every time,
change set id and audit row of a create/update/delete plan, JSON null (never SQL NULL) in the
JSON columns, ids in plan order, and the edges.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session, sessionmaker

from registry.catalog import service as catalog
from registry.catalog.plan import ObjectChange, Plan
from registry.catalog.spec import parse_documents
from registry.catalog.state import load_state
from registry.store import models as m
from registry.store.db import session_factory, session_scope

FIRST = """\
teams:
  - {name: growth, contact: growth@example.com}
  - {name: ads}
sources:
  - name: warehouse.clicks
    kind: table
    owner: growth
    openlineage: [{namespace: "postgres://db", name: public.clicks}]
  - {name: warehouse.views, kind: table, owner: growth, freshness: 1d, readiness: B}
  - {name: ctr_model.scores, kind: model_output, owner: ads, produced_by: ctr_model}
features:
  - name: user_clicks_7d
    owner: growth
    dtype: int
    sources: [warehouse.clicks]
    tags: [ads, clicks]
    created: 2025-03-01
    expect: {min: 0}
  - {name: user_views_7d, owner: growth, dtype: int, sources: [warehouse.views], tags: [views]}
  - name: user_ctr_7d
    owner: growth
    dtype: float
    sources: [warehouse.clicks, warehouse.views]
    depends_on: [user_clicks_7d, user_views_7d]
    cost: 1.5
  - name: ctr_score
    owner: ads
    dtype: float
    sources: [ctr_model.scores]
    status: deprecated
    sunset: 2030-01-31
    replacement: user_ctr_7d
consumers:
  - {name: ctr_model, kind: model, owner: ads, version: "3", features: [user_clicks_7d],
     produces: [ctr_model.scores]}
  - {name: ranker, kind: service, owner: ads, features: [ctr_score, user_views_7d]}
"""

# Creates (a team, a source, features with and without `created`, a consumer), updates (owner,
# tags, sources, dependencies, expect, openlineage, consumer features) and deletes (a feature
# that is a replacement and a dependency, a consumer, a source).
SECOND = """\
teams:
  - {name: growth, contact: growth@example.com}
  - {name: ads}
  - {name: search, description: Search team}
sources:
  - {name: warehouse.clicks, kind: table, owner: growth}
  - {name: warehouse.views, kind: table, owner: ads, freshness: 1d, readiness: B}
  - name: search.queries
    kind: table
    owner: search
    openlineage: [{namespace: "kafka://b", name: queries}]
features:
  - name: user_clicks_7d
    owner: growth
    dtype: int
    sources: [warehouse.clicks, search.queries]
    tags: [clicks]
    created: 2025-03-01
  - {name: user_views_7d, owner: ads, dtype: int, sources: [warehouse.views], tags: [views, ads],
     expect: {max_null_fraction: 0.5}}
  - {name: query_count_1d, owner: search, dtype: int, sources: [search.queries],
     depends_on: [user_clicks_7d], tags: [search]}
  - {name: a_query_rate, owner: search, dtype: float, sources: [search.queries],
     created: "2024-01-02T03:04:05+02:00", bundle: search-launch}
consumers:
  - {name: ranker, kind: service, owner: ads, features: [user_views_7d, query_count_1d]}
  - {name: search_model, kind: model, owner: search, features: [a_query_rate]}
"""

FIRST_AT = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
SECOND_AT = datetime(2026, 2, 3, 4, 5, 6, 789012, tzinfo=UTC)
TABLES = {"teams": m.Team, "sources": m.Source, "features": m.Feature, "consumers": m.Consumer}


def _table(model: type[m.Base]) -> Table:
    return cast(Table, model.__table__)


def _apply(sessions: sessionmaker[Session], text: str, *, actor: str,
           now: datetime) -> tuple[Plan, int]:
    with session_scope(sessions) as session:
        plan, changeset = catalog.apply_spec(session, parse_documents([("c.yaml", text)]),
                                             actor=actor, prune=True, now=now)
    assert changeset is not None
    return plan, changeset


def _expected_audit(ch: ObjectChange) -> tuple[Any, Any]:
    if ch.action == "update":
        return ({c.field: c.old for c in ch.changes}, {c.field: c.new for c in ch.changes})
    return ch.before, ch.after


def test_a_mixed_plan_writes_the_same_rows_times_audit_and_edges(db_url: str) -> None:
    sessions = session_factory(db_url)
    first, first_id = _apply(sessions, FIRST, actor="alice", now=FIRST_AT)
    plan, changeset = _apply(sessions, SECOND, actor="bob", now=SECOND_AT)
    counts = plan.counts()
    assert counts["create"] >= 5 and counts["update"] >= 5 and counts["delete"] >= 3

    audit = _table(m.AuditEvent)
    with session_scope(sessions) as session:
        # every audit row of each change set, in plan order, with its time, actor and values
        for applied, cs, actor, at in ((first, first_id, "alice", FIRST_AT),
                                       (plan, changeset, "bob", SECOND_AT)):
            rows = session.execute(
                select(audit.c.ts, audit.c.actor, audit.c.action, audit.c.object_type,
                       audit.c.object_name, audit.c.before, audit.c.after)
                .where(audit.c.changeset_id == cs).order_by(audit.c.id)).all()
            assert [tuple(r) for r in rows] == [
                (at, actor, ch.action, ch.object_type, ch.name, *_expected_audit(ch))
                for ch in applied.changes]
        change_set = session.get(m.ChangeSet, changeset)
        assert change_set is not None
        assert (change_set.created_at, change_set.features_added) == (SECOND_AT, 2)

        # None is JSON null in JSON columns, as a JSON column writes it, never SQL NULL
        for column in (audit.c.before, audit.c.after, _table(m.Feature).c.expect,
                       _table(m.Source).c.openlineage):
            assert session.scalar(select(func.count()).where(column.is_(None))) == 0, column

        # created objects: registered at their change set's time, ids in plan order
        for kind, model in TABLES.items():
            table = _table(model)
            stored = session.execute(select(table.c.name, table.c.registered_at)
                                     .order_by(table.c.id)).all()
            new = [ch.name for ch in plan.of("create", kind)]
            assert [name for name, _ in stored if name in new] == new, kind
            assert {name: at for name, at in stored} == {
                name: SECOND_AT if name in new else FIRST_AT for name, _ in stored}, kind

        features = _table(m.Feature)
        created = dict(session.execute(select(features.c.name, features.c.created)).all())
        first_set = dict(session.execute(select(features.c.name, features.c.changeset_id)).all())
    assert created == {
        "user_clicks_7d": datetime(2025, 3, 1, tzinfo=UTC),
        "user_views_7d": FIRST_AT,
        "query_count_1d": SECOND_AT,
        "a_query_rate": datetime(2024, 1, 2, 1, 4, 5, tzinfo=UTC),
    }
    assert first_set == {"user_clicks_7d": first_id, "user_views_7d": first_id,
                         "query_count_1d": changeset, "a_query_rate": changeset}

    # the stored catalog (scalar columns, edges, producers) is the desired one
    with session_scope(sessions) as session:
        state = load_state(session)
    for kind, objects in plan.desired.items():
        stored_objects = {name: dict(fields) for name, fields in state.of(kind).items()}
        for name, fields in objects.items():
            if kind == "features" and fields["created"] is None:  # filled in: checked above
                stored_objects[name]["created"] = None
        assert stored_objects == objects, kind
