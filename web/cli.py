"""Commands the web package adds to `featreg`: serve (UI + API + scheduler) and demo."""

from __future__ import annotations

import click


def register(group: click.Group) -> None:
    """Entry point `featreg.cli`: attach our commands to the `featreg` group."""
    group.add_command(serve)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int) -> None:
    """Serve the web UI and the JSON API."""
    from web import create_app

    app = create_app({"DATABASE_URL": ctx.obj.db})
    app.run(host=host, port=port, threaded=True)
