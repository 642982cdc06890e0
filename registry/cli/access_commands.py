"""`featreg token create|list|revoke`: the API tokens of teams and admins.

The CLI itself acts on the database with the database's own credentials: whoever can reach
the database is an admin. Tokens are for the HTTP API and the web UI.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click
from rich.markup import escape
from rich.table import Table

from registry.cli import AppContext, err, handle_errors, main, out, pass_app
from registry.cli.lazy import deferred

if TYPE_CHECKING:
    from registry.access import tokens as token_service
    from registry.store.db import session_scope
else:
    session_scope = deferred("registry.store.db:session_scope")
    token_service = deferred("registry.access.tokens")


@main.group()
def token() -> None:
    """API tokens: `create` prints a token once; only its hash is stored."""


@token.command("create")
@click.option("--team", help="The team whose objects the token may change (an --admin token "
                             "may have none).")
@click.option("--name", required=True, help="A unique name (shown in the audit trail).")
@click.option("--admin", is_flag=True, help="May change everything, for any team.")
@pass_app
@handle_errors
def create(app: AppContext, team: str | None, name: str, admin: bool) -> None:
    """Create a token and print it once (keep it in a secret store)."""
    with session_scope(app.sessions()) as session:
        row, secret = token_service.create_token(session, name=name, team=team, admin=admin,
                                                 created_by=app.actor)
        scope = "admin" if row.admin else f"team {team}"
    err.print(f"token {escape(name)} created ({scope}); it is shown only this once:")
    click.echo(secret)


@token.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@pass_app
@handle_errors
def list_(app: AppContext, fmt: str) -> None:
    """Every token with its team, prefix, last use and status (never the secret)."""
    with session_scope(app.sessions()) as session:
        rows = token_service.list_tokens(session)
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table("name", "team", "admin", "prefix", "created", "last used", "status")
    for r in rows:
        table.add_row(escape(r["name"]), escape(r["team"] or ""), "yes" if r["admin"] else "",
                      r["prefix"] + "…", (r["created_at"] or "")[:19],
                      (r["last_used_at"] or "never")[:19], r["status"])
    out.print(table)


@token.command("revoke")
@click.argument("name")
@pass_app
@handle_errors
def revoke(app: AppContext, name: str) -> None:
    """Revoke a token: every later request with it is refused (403)."""
    with session_scope(app.sessions()) as session:
        row = token_service.revoke_token(session, name)
    err.print(f"token {escape(name)} revoked at {row['revoked_at']}")
