"""Commands the web package adds to `featreg`: serve (UI + API) and demo."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import sys
from typing import Any

import click


def register(group: click.Group) -> None:
    """Entry point `featreg.cli`: attach our commands to the `featreg` group."""
    group.add_command(serve)
    group.add_command(demo)


def _run_worker(url: str, sockets: list[socket.socket], threads: int) -> None:
    """One waitress server (threads, no debugger) on already-listening sockets."""
    from waitress import create_server

    from registry.db import get_engine
    from web import create_app

    # a forked worker must not share the parent's pooled connections: start a fresh pool
    get_engine(url).dispose(close=False)
    from web.views_catalog import warm_up

    app = create_app({"DATABASE_URL": url})
    warm_up(app)
    create_server(app, sockets=sockets, threads=threads, ident="featreg",
                  clear_untrusted_proxy_headers=True).run()


def _serve(url: str, host: str, port: int, threads: int, workers: int) -> None:
    """Serve with waitress: one process, or `workers` processes sharing one listening socket
    (Python runs one thread at a time per process; processes use every core)."""
    listener = socket.create_server((host, port), reuse_port=False)
    # one form-signing key for every worker process (else a token from one fails in another)
    os.environ.setdefault("FEATREG_SECRET_KEY", secrets.token_hex(32))
    click.echo(f"Featreg on http://{host}:{port}/ ({workers} worker process"
               f"{'' if workers == 1 else 'es'} x {threads} threads, database {url})")
    if workers == 1:
        _run_worker(url, [listener], threads)
        return
    children: set[int] = set()

    def spawn() -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            try:
                _run_worker(url, [listener], threads)
            finally:
                os._exit(0)
        children.add(pid)

    stopping = False

    def stop(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                children.discard(pid)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for _ in range(workers):
        spawn()
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        children.discard(pid)
        if not stopping:  # a worker died: replace it
            click.echo(f"worker {pid} exited ({status}); starting another", err=True)
            spawn()
    listener.close()
    sys.exit(0)


MAX_DEFAULT_WORKERS = 4


def default_workers() -> int:
    """Worker processes when --workers is not given: one per core, at most four (Python runs
    one thread at a time per process, so a single process leaves the other cores idle)."""
    return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_WORKERS))


def with_server_options(command: Any) -> Any:
    options = [
        click.option("--host", default="127.0.0.1", show_default=True),
        click.option("--port", default=8000, show_default=True, type=int),
        click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 256),
                     help="Threads per worker process (concurrent requests)."),
        click.option("--workers", default=default_workers, type=click.IntRange(1, 64),
                     show_default=f"one per core, at most {MAX_DEFAULT_WORKERS}",
                     help="Worker processes sharing the port."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@click.command()
@with_server_options
@click.option("--no-scheduler", is_flag=True,
              help="Do not run the scheduled jobs here (run `featreg scheduler` elsewhere).")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, threads: int, workers: int,
          no_scheduler: bool) -> None:
    """Serve the web UI and the JSON API (waitress, a production WSGI server) and run the
    scheduled jobs in the background (safe with several instances: each run happens once)."""
    scheduler = None
    if not no_scheduler:
        from registry.scheduler import start_background_scheduler

        # started before any worker is forked: it runs in this (parent) process only
        scheduler = start_background_scheduler(ctx.obj.db)
    try:
        _serve(ctx.obj.db, host, port, threads, workers)
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)


@click.command()
@with_server_options
@click.option("--no-serve", is_flag=True, help="Load and analyse only.")
@click.pass_context
def demo(ctx: click.Context, host: str, port: int, threads: int, workers: int,
         no_serve: bool) -> None:
    """Load seeds/ into a fresh database, analyse it, write its weekly report, and serve."""
    from registry.db import session_factory
    from registry.demo import SEEDS, DemoManifest, fresh_sqlite, load_demo

    url = ctx.obj.db
    fresh_sqlite(url)
    load_demo(url, say=lambda message: click.echo(f"demo: {message}"))
    try:
        from registry.reports.service import generate_weekly_report
    except ImportError:  # the weekly report is not part of this build
        pass
    else:
        click.echo("demo: writing the weekly report")
        generate_weekly_report(session_factory(url),
                               now=DemoManifest.read(SEEDS).analysis_time)
    if not no_serve:
        _serve(url, host, port, threads, workers)
