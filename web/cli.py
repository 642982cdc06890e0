"""Commands the web package adds to `featreg`: serve (UI + API) and demo."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import sys
import threading
from collections.abc import Callable
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
    from web.views_catalog import warm_up

    # a forked worker must not share the parent's pooled connections: start a fresh pool
    get_engine(url).dispose(close=False)
    app = create_app({"DATABASE_URL": url})
    warm_up(app, say=lambda message: click.echo(message, err=True))
    create_server(app, sockets=sockets, threads=threads, ident="featreg",
                  clear_untrusted_proxy_headers=True).run()


def _run_scheduler(url: str) -> None:
    """The scheduled jobs, in a process of their own, until SIGTERM or SIGINT (running jobs
    are let finish)."""
    from registry.db import get_engine
    from registry.scheduler import SchedulerSettings, run_scheduler

    get_engine(url).dispose(close=False)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    run_scheduler(url, SchedulerSettings.from_env(), stop)


def _serve(url: str, host: str, port: int, threads: int, workers: int, *,
           scheduler: bool = False) -> None:
    """Serve with waitress: one process, or `workers` processes sharing one listening socket
    (Python runs one thread at a time per process; processes use every core). With
    `scheduler`, the scheduled jobs run too: in a thread of the single process, or in a
    process of their own beside the workers."""
    listener = socket.create_server((host, port), reuse_port=False)
    # one form-signing key for every worker process (else a token from one fails in another)
    os.environ.setdefault("FEATREG_SECRET_KEY", secrets.token_hex(32))
    click.echo(f"Featreg on http://{host}:{port}/ ({workers} worker process"
               f"{'' if workers == 1 else 'es'} x {threads} threads, database {url})")
    if workers == 1:
        from registry.scheduler import start_background_scheduler

        background = start_background_scheduler(url) if scheduler else None
        try:
            _run_worker(url, [listener], threads)
        finally:
            if background is not None:
                background.shutdown(wait=False)
        return
    if scheduler:  # a missing schema stops `serve` here, not a child restarted forever
        from registry.db import check_schema, get_engine

        check_schema(get_engine(url))
        get_engine(url).dispose()
    # This supervising process starts no thread and keeps no connection: a process forked
    # while another thread holds a lock (SQLite's, a connection pool's) waits for it forever.
    children: dict[int, Callable[[], None]] = {}

    def spawn(run: Callable[[], None]) -> None:
        pid = os.fork()
        if pid == 0:  # the child
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            try:
                run()
            finally:
                os._exit(0)
        children[pid] = run

    stopping = False

    def stop(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                children.pop(pid, None)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for _ in range(workers):
        spawn(lambda: _run_worker(url, [listener], threads))
    if scheduler:
        spawn(lambda: _run_scheduler(url))
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        run = children.pop(pid, None)
        if not stopping and run is not None:  # a child died: replace it
            click.echo(f"process {pid} exited ({status}); starting another", err=True)
            spawn(run)
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
    _serve(ctx.obj.db, host, port, threads, workers, scheduler=not no_scheduler)


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
