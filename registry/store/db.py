"""Engine and session factory; the schema check that refuses a stale database."""

from __future__ import annotations

import os
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.orm import Session, sessionmaker

from registry.core.errors import SchemaOutdated

if TYPE_CHECKING:
    from alembic.config import Config


@cache
def migrations_dir() -> Path:
    """The Alembic environment shipped with the package (looked up when Alembic runs: finding
    it costs tens of milliseconds that a command which only checks the schema need not pay)."""
    from importlib.resources import files

    return Path(str(files("featreg.migrations")))


SCHEMA_REVISION = "0009"
"""The Alembic revision this code needs (the head of migrations/versions; a test keeps them
equal). A constant, so that every command checks the schema with one SELECT instead of
importing Alembic and reading the migration scripts (about half a second at start-up)."""


def database_url(url: str | None = None) -> str:
    """The URL to use: explicit, else FEATREG_DATABASE_URL, else SQLite in the working directory."""
    if not url:  # the settings (pydantic models) are read only when no URL is given
        from registry.core.settings import DatabaseSettings

        url = DatabaseSettings.from_env().url
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    elif url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgres://")
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


_engines: dict[str, Engine] = {}
DEFAULT_POOL_SIZE = 16
"""Connections kept per process (FEATREG_DATABASE_POOL_SIZE; the settings test keeps this equal
to the declared default). SQLAlchemy's default of 5 is below a server worker's threads: every
connection past it was opened and closed per request, a new PostgreSQL backend each time, which
cost a quarter of the machine under load."""


def get_engine(url: str | None = None) -> Engine:
    """One engine (connection pool) per URL for the life of the process."""
    url = database_url(url)
    engine = _engines.get(url)
    if engine is None:
        size = _pool_size()
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": 30}, pool_size=size)
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(url, pool_size=size)
            _ping_when_idle(engine)
        _engines[url] = engine
    return engine


def _pool_size() -> int:
    """FEATREG_DATABASE_POOL_SIZE, read only when set (the settings models cost start-up)."""
    if not os.environ.get("FEATREG_DATABASE_POOL_SIZE"):
        return DEFAULT_POOL_SIZE
    from registry.core.settings import DatabaseSettings

    return DatabaseSettings.from_env().pool_size


IDLE_PING_SECONDS = 10.0
"""A pooled connection unused for longer is pinged before it is handed out."""


def _ping_when_idle(engine: Engine) -> None:
    """Pessimistic disconnect handling for connections that sat idle: one that the server
    or a network device may have dropped meanwhile (a database restart, an idle timeout) is
    pinged at checkout, and a dead one is replaced at once, so no request fails on it. A
    connection handed back moments ago is not pinged: under load that round trip would be
    paid on every request for nothing."""
    import time

    from sqlalchemy.exc import DisconnectionError

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        record.info["featreg_returned"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _handed_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get("featreg_returned")
        if returned is None or time.monotonic() - returned < IDLE_PING_SECONDS:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # noqa: BLE001 - any failure means the connection is gone
            raise DisconnectionError(f"stale pooled connection: {exc}") from exc
        if not alive:
            raise DisconnectionError("stale pooled connection")


def dispose_engine(url: str) -> None:
    """Close the pooled connections of a URL (tests drop databases afterwards)."""
    url = database_url(url)
    engine = _engines.pop(url, None)
    if engine is not None:
        engine.dispose()


def dispose_engines() -> None:
    """Close the pooled connections of every URL (a process about to exit: SQLite then folds
    its write-ahead log back into the database file, as it does on a clean close)."""
    for url in list(_engines):
        dispose_engine(url)


def alembic_config(url: str | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.set_main_option("sqlalchemy.url", database_url(url).replace("%", "%%"))
    return cfg


def head_revision() -> str | None:
    """The head revision of the migration scripts (Alembic reads them; see SCHEMA_REVISION)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None: no Featreg schema)."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        versions = list(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
    return str(versions[0]) if len(versions) == 1 else None


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Create or upgrade the schema (what `featreg init` does)."""
    from alembic import command

    engine = get_engine(url)
    cfg = alembic_config(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def downgrade(url: str | None = None, revision: str = "base") -> None:
    from alembic import command

    engine = get_engine(url)
    cfg = alembic_config(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


_checked: weakref.WeakSet[Engine] = weakref.WeakSet()


def check_schema(engine: Engine) -> None:
    """Refuse to work on a database whose schema is missing or behind the code."""
    if engine in _checked:
        return
    current, head = current_revision(engine), SCHEMA_REVISION
    if current != head:
        where = engine.url.render_as_string(hide_password=True)
        state = "has no Featreg schema" if current is None else f"is at revision {current}"
        raise SchemaOutdated(
            f"the database {where} {state}, the code needs {head}: run `featreg init`"
        )
    _checked.add(engine)


def session_factory(url: str | None = None, *, check: bool = True) -> sessionmaker[Session]:
    engine = get_engine(url)
    if check:
        check_schema(engine)
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back everything on error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
