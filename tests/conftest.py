"""Shared fixtures: migrated SQLite and PostgreSQL databases, a client, a CLI runner.

PostgreSQL tests use FEATREG_TEST_PG_URL (default: the local server's `test` database as
user postgres). Locally they skip when no server answers; in CI (CI=true) or with
FEATREG_REQUIRE_PG=1 they fail instead, so they can never be skipped silently.
"""

from __future__ import annotations

import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, text

import registry
from registry.cli import main as cli_main
from registry.sdk.client import Client
from registry.store.db import dispose_engine, upgrade

PG_ADMIN_URL = os.environ.get(
    "FEATREG_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REQUIRE_PG = os.environ.get("CI") == "true" or os.environ.get("FEATREG_REQUIRE_PG") == "1"
ROOT = Path(__file__).resolve().parent.parent


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tpl") / "template.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    dispose_engine(url)
    return path


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated SQLite database file."""
    path = tmp_path / "featreg.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    yield url
    dispose_engine(url)


def _pg_admin():  # type: ignore[no-untyped-def]
    return create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")


def require_pg() -> None:
    """Skip the test when no PostgreSQL server answers, or fail it where PostgreSQL is
    required (CI)."""
    admin = _pg_admin()
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any connection failure
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL is required here but {PG_ADMIN_URL} fails: {exc}")
        pytest.skip(f"no PostgreSQL server at {PG_ADMIN_URL}")
    finally:
        admin.dispose()


@contextmanager
def scratch_pg_database(prefix: str, template: str | None = None) -> Iterator[str]:
    """A new PostgreSQL database (a copy of ``template`` when given), dropped afterwards."""
    admin = _pg_admin()
    name = f"{prefix}_{_worker()}_{uuid.uuid4().hex[:8]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        dispose_engine(url)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve a WSGI app on a free local port in a thread; its base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated PostgreSQL template database, cloned for each test."""
    require_pg()
    admin = _pg_admin()
    name = f"featreg_tpl_{_worker()}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    dispose_engine(url)
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def pg_url(pg_template: str) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database."""
    with scratch_pg_database("featreg_t", pg_template) as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """Runs the test once on SQLite and once on PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture
def client(db_url: str) -> Client:
    return registry.connect(db_url, actor="tester")


class Cli:
    """Runs `featreg --db URL ...` in-process and returns click's Result."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None) -> Result:
        return self.runner.invoke(cli_main, ["--db", self.url, "--actor", "tester", *args],
                                  input=input, catch_exceptions=False)


@pytest.fixture
def cli(db_url: str) -> Cli:
    return Cli(db_url)


@pytest.fixture
def seeds_dir() -> Path:
    return ROOT / "seeds"


@pytest.fixture(scope="module")
def catalog_url(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A SQLite database holding the web tests' catalog (tests/web_catalog.py: hostile names
    and docs, evidence and one analysis run); one per test module, so modules may change it."""
    from web_catalog import build_catalog

    folder = tmp_path_factory.mktemp("webcatalog")
    shutil.copy(sqlite_template, folder / "featreg.db")
    url = f"sqlite:///{folder / 'featreg.db'}"
    build_catalog(url, folder)
    yield url
    dispose_engine(url)


@pytest.fixture(scope="module")
def app(catalog_url: str):  # type: ignore[no-untyped-def]
    """The Flask app on `catalog_url`."""
    from featreg.web import create_app

    return create_app({"DATABASE_URL": catalog_url, "TESTING": True})


def admin_token(url: str, name: str = "test-admin") -> str:
    """A fresh admin token (of no team) in the database at `url`: the secret."""
    from registry.access.tokens import create_token
    from registry.store.db import session_factory, session_scope

    with session_scope(session_factory(url)) as session:
        _row, secret = create_token(session, name=f"{name}-{uuid.uuid4().hex[:8]}", team=None,
                                    admin=True, created_by="tests")
    return secret


def authorize(client: Any, url: str) -> Any:
    """Let a Flask test client write, with an admin token (writes need one)."""
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {admin_token(url)}"
    return client
