"""Read-only sessions that carry a FlowCache walk the catalog's edges in memory: the same
answers as the database walk, refreshed after every catalog change, in a fixed number of
statements whatever the depth."""

from __future__ import annotations

import random
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from registry.catalog import lineage
from registry.catalog import service as catalog
from registry.store.db import get_engine, session_factory, session_scope
from registry.synthetic.scale import generate_catalog

ENTRIES: list[tuple[str, Any]] = [
    (kind, entry) for kind, entries in generate_catalog(
        features=300, edges=900, teams=4, sources=20, consumers=15, model_outputs=6,
        hub_dependents=30, seed=5).spec.items() for entry in entries]


def _apply(factory: sessionmaker[Session], entries: list[tuple[str, Any]]) -> None:
    with session_scope(factory) as session:
        catalog.apply_spec(session, catalog.spec_from_entries(entries), actor="tester")


@pytest.fixture
def sessions(db_url: str) -> sessionmaker[Session]:
    factory = session_factory(db_url)
    _apply(factory, ENTRIES)
    return factory


def _cached(sessions: sessionmaker[Session], cache: lineage.FlowCache) -> Session:
    session = sessions()
    session.info[lineage.FLOW_CACHE] = cache
    return session


def test_the_cached_walk_answers_as_the_database_walk(sessions: sessionmaker[Session]) -> None:
    cache = lineage.FlowCache()
    names = [e["name"] for kind, e in ENTRIES if kind in ("features", "consumers", "sources")]
    for name in random.Random(3).sample(names, 25):
        for downstream in (True, False):
            with sessions() as plain, _cached(sessions, cache) as cached:
                assert (lineage.lineage(cached, name, downstream=downstream)
                        == lineage.lineage(plain, name, downstream=downstream))
                keys = [node for node, _ in lineage.walk(
                    [lineage.resolve_node(plain, name)], lineage.neighbours(plain),
                    depth=2).depth.items()]
                assert sorted(lineage.edges_among(cached, keys)) == sorted(
                    lineage.edges_among(plain, keys))


def test_a_catalog_change_is_seen_at_once(sessions: sessionmaker[Session]) -> None:
    cache = lineage.FlowCache()
    with _cached(sessions, cache) as session:
        before = lineage.lineage(session, "f_000000", downstream=True)
    _apply(sessions, [("features", {"name": "f_added", "owner": "team_00", "dtype": "float",
                                    "depends_on": ["f_000000"]})])
    with _cached(sessions, cache) as session:
        after = lineage.lineage(session, "f_000000", downstream=True)
    assert {n.name for n in after} - {n.name for n in before} == {"f_added"}


def test_a_deep_lineage_costs_a_fixed_number_of_statements(
        sessions: sessionmaker[Session], db_url: str) -> None:
    cache = lineage.FlowCache()
    with _cached(sessions, cache) as session:
        lineage.lineage(session, "f_000000", downstream=True)  # reads the edges once
    statements: list[str] = []
    engine = get_engine(db_url)

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", count)
    try:
        with _cached(sessions, cache) as session:
            nodes = lineage.lineage(session, "f_000000", downstream=True)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert max(n.depth for n in nodes) >= 3
    assert len(statements) <= 4  # the node (by type), the catalog version, the names


def test_undeclared_readers_from_memory_answer_as_the_database(
        sessions: sessionmaker[Session]) -> None:
    """The feature page's undeclared readers come from usage and the catalog held in memory:
    the same rows as the query that checks declarations in SQL, for registered consumers
    (declaring or not), unregistered principals and a feature declared by another reader."""
    from datetime import UTC, date, datetime

    from registry.read.graph_warnings import undeclared_readers
    from registry.store import models as m

    consumers = [e for kind, e in ENTRIES if kind == "consumers"]
    declaring = next(c for c in consumers if c.get("features"))
    declared = declaring["features"][0]
    other = next(c for c in consumers if declared not in (c.get("features") or []))
    features = [declared, "f_000001", "f_000002"]
    seen = datetime(2026, 11, 30, 12, tzinfo=UTC)
    with session_scope(sessions) as session:
        session.add_all(m.UsageDaily(feature=f, principal=p, day=date(2026, 11, 30), reads=3,
                                     first_read=seen, last_read=seen)
                        for f in features
                        for p in (declaring["name"], other["name"], "notebook:alice"))
    cache = lineage.FlowCache()
    with sessions() as plain, _cached(sessions, cache) as cached:
        from_sql = undeclared_readers(plain, features)
        from_memory = undeclared_readers(cached, features)
    assert from_memory == from_sql
    assert (declared, declaring["name"], declaring["owner"]) not in from_memory
    assert (declared, other["name"], other["owner"]) in from_memory
    assert (declared, "notebook:alice", None) in from_memory


