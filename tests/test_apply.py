"""apply_spec / apply_plan on SQLite and on the real PostgreSQL server.

The database content is compared as a dump of every row of every table (reflected, so tables
added by later migrations are covered too).
"""

from __future__ import annotations

import functools
from typing import Any

import pytest
from sqlalchemy import MetaData, func, select
from sqlalchemy.orm import Session, sessionmaker

import registry.catalog.apply
from registry.catalog import service as catalog
from registry.catalog.plan import Plan
from registry.catalog.spec import parse_documents
from registry.catalog.state import load_state
from registry.core.errors import InvalidInput
from registry.store import models as m
from registry.store.db import get_engine, session_factory, session_scope

CATALOG = """\
teams:
  - {name: growth, contact: growth@example.com}
  - {name: ads, contact: ads@example.com}
sources:
  - {name: warehouse.clicks, kind: table, owner: growth, description: Raw click log}
  - {name: ctr_model.scores, kind: model_output, owner: ads, produced_by: ctr_model}
features:
  - name: user_clicks_7d
    owner: growth
    dtype: int
    description: Clicks in the last 7 days.
    sources: [warehouse.clicks]
    tags: [ads, clicks]
    created: 2025-03-01
  - name: user_ctr_7d
    owner: growth
    dtype: float
    sources: [warehouse.clicks]
    depends_on: [user_clicks_7d]
    bundle: ctr-launch
    cost: 1.5
  - name: ctr_score
    owner: ads
    dtype: float
    sources: [ctr_model.scores]
    status: deprecated
    sunset: 2030-01-31
    replacement: user_ctr_7d
consumers:
  - name: ctr_model
    kind: model
    owner: ads
    version: "3"
    features: [user_clicks_7d, user_ctr_7d]
    produces: [ctr_model.scores]
  - name: ranker
    kind: service
    owner: ads
    features: [ctr_score, user_clicks_7d]
"""

Dump = dict[str, list[tuple[Any, ...]]]


@functools.cache
def reflected_tables(url: str) -> MetaData:
    """Every table of a database as it is (each test database has its own URL)."""
    metadata = MetaData()
    metadata.reflect(get_engine(url))
    return metadata


def dump_database(url: str) -> Dump:
    """Every row of every table, in a stable order."""
    engine = get_engine(url)
    metadata = reflected_tables(url)
    with engine.connect() as conn:
        return {
            name: sorted((tuple(row) for row in conn.execute(select(table))), key=repr)
            for name, table in sorted(metadata.tables.items())
        }


def apply_text(sessions: sessionmaker[Session], text: str, *, prune: bool = False,
               actor: str = "tester", file: str = "catalog.yaml") -> tuple[Plan, int | None]:
    spec = parse_documents([(file, text)])
    with session_scope(sessions) as session:
        return catalog.apply_spec(session, spec, actor=actor, prune=prune)


@pytest.fixture
def sessions(db_url: str) -> sessionmaker[Session]:
    return session_factory(db_url)


def test_apply_stores_exactly_what_the_plan_desired(sessions: sessionmaker[Session]) -> None:
    plan, changeset = apply_text(sessions, CATALOG)
    assert changeset is not None
    with session_scope(sessions) as session:
        state = load_state(session)
    for kind, objects in plan.desired.items():
        assert set(state.of(kind)) == set(objects)
        for name, fields in objects.items():
            stored = dict(state.of(kind)[name])
            if kind == "features" and fields["created"] is None:
                assert stored.pop("created") is not None  # filled in with the apply time
                fields = {k: v for k, v in fields.items() if k != "created"}
            assert stored == fields, f"{kind} {name}"
    assert state.features["user_clicks_7d"]["created"] == "2025-03-01T00:00:00+00:00"
    assert state.sources["ctr_model.scores"]["produced_by"] == "ctr_model"


def test_reapplying_the_same_files_writes_nothing(db_url: str,
                                                  sessions: sessionmaker[Session]) -> None:
    apply_text(sessions, CATALOG)
    before = dump_database(db_url)
    for prune in (False, True):
        plan, changeset = apply_text(sessions, CATALOG, prune=prune)
        assert plan.is_empty() and changeset is None
    assert dump_database(db_url) == before


