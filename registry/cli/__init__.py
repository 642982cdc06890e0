"""The `featreg` command. Commands parse, call one service, render."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape
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


def handle_errors(fn: F) -> F:
    """Turn Featreg errors into a message on stderr and exit status 1."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except FeatregError as exc:
            err.print(f"[red]error:[/red] {escape(str(exc))}")
            sys.exit(exc.exit_code)

    return wrapper  # type: ignore[return-value]


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

from registry.cli import access_commands, evidence_commands  # noqa: E402,F401  (token, usage, ...)
