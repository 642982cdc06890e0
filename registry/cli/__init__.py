"""The `featreg` command. Commands parse, call one service, render."""

from __future__ import annotations

import gzip
import re
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, NoReturn, TypeVar

import click
from rich.console import Console
from rich.markup import escape
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    ArgumentError,
    DatabaseError,
    DataError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.orm import Session, sessionmaker

from registry.catalog.service import resolve_actor
from registry.core.errors import FeatregError
from registry.store.db import database_url, session_factory

F = TypeVar("F", bound=Callable[..., Any])
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


@dataclass
class AppContext:
    db: str
    actor_option: str | None

    @property
    def actor(self) -> str:
        return resolve_actor(self.actor_option)

    def sessions(self) -> sessionmaker[Session]:
        return session_factory(self.db)


ROW_ID = click.IntRange(0, 2**31 - 1)
"""A row id argument: what fits the database's id columns (a larger one is a usage error)."""
LIMIT = click.IntRange(1, 2**31 - 1)
"""A --limit option: at least 1, and what the database takes in LIMIT."""


def shown_url(url: str) -> str:
    """A database URL as it may be shown: with its password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def _fail(message: str) -> NoReturn:
    err.print(f"[red]error:[/red] {escape(message)}")
    sys.exit(1)


def handle_errors(fn: F) -> F:
    """Turn Featreg errors into a message on stderr and exit status 1; so too a database that
    cannot be opened or used (named by its URL, password hidden) and a compressed input that
    is truncated or corrupt."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except FeatregError as exc:
            err.print(f"[red]error:[/red] {escape(str(exc))}")
            sys.exit(exc.exit_code)
        except (ArgumentError, OperationalError, InterfaceError) as exc:
            _fail(f"cannot use the database {_current_url()}: {_reason(exc)}")
        except DatabaseError as exc:
            if isinstance(exc, IntegrityError | DataError):
                raise
            _fail(f"cannot use the database {_current_url()} (is it a Featreg database?): "
                  f"{_reason(exc)}")
        except ImportError as exc:  # a database URL whose driver is not installed
            _fail(f"cannot use the database {_current_url()}: {exc} (Featreg supports "
                  "sqlite:// and postgresql:// URLs)")
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            _fail(f"the input is truncated or not valid compressed data: {exc or 'ended early'}")

    return wrapper  # type: ignore[return-value]


def _current_url() -> str:
    ctx = click.get_current_context(silent=True)
    app = ctx.find_object(AppContext) if ctx is not None else None
    return shown_url(app.db) if app is not None else "(unknown)"


def _reason(exc: SQLAlchemyError) -> str:
    """The driver's own words, without SQLAlchemy's SQL text and background link."""
    original = getattr(exc, "orig", None)
    text = str(original if original is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", envvar="FEATREG_DATABASE_URL", default=None, metavar="URL",
              help="Database URL [env FEATREG_DATABASE_URL; default sqlite:///featreg.db].")
@click.option("--actor", envvar="FEATREG_ACTOR", default=None,
              help="Who is making changes, for the audit trail [env FEATREG_ACTOR; default: "
                   "the OS user].")
@click.version_option(package_name="featreg")
@click.pass_context
def main(ctx: click.Context, db: str | None, actor: str | None) -> None:
    """Featreg: a feature registry and data-dependency catalog for ML teams."""
    ctx.obj = AppContext(database_url(db), actor)


pass_app = click.make_pass_decorator(AppContext)

from registry.cli import analysis_commands, catalog_commands, ops_commands  # noqa: E402,F401  (commands)


def _load_plugins() -> None:
    """Commands contributed by other packages (the web UI adds `serve` and `demo` this way),
    so `registry` never imports `web`."""
    from importlib.metadata import entry_points

    for ep in entry_points(group="featreg.cli"):
        ep.load()(main)


_load_plugins()

from registry.cli import (  # noqa: E402,F401  (token, usage, source, openlineage, ...)
    access_commands,
    evidence_commands,
    health_commands,
)