def test_apply_is_atomic_when_one_feature_is_invalid(db_url: str,
                                                     sessions: sessionmaker[Session]) -> None:
    apply_text(sessions, CATALOG)
    before = dump_database(db_url)
    many = "".join(f"  - {{name: new_{i}, owner: ads, dtype: int, sources: [warehouse.clicks]}}\n"
                   for i in range(40))
    edited = CATALOG.replace("features:\n", "features:\n" + many).replace(
        "owner: growth\n    dtype: float", "owner: ads\n    dtype: float")
    invalid = edited + "  - {name: broken, kind: model, owner: ads, features: [no_such]}\n"
    with pytest.raises(InvalidInput) as caught:
        apply_text(sessions, invalid)
    (problem,) = caught.value.problems
    assert "unknown feature 'no_such'" in problem.message
    assert dump_database(db_url) == before
    plan, _ = apply_text(sessions, edited)  # without the invalid consumer it applies
    assert plan.counts() == {"create": 40, "update": 1, "delete": 0}


def test_apply_is_atomic_when_a_write_fails_midway(db_url: str, sessions: sessionmaker[Session],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    apply_text(sessions, CATALOG)
    before = dump_database(db_url)
    seen: dict[str, int] = {}

    def failing_audit(session: Session, *args: Any, **kwargs: Any) -> None:
        seen["features"] = session.scalar(select(func.count()).select_from(m.Feature)) or 0
        raise RuntimeError("disk full")

    monkeypatch.setattr(registry.catalog.apply, "_audit", failing_audit)
    edited = CATALOG.replace("features:\n",
                             "features:\n  - {name: extra, owner: ads, dtype: int}\n")
    with pytest.raises(RuntimeError, match="disk full"):
        apply_text(sessions, edited, prune=True)
    assert seen["features"] == 4  # the new feature had been written before the failure
    assert dump_database(db_url) == before


def test_updates_and_deletes_are_audited_with_before_and_after(
        sessions: sessionmaker[Session]) -> None:
    apply_text(sessions, CATALOG, actor="alice")
    edited = CATALOG.replace("  - name: user_ctr_7d\n    owner: growth",
                             "  - name: user_ctr_7d\n    owner: ads")
    edited = edited.replace("    features: [ctr_score, user_clicks_7d]\n",
                            "    features: [user_clicks_7d]\n")
    edited = edited.replace("  - name: ctr_score\n    owner: ads\n    dtype: float\n"
                            "    sources: [ctr_model.scores]\n    status: deprecated\n"
                            "    sunset: 2030-01-31\n    replacement: user_ctr_7d\n", "")
    plan, changeset = apply_text(sessions, edited, prune=True, actor="bob")
    assert plan.counts() == {"create": 0, "update": 2, "delete": 1}
    with session_scope(sessions) as session:
        events = {(e.action, e.object_name): e for e in catalog.history(session)
                  if e.changeset_id == changeset}
        creates = [e for e in catalog.history(session) if e.action == "create"]
    assert set(events) == {("update", "user_ctr_7d"), ("update", "ranker"),
                           ("delete", "ctr_score")}
    assert {e.actor for e in events.values()} == {"bob"}
    owner_change = events[("update", "user_ctr_7d")]
    assert (owner_change.before, owner_change.after) == ({"owner": "growth"}, {"owner": "ads"})
    ranker = events[("update", "ranker")]
    assert ranker.before == {"features": ["ctr_score", "user_clicks_7d"]}
    assert ranker.after == {"features": ["user_clicks_7d"]}
    deleted = events[("delete", "ctr_score")]
    assert deleted.before is not None and deleted.before["status"] == "deprecated"
    assert deleted.after is None
    assert len(creates) == 9 and {e.actor for e in creates} == {"alice"}


def test_prune_removes_objects_and_every_edge_to_them(db_url: str,
                                                      sessions: sessionmaker[Session]) -> None:
    apply_text(sessions, CATALOG)
    only_growth = ("teams:\n  - {name: growth, contact: growth@example.com}\n"
                   "sources:\n  - {name: warehouse.clicks, kind: table, owner: growth, "
                   "description: Raw click log}\n")
    plan, _ = apply_text(sessions, only_growth, prune=True)
    assert plan.counts() == {"create": 0, "update": 0, "delete": 7}
    dump = dump_database(db_url)
    for table in ("features", "consumers", "feature_sources", "feature_dependencies",
                  "feature_tags", "consumer_features"):
        assert dump[table] == [], table
    assert [row[1] for row in dump["teams"]] == ["growth"]


def test_unicode_and_a_one_megabyte_description_are_stored_intact(
        sessions: sessionmaker[Session]) -> None:
    text = ("Ünïcödé — 日本語 🚀 e\u0301 \u05e9\u05dc\u05d5\u05dd\n" * 40_000)[: 1024 * 1024]
    apply_text(sessions, CATALOG)
    with session_scope(sessions) as session:
        catalog.apply_spec(session, catalog.spec_from_entries([("features", {
            "name": "user_clicks_7d", "owner": "growth", "dtype": "int", "description": text,
            "sources": ["warehouse.clicks"], "tags": ["ads", "clicks"]})]), actor="tester")
    with session_scope(sessions) as session:
        stored = session.scalar(select(m.Feature.description)
                                .where(m.Feature.name == "user_clicks_7d"))
    assert stored == text


def test_features_remember_the_change_set_that_first_registered_them(
        sessions: sessionmaker[Session]) -> None:
    _, first = apply_text(sessions, CATALOG)
    edited = CATALOG.replace("    cost: 1.5\n", "    cost: 2.5\n").replace(
        "features:\n", "features:\n  - {name: late, owner: ads, dtype: int}\n")
    _, second = apply_text(sessions, edited)
    assert first is not None and second is not None and first != second
    with session_scope(sessions) as session:
        rows = dict(session.execute(select(m.Feature.name, m.Feature.changeset_id)).all())
        added = dict(session.execute(select(m.ChangeSet.id, m.ChangeSet.features_added)).all())
        bundle = session.scalar(select(m.Feature.bundle).where(m.Feature.name == "user_ctr_7d"))
    assert rows == {"user_clicks_7d": first, "user_ctr_7d": first, "ctr_score": first,
                    "late": second}
    assert added == {first: 3, second: 1}
    assert bundle == "ctr-launch"


UNSTORABLE_CASES = [  # (field, the line it replaces, the line with a value no column can hold)
    ("bundle", "    bundle: ctr-launch\n", f"    bundle: {'b' * 200}\n"),  # VARCHAR(128)
    ("version", '    version: "3"\n', f"    version: {'v' * 100}\n"),  # VARCHAR(64)
    ("freshness", "description: Raw click log}\n",  # VARCHAR(64)
     f"description: Raw click log, freshness: {'f' * 100}}}\n"),
    ("description", "description: Raw click log}\n",  # PostgreSQL text cannot hold NUL
     'description: "Raw click\\0log"}\n'),
]


def test_values_the_database_cannot_store_are_refused_as_invalid_input(
        db_url: str, sessions: sessionmaker[Session]) -> None:
    apply_text(sessions, CATALOG)
    before = dump_database(db_url)
    outcomes = {}
    for field, line, unstorable in UNSTORABLE_CASES:
        try:
            apply_text(sessions, CATALOG.replace(line, unstorable))
            outcomes[field] = "stored"
        except InvalidInput as exc:
            named = any(field in p.message and p.line for p in exc.problems)
            outcomes[field] = "refused" if named else f"refused without naming it: {exc}"
        except Exception as exc:  # noqa: BLE001 - a database error is the bug shown here
            outcomes[field] = f"database error {type(exc).__name__}"
    assert outcomes == {field: "refused" for field, _, _ in UNSTORABLE_CASES}
    assert dump_database(db_url) == before
