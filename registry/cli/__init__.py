"""The `featreg` command. Commands parse, call one service, render.

Start-up is kept to milliseconds: this module and the command modules import only click, rich
and light parts of `registry` when they load; SQLAlchemy, the catalog, pandas and the like are
imported inside a command's body (or through `registry.cli.lazy.deferred`) when it runs.

Adding a command:
1. Write it in a module `registry/cli/<area>_commands.py` with `@main.command()` or
   `@main.group()` (import `main`, `pass_app`, `handle_errors`, `out`, `err` from here). Import
   heavy modules inside the function, or at the top as
   `if TYPE_CHECKING: from registry.x import y` / `else: y = deferred("registry.x")`.
2. Add its top-level name to COMMANDS below (name -> module). tests/test_cli_startup.py checks
   that COMMANDS lists every command and that `--help` loads no heavy library.
A subcommand or option of an existing group goes in the group's module; nothing else changes.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property, wraps
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from registry.cli.lazy import LazyGroup
from registry.core.errors import FeatregError

if TYPE_CHECKING:
    from rich.console import Console
    from sqlalchemy.orm import Session, sessionmaker

COMMANDS = {
    **dict.fromkeys(["init", "plan", "apply", "export", "features", "show", "lineage", "impact",
                     "deprecate", "undeprecate", "retire", "history"],
                    "registry.cli.catalog_commands"),
    **dict.fromkeys(["analyze", "findings", "explain", "closure"],
                    "registry.cli.analysis_commands"),
    **dict.fromkeys(["scheduler", "jobs", "report", "reports"], "registry.cli.ops_commands"),
    **dict.fromkeys(["usage", "importance", "snapshot"], "registry.cli.evidence_commands"),
    "source": "registry.cli.health_commands",
    "openlineage": "registry.cli.openlineage_commands",
    "token": "registry.cli.access_commands",
}
"""Every top-level command -> the module that defines it (imported when the command is used)."""

F = TypeVar("F", bound=Callable[..., Any])


class _LazyConsole:
    """A rich Console made on first use: importing rich and making a console is a tenth of a
    small plan's whole time, and plan and apply print plain text when not on a terminal.
    Settings (``out.width = 200``) go to the console; without an instance dictionary,
    pytest's monkeypatch restores them there too."""

    __slots__ = ("_options", "_console")

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    def _made(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return self._console

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # not the console's own __dict__ and the like
            raise AttributeError(name)
        return getattr(self._made(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            super().__setattr__(name, value)
        else:  # a console setting (width, ...), for tests and callers that adjust it
            setattr(self._made(), name, value)


out: Console = _LazyConsole(highlight=False, soft_wrap=True)  # type: ignore[assignment]
err: Console = _LazyConsole(stderr=True, highlight=False,  # type: ignore[assignment]
                            soft_wrap=True)


def escape(text: str) -> str:
    """Text shown literally inside rich markup (rich's escape, imported when first needed)."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def on_terminal() -> bool:
    """True when standard output is a terminal (rich adds colour there, and only there)."""
    isatty = getattr(sys.stdout, "isatty", None)
    return bool(isatty and isatty())


@dataclass
class AppContext:
    db_option: str | None
    actor_option: str | None

    @cached_property
    def db(self) -> str:
        """The database URL: --db, else FEATREG_DATABASE_URL, else the default."""
        from registry.store.db import database_url

        return database_url(self.db_option)

    @property
    def actor(self) -> str:
        from registry.catalog.service import resolve_actor

        return resolve_actor(self.actor_option)

    def sessions(self) -> sessionmaker[Session]:
        from registry.store.db import session_factory

        return session_factory(self.db)


ROW_ID = click.IntRange(0, 2**31 - 1)
"""A row id argument: what fits the database's id columns (a larger one is a usage error)."""
LIMIT = click.IntRange(1, 2**31 - 1)
"""A --limit option: at least 1, and what the database takes in LIMIT."""


def shown_url(url: str) -> str:
    """A database URL as it may be shown: with its password hidden."""
    import re

    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


class _Process:
    one_shot = False
    """True when `featreg` runs as its own process (the script calls the group), which ends
    when the command returns; False for in-process callers (click's test runner)."""


@contextmanager
def gc_paused() -> Iterator[None]:
    """Run a short command (plan, apply) without the cyclic garbage collector. Importing
    SQLAlchemy, the models and pydantic and parsing a catalog build hundreds of thousands of
    objects and no garbage cycles worth collecting: the collector would only walk the growing
    heap again and again, then once more when the interpreter exits (together a quarter of a
    small plan's whole-process time). In its own process the database connections are closed
    and the command's objects frozen (`gc.freeze`) for the little that is left, so the final
    collection skips them too; an in-process caller gets the collector back as it was."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if _Process.one_shot:
            if "registry.store.db" in sys.modules:
                from registry.store.db import dispose_engines

                dispose_engines()  # what the final collection would have done
            gc.freeze()
        elif enabled:
            gc.enable()


class _FeatregGroup(LazyGroup):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """The `featreg` process itself (click's test runner calls `main` instead)."""
        _Process.one_shot = True
        return super().__call__(*args, **kwargs)


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
        except Exception as exc:
            message = _explain(exc)
            if message is None:
                raise
            _fail(message)

    return wrapper  # type: ignore[return-value]


def _explain(exc: Exception) -> str | None:
    """What to tell the user about a database that cannot be opened or used (named by its URL,
    password hidden) or a compressed input that is truncated or corrupt; None: not ours."""
    import gzip
    import zlib

    if isinstance(exc, EOFError | zlib.error | gzip.BadGzipFile):
        return f"the input is truncated or not valid compressed data: {exc or 'ended early'}"
    if isinstance(exc, ImportError):  # a database URL whose driver is not installed
        return (f"cannot use the database {_current_url()}: {exc} (Featreg supports "
                "sqlite:// and postgresql:// URLs)")
    if "sqlalchemy" not in sys.modules:  # no database was touched
        return None
    from sqlalchemy.exc import (
        ArgumentError,
        DatabaseError,
        DataError,
        IntegrityError,
        InterfaceError,
        OperationalError,
    )

    if isinstance(exc, ArgumentError | OperationalError | InterfaceError):
        return f"cannot use the database {_current_url()}: {_reason(exc)}"
    if isinstance(exc, DatabaseError) and not isinstance(exc, IntegrityError | DataError):
        return (f"cannot use the database {_current_url()} (is it a Featreg database?): "
                f"{_reason(exc)}")
    return None


def _current_url() -> str:
    ctx = click.get_current_context(silent=True)
    app = ctx.find_object(AppContext) if ctx is not None else None
    return shown_url(app.db) if app is not None else "(unknown)"


def _reason(exc: Exception) -> str:
    """The driver's own words, without SQLAlchemy's SQL text and background link."""
    original = getattr(exc, "orig", None)
    text = str(original if original is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@click.group(cls=_FeatregGroup, lazy_commands=COMMANDS,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", envvar="FEATREG_DATABASE_URL", default=None, metavar="URL",
              help="Database URL [env FEATREG_DATABASE_URL; default sqlite:///featreg.db].")
@click.option("--actor", envvar="FEATREG_ACTOR", default=None,
              help="Who is making changes, for the audit trail [env FEATREG_ACTOR; default: "
                   "the OS user].")
@click.version_option(package_name="featreg")
@click.pass_context
def main(ctx: click.Context, db: str | None, actor: str | None) -> None:
    """Featreg: a feature registry and data-dependency catalog for ML teams."""
    ctx.obj = AppContext(db, actor)


pass_app = click.make_pass_decorator(AppContext)
