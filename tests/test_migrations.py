"""The Alembic migrations build exactly the ORM schema, on SQLite and on PostgreSQL.

Generic on purpose: whatever tables later migrations add, the migrated schema must equal
`Base.metadata` (types compared, nothing filtered), there must be one head, and every
migration must downgrade cleanly.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from conftest import require_pg, scratch_pg_database
from sqlalchemy import inspect, text

from registry.core.errors import SchemaOutdated
from registry.store.db import (
    SCHEMA_REVISION,
    alembic_config,
    check_schema,
    current_revision,
    dispose_engine,
    downgrade,
    get_engine,
    head_revision,
    upgrade,
)
from registry.store.models import Base


@pytest.fixture
def fresh_sqlite_url(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    yield url
    dispose_engine(url)


@pytest.fixture
def fresh_pg_url() -> Iterator[str]:
    """A new, empty PostgreSQL database (not cloned from the migrated template)."""
    require_pg()
    with scratch_pg_database("featreg_mig") as url:
        yield url


def schema_differences(url: str) -> list[object]:
    with get_engine(url).connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def table_names(url: str) -> set[str]:
    return set(inspect(get_engine(url)).get_table_names())


def test_there_is_exactly_one_head() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    heads = script.get_heads()
    assert len(heads) == 1, f"several heads, merge them: {heads}"
    assert heads[0] == head_revision() == SCHEMA_REVISION, (
        "a new migration: set registry.store.db.SCHEMA_REVISION to its revision")
    revisions = list(script.walk_revisions())
    assert revisions[-1].down_revision is None  # one chain, down to a single base


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres",
                                                            marks=pytest.mark.postgres)])
def test_migrations_build_the_orm_schema_and_downgrade_cleanly(
        request: pytest.FixtureRequest, backend: str) -> None:
    url = request.getfixturevalue("fresh_sqlite_url" if backend == "sqlite" else "fresh_pg_url")
    engine = get_engine(url)
    with pytest.raises(SchemaOutdated, match="featreg init"):
        check_schema(engine)

    upgrade(url)
    assert current_revision(engine) == head_revision()
    assert schema_differences(url) == []
    assert table_names(url) == set(Base.metadata.tables) | {"alembic_version"}

    downgrade(url, "base")
    assert table_names(url) == {"alembic_version"}
    assert current_revision(engine) is None
    if backend == "postgres":
        with engine.connect() as conn:
            leftovers = conn.execute(text(
                "SELECT typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
                "WHERE n.nspname = 'public' AND t.typtype = 'e'")).scalars().all()
        assert leftovers == []  # no enum types left behind

    upgrade(url)
    assert schema_differences(url) == []
    check_schema(engine)  # the database is usable again
