"""Rows every request touches: concurrent writers never lose each other's counts, a busy
dataset's facts row is not rewritten for every sighting, and a pooled PostgreSQL connection
that died while idle is replaced before a request gets it."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text

from registry.evidence.openlineage import ingest_lineage_events
from registry.store import db as store_db
from registry.store import models as m
from registry.store.db import get_engine, session_factory, session_scope

T0 = datetime(2026, 11, 30, 9, tzinfo=UTC)


def _event(job: str, when: datetime, *, fields: tuple[str, ...] = ("a", "b")) -> dict[str, Any]:
    return {"eventType": "COMPLETE", "eventTime": when.isoformat(),
            "producer": "https://example.com/tests", "run": {"runId": str(uuid.uuid4())},
            "job": {"namespace": "jobs", "name": job},
            "inputs": [{"namespace": "warehouse", "name": "busy.table",
                        "facets": {"schema": {"fields": [{"name": f} for f in fields]}}}],
            "outputs": []}


def _ingest(url: str, events: list[dict[str, Any]]) -> None:
    with session_scope(session_factory(url)) as session:
        ingest_lineage_events(session, events, now=T0)


@pytest.mark.postgres
def test_concurrent_sightings_of_one_dataset_are_all_counted(pg_url: str) -> None:
    """Eight threads report runs of one job reading one table, one request each at a time:
    the sighting's count is every event, not the last writer's idea of it."""
    threads, each = 8, 6
    errors: list[BaseException] = []

    def report(worker: int) -> None:
        try:
            for i in range(each):
                _ingest(pg_url, [_event("nightly", T0 + timedelta(seconds=worker * each + i))])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    workers = [threading.Thread(target=report, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not errors
    with session_scope(session_factory(pg_url)) as session:
        counts = session.scalars(select(m.OpenLineageDataset.events)).all()
        runs = session.scalar(select(text("count(*)")).select_from(m.OpenLineageRun))
    assert counts == [threads * each] and runs == threads * each


def test_a_batch_counts_each_sighting_once(db_url: str) -> None:
    _ingest(db_url, [_event("nightly", T0)])  # stored: the next batch increments it
    _ingest(db_url, [_event("nightly", T0 + timedelta(seconds=s)) for s in (1, 2, 3)])
    with session_scope(session_factory(db_url)) as session:
        assert session.scalars(select(m.OpenLineageDataset.events)).all() == [4]


def test_a_busy_datasets_facts_are_written_again_only_when_they_change(db_url: str) -> None:
    """The facts row keeps the latest schema at once; a sighting alone moves its last_seen
    once a minute (LAST_SEEN_RESOLUTION), so every reader of a busy table does not queue on
    that one row."""
    def facts() -> tuple[list[str], datetime]:
        with session_scope(session_factory(db_url)) as session:
            row = session.scalars(select(m.OpenLineageDatasetFacts)).one()
            seen = row.last_seen if row.last_seen.tzinfo else row.last_seen.replace(tzinfo=UTC)
            return [f["name"] for f in row.fields], seen

    _ingest(db_url, [_event("a", T0)])
    _ingest(db_url, [_event("b", T0 + timedelta(seconds=20))])
    assert facts() == (["a", "b"], T0)  # same facts, 20 s later: not rewritten
    _ingest(db_url, [_event("c", T0 + timedelta(seconds=30), fields=("a", "b", "c"))])
    assert facts() == (["a", "b", "c"], T0 + timedelta(seconds=30))  # a change: written
    _ingest(db_url, [_event("d", T0 + timedelta(seconds=95), fields=("a", "b", "c"))])
    assert facts()[1] == T0 + timedelta(seconds=95)  # a minute on: the sighting is kept


@pytest.mark.postgres
def test_a_pooled_connection_that_died_while_idle_is_replaced(
        pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """No ping on every checkout (a round trip per request under load), but a connection idle
    longer than IDLE_PING_SECONDS is pinged, and a dead one replaced: the request works."""
    engine = get_engine(pg_url)
    with engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()
    monkeypatch.setattr(store_db, "IDLE_PING_SECONDS", 0.0)  # the pooled one is now "idle"
    with engine.connect() as conn:
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid


@pytest.mark.postgres
def test_a_server_workers_concurrent_connections_are_kept_for_reuse(pg_url: str) -> None:
    """A worker runs 16 requests at once (`featreg serve`'s default threads): their connections
    go back to the pool and the next 16 reuse the same PostgreSQL backends. With SQLAlchemy's
    default pool of 5, eleven of them were closed and reopened per request (a new backend each
    time: a quarter of the machine under load)."""
    engine = get_engine(pg_url)
    assert store_db.DEFAULT_POOL_SIZE >= 16

    def backends() -> set[int]:
        conns = [engine.connect() for _ in range(16)]
        try:
            return {c.execute(text("SELECT pg_backend_pid()")).scalar_one() for c in conns}
        finally:
            for conn in conns:
                conn.close()

    first = backends()
    assert len(first) == 16
    assert backends() == first


def test_the_pool_size_is_a_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    from registry.core.settings import DatabaseSettings, SettingsError

    assert DatabaseSettings().pool_size == store_db.DEFAULT_POOL_SIZE
    url = f"sqlite:///{tmp_path / 'pool.db'}"
    monkeypatch.setenv("FEATREG_DATABASE_POOL_SIZE", "3")
    assert get_engine(url).pool.size() == 3  # type: ignore[attr-defined]
    store_db.dispose_engine(url)
    monkeypatch.setenv("FEATREG_DATABASE_POOL_SIZE", "none")
    with pytest.raises(SettingsError, match="FEATREG_DATABASE_POOL_SIZE"):
        get_engine(f"sqlite:///{tmp_path / 'other.db'}")


def test_rows_shared_by_many_runs_are_updated_last(db_url: str) -> None:
    """A busy dataset's sighting count and facts are updated after the request's own rows
    (its run, its event) are written: each UPDATE locks a row every request about that
    dataset needs until the commit, so nothing else may run between them and the commit."""
    from sqlalchemy import event

    _ingest(db_url, [_event("nightly", T0)])
    statements: list[str] = []
    engine = get_engine(db_url)

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement.split("(")[0].strip())

    event.listen(engine, "before_cursor_execute", seen)
    try:
        _ingest(db_url, [_event("nightly", T0 + timedelta(minutes=5), fields=("a", "c"))])
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    writes = [s for s in statements if s.startswith(("INSERT", "UPDATE"))]
    shared = [i for i, s in enumerate(writes) if s.startswith((
        "UPDATE openlineage_datasets", "UPDATE openlineage_dataset_facts",
        "UPDATE openlineage_jobs"))]
    # the sighting's count (events + 1), the new schema, the job seen five minutes later
    assert len(shared) == 3, writes
    assert shared == list(range(len(writes) - 3, len(writes))), writes
    assert any(s.startswith("INSERT INTO openlineage_events") for s in writes)
