"""Catalog commands: init, plan, apply, export, features, show, lineage, impact, lifecycle."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from registry.cli import (
    LIMIT,
    AppContext,
    escape,
    gc_paused,
    handle_errors,
    main,
    on_terminal,
    out,
    pass_app,
)
from registry.cli.lazy import deferred

if TYPE_CHECKING:
    from rich.table import Table

    from registry.catalog import export, lineage
    from registry.catalog import service as catalog
    from registry.catalog.plan import Plan
    from registry.catalog.spec import load_spec
    from registry.store.db import session_scope, upgrade
else:
    session_scope = deferred("registry.store.db:session_scope")
    Table = deferred("rich.table:Table")  # the listings' tables; plan and apply print none
    export = deferred("registry.catalog.export")
    lineage = deferred("registry.catalog.lineage")
    catalog = deferred("registry.catalog.service")
    load_spec = deferred("registry.catalog.spec:load_spec")
    upgrade = deferred("registry.store.db:upgrade")

SYMBOL = {"create": "[green]+[/green]", "update": "[yellow]~[/yellow]", "delete": "[red]-[/red]"}
PLAIN_SYMBOL = {"create": "+", "update": "~", "delete": "-"}


PLAN_LINES = 200


def render_plan(plan: Plan, *, show_all: bool = False) -> None:
    """Terraform-style: + create, ~ update (field by field), - delete; long plans abridged.
    Coloured through rich on a terminal; elsewhere (CI logs, pipes) plain text, unwrapped,
    written without loading rich."""
    styled = on_terminal()
    symbol, shown_text = (SYMBOL, escape) if styled else (PLAIN_SYMBOL, str)
    shown = plan.changes if show_all else plan.changes[:PLAN_LINES]
    lines = []
    for ch in shown:
        lines.append(f"{symbol[ch.action]} {ch.object_type} {shown_text(ch.name)}")
        lines.extend(f"    {shown_text(str(fc))}" for fc in ch.changes)
    hidden = len(plan.changes) - len(shown)
    if hidden:
        lines.append(f"... and {hidden:,} more changes (--all lists every one)")
    lines.append(plan.summary())
    if styled:
        out.print("\n".join(lines))  # one call: rich sets up each print
    else:
        click.echo("\n".join(lines))


@main.command()
@pass_app
@handle_errors
def init(app: AppContext) -> None:
    """Create or upgrade the database schema (Alembic upgrade head)."""
    upgrade(app.db)
    out.print(f"Schema is up to date in {escape(app.db)}.")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--prune", is_flag=True, help="Also show objects absent from the files as deleted.")
@click.option("--all", "show_all", is_flag=True, help=f"List every change (default: the first "
              f"{PLAN_LINES}).")
@pass_app
@handle_errors
def plan(app: AppContext, paths: tuple[str, ...], prune: bool, show_all: bool) -> None:
    """Show what `apply` would create, update and delete."""
    with gc_paused():
        spec = load_spec(paths, defer=True)
        with session_scope(app.sessions()) as session:
            render_plan(catalog.plan_spec(session, spec, prune=prune), show_all=show_all)
            session.rollback()


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--prune", is_flag=True, help="Delete objects absent from the files.")
@click.option("--all", "show_all", is_flag=True, help=f"List every change (default: the first "
              f"{PLAN_LINES}).")
@pass_app
@handle_errors
def apply(app: AppContext, paths: tuple[str, ...], prune: bool, show_all: bool) -> None:
    """Apply YAML files (or folders of them) atomically: all of it or nothing."""
    with gc_paused():
        spec = load_spec(paths, defer=True)
        with session_scope(app.sessions()) as session:
            result, changeset = catalog.apply_spec(session, spec, actor=app.actor,
                                                   prune=prune, label=" ".join(paths)[:255])
        render_plan(result, show_all=show_all)
        if changeset is not None:
            click.echo(f"Applied as change set {changeset}.")


@main.command("export")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write teams.yaml and one file per team here (default: one YAML document "
                   "on stdout).")
@pass_app
@handle_errors
def export_cmd(app: AppContext, out_dir: Path | None) -> None:
    """The whole catalog as YAML that `featreg apply` reads back to the same catalog."""
    with session_scope(app.sessions()) as session:
        if out_dir is None:
            click.echo(export.dump_yaml(export.export_spec(session)), nl=False)
            return
        files = export.export_documents(session)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (out_dir / name).write_text(text, encoding="utf-8")
    out.print(f"Wrote {len(files)} files to {escape(str(out_dir))}.")


@main.command()
@click.option("--owner", help="Only features owned by this team.")
@click.option("--status", type=click.Choice(["active", "deprecated", "retired"]))
@click.option("--search", help="Text in the name, description or tags.")
@click.option("--tag", help="Only features with this tag.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@pass_app
@handle_errors
def features(app: AppContext, owner: str | None, status: str | None, search: str | None,
             tag: str | None, fmt: str) -> None:
    """List features."""
    with session_scope(app.sessions()) as session:
        rows = catalog.list_features(session, owner=owner, status=status, search=search, tag=tag)
        data = [{"name": f.name, "owner": f.owner.name, "dtype": f.dtype, "status": f.status,
                 "description": f.description.strip().split("\n")[0][:80]} for f in rows]
    if fmt == "json":
        click.echo(json.dumps(data, indent=2))
        return
    table = Table("name", "owner", "dtype", "status", "description")
    for row in data:
        table.add_row(*(escape(str(v)) for v in row.values()))
    out.print(table)
    out.print(f"{len(data)} features")


@main.command()
@click.argument("name")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@pass_app
@handle_errors
def show(app: AppContext, name: str, fmt: str) -> None:
    """Show a feature, source, consumer or team with its upstream and downstream."""
    with session_scope(app.sessions()) as session:
        kind, fields = catalog.find_object(session, name)
        up = down = []
        if kind != "teams":
            up = lineage.lineage(session, name, downstream=False, depth=1)
            down = lineage.lineage(session, name, downstream=True, depth=1)
    if fmt == "json":
        click.echo(json.dumps({"type": kind.rstrip("s"), "name": name, **fields,
                               "upstream": [n.to_dict() for n in up],
                               "downstream": [n.to_dict() for n in down]}, indent=2))
        return
    out.print(f"[bold]{kind.rstrip('s')} {escape(name)}[/bold]")
    for key, value in fields.items():
        if key == "description" and value:
            out.print("  description:")
            for line in str(value).splitlines():
                out.print(f"    {escape(line)}")
        elif value not in (None, [], ""):
            shown = ", ".join(value) if isinstance(value, list) else value
            out.print(f"  {key}: {escape(str(shown))}")
    for label, nodes in (("upstream", up), ("downstream", down)):
        if nodes:
            out.print(f"  {label}: " + ", ".join(f"{n.type} {escape(n.name)}" for n in nodes))


def _print_nodes(nodes: list[lineage.LineageNode], fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps([n.to_dict() for n in nodes], indent=2))
        return
    table = Table("depth", "type", "name", "via")
    for n in nodes:
        table.add_row(str(n.depth), n.type, escape(n.name), escape(n.via or ""))
    out.print(table)
    out.print(f"{len(nodes)} nodes")


@main.command("lineage")
@click.argument("name")
@click.option("--upstream", "direction", flag_value="upstream", help="What NAME depends on.")
@click.option("--downstream", "direction", flag_value="downstream", default=True,
              help="What depends on NAME (default).")
@click.option("--depth", type=click.IntRange(min=1), help="Stop after this many hops.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@pass_app
@handle_errors
def lineage_cmd(app: AppContext, name: str, direction: str, depth: int | None, fmt: str) -> None:
    """Upstream or downstream lineage of a feature, source or consumer."""
    with session_scope(app.sessions()) as session:
        nodes = lineage.lineage(session, name, downstream=direction == "downstream", depth=depth)
    _print_nodes(nodes, fmt)


@main.command()
@click.argument("source")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@pass_app
@handle_errors
def impact(app: AppContext, source: str, fmt: str) -> None:
    """Every feature and consumer that depends on SOURCE, transitively."""
    with session_scope(app.sessions()) as session:
        nodes = lineage.impact(session, source)
    _print_nodes(nodes, fmt)


@main.command()
@click.argument("feature")
@click.option("--sunset", type=click.DateTime(["%Y-%m-%d"]), required=True,
              help="Date after which the feature is retired (YYYY-MM-DD).")
@click.option("--replacement", help="The feature to use instead.")
@click.option("--reason", help="Why it is deprecated.")
@pass_app
@handle_errors
def deprecate(app: AppContext, feature: str, sunset: Any, replacement: str | None,
              reason: str | None) -> None:
    """Start a deprecation: the feature is retired after its sunset date."""
    sunset_date: date = sunset.date()
    with session_scope(app.sessions()) as session:
        result = catalog.set_lifecycle(session, feature, status="deprecated", actor=app.actor,
                                       sunset=sunset_date, replacement=replacement, reason=reason)
    render_plan(result)


@main.command()
@click.argument("feature")
@pass_app
@handle_errors
def undeprecate(app: AppContext, feature: str) -> None:
    """Undo a deprecation or retirement (for mistakes): the feature is active again."""
    with session_scope(app.sessions()) as session:
        result = catalog.set_lifecycle(session, feature, status="active", actor=app.actor)
    render_plan(result)


@main.command()
@click.argument("feature")
@click.option("--reason", help="Why it is retired.")
@pass_app
@handle_errors
def retire(app: AppContext, feature: str, reason: str | None) -> None:
    """Retire a feature now."""
    with session_scope(app.sessions()) as session:
        result = catalog.set_lifecycle(session, feature, status="retired", actor=app.actor,
                                       reason=reason)
    render_plan(result)


@main.command()
@click.argument("name", required=False)
@click.option("--limit", default=200, show_default=True, type=LIMIT)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@pass_app
@handle_errors
def history(app: AppContext, name: str | None, limit: int, fmt: str) -> None:
    """The audit trail: who changed what and when, with before/after of each field."""
    with session_scope(app.sessions()) as session:
        events = catalog.history(session, name, limit)
        rows: list[dict[str, Any]] = [{"ts": e.ts.isoformat(), "actor": e.actor, "action": e.action,
                 "type": e.object_type, "name": e.object_name, "before": e.before,
                 "after": e.after, "changeset": e.changeset_id} for e in events]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    table = Table("when", "who", "what", "object", "changes")
    for r in rows:
        if r["action"] == "update":
            changes = "\n".join(f"{k}: {_brief(r['before'].get(k))} -> {_brief(v)}"
                                for k, v in (r["after"] or {}).items())
        else:
            changes = ""
        table.add_row(r["ts"][:19], escape(r["actor"]), r["action"],
                      f"{r['type']} {escape(r['name'])}", escape(changes))
    out.print(table)


def _brief(value: Any) -> str:
    text = "∅" if value is None else str(value)
    return text if len(text) < 50 else text[:47] + "..."