def test_openlineage_matching_from_memory_answers_as_the_database(
        sessions: sessionmaker[Session]) -> None:
    """The OpenLineage endpoint resolves sources (by name, dotted path, symlink or declared
    alias), features (bare or source-qualified columns) and consumers from the catalog held
    in memory: the same `Catalog` as the queries build."""
    from registry.evidence.openlineage_events import DatasetRef, JobRef
    from registry.evidence.openlineage_matching import Catalog

    sources = [e for kind, e in ENTRIES if kind == "sources"]
    features = [e for kind, e in ENTRIES if kind == "features" and e.get("sources")]
    _apply(sessions, [("sources", {**sources[1], "openlineage": [
        {"namespace": "s3://lake", "name": "/raw/events"}]})])
    built = features[0]
    columns = (built["name"], "no_such_column", features[1]["name"])
    datasets = [
        DatasetRef("warehouse", built["sources"][0], columns=columns),
        DatasetRef("s3://lake", "/raw/events", columns=columns),
        DatasetRef("hdfs", "/" + sources[2]["name"].replace(".", "/"), columns=columns),
        DatasetRef("other", "nothing_known", columns=columns,
                   symlinks=(JobRef("warehouse", sources[3]["name"]),)),
    ]
    jobs = [e["name"] for kind, e in ENTRIES if kind == "consumers"][:3] + ["unknown_job"]
    with sessions() as plain, _cached(sessions, lineage.FlowCache()) as cached:
        held = lineage.cached_catalog(cached)
        assert held is not None
        from_sql = Catalog.load_for(plain, datasets, jobs, {})
        from_memory = Catalog.load_for(plain, datasets, jobs, {}, held)
    assert from_memory == from_sql
    assert from_memory.aliases == {("s3://lake", "/raw/events"): sources[1]["name"]}
    assert from_memory.feature_sources[built["name"]] >= {built["sources"][0]}
    assert from_memory.consumers == frozenset(jobs[:3])


def test_a_catalog_change_never_makes_readers_wait(sessions: sessionmaker[Session],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """After a change set the new catalog is read in the background; meanwhile requests read
    the database (the change is already in their answers) instead of waiting for it."""
    import threading
    import time

    cache = lineage.FlowCache()
    with _cached(sessions, cache) as session:
        lineage.lineage(session, "f_000000", downstream=True)  # holds the catalog
    started, release = threading.Event(), threading.Event()
    real = lineage.read_catalog

    def slow(session: Session) -> lineage.HeldCatalog:
        started.set()
        assert release.wait(30)
        return real(session)

    monkeypatch.setattr(lineage, "read_catalog", slow)
    _apply(sessions, [("features", {"name": "f_new", "owner": "team_00", "dtype": "float",
                                    "depends_on": ["f_000000"]})])
    begun = time.perf_counter()
    for _ in range(5):
        with _cached(sessions, cache) as session:
            names = {n.name for n in lineage.lineage(session, "f_000000", downstream=True)}
            assert "f_new" in names and lineage.cached_catalog(session) is None
    assert time.perf_counter() - begun < 5
    assert started.wait(10)
    release.set()
    deadline = time.monotonic() + 30
    while True:
        with _cached(sessions, cache) as session:
            held = lineage.cached_catalog(session)
        if held is not None:
            break
        assert time.monotonic() < deadline, "the new catalog was never read"
        time.sleep(0.02)
    assert ("feature", "f_new") in held.ids


def test_a_teams_view_order_is_the_breadth_first_walk(sessions: sessionmaker[Session]) -> None:
    """The explorer's team order (seeds from the held catalog, a lazy breadth-first order, the
    scope by set unions) is exactly `walk`'s over undirected edges, at every depth."""
    from registry.analysis.graph import graph_neighbours, walk
    from registry.read.graph import _team_order

    teams = sorted({e["owner"] for kind, e in ENTRIES if kind == "features"})
    with _cached(sessions, lineage.FlowCache()) as session, sessions() as plain:
        flow = lineage.cached_flow(session, wait=True)
        assert flow is not None
        for team in teams:
            seeds = [key for key, info in lineage.read_catalog(plain).info.items()
                     if info[1] == team]
            seeds.sort(key=lambda n: (-flow.degree(n), n))
            for depth in (1, 2, 3):
                expected = list(walk(seeds, graph_neighbours(flow, undirected=True),
                                     depth=depth).depth)
                order, scope = _team_order(session, flow, team, depth)
                assert list(order) == expected and scope == set(expected)
