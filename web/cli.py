"""Commands the web package adds to `featreg`: serve (UI + API) and demo."""

from __future__ import annotations

import functools
import os
import secrets
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

import click

from registry.core.errors import FeatregError


def register(group: click.Group) -> None:
    """Entry point `featreg.cli`: attach our commands to the `featreg` group."""
    group.add_command(serve)
    group.add_command(demo)


def _run_worker(url: str, sockets: list[socket.socket], threads: int) -> None:
    """One waitress server (threads, no debugger) on already-listening sockets."""
    from waitress import create_server

    from registry.store.db import get_engine

    from . import create_app
    from .views_catalog import warm_up

    # a forked worker must not share the parent's pooled connections: start a fresh pool
    get_engine(url).dispose(close=False)
    app = create_app({"DATABASE_URL": url})
    warm_up(app, say=lambda message: click.echo(message, err=True))
    create_server(app, sockets=sockets, threads=threads, ident="featreg",
                  clear_untrusted_proxy_headers=True).run()


def _run_scheduler(url: str) -> None:
    """The scheduled jobs, in a process of their own, until SIGTERM or SIGINT (running jobs
    are let finish)."""
    from registry.ops.scheduler import SchedulerSettings, run_scheduler
    from registry.store.db import get_engine

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
        from registry.ops.scheduler import start_background_scheduler

        background = start_background_scheduler(url) if scheduler else None
        try:
            _run_worker(url, [listener], threads)
        finally:
            if background is not None:
                background.shutdown(wait=False)
        return
    if scheduler:  # bad settings or schema stop `serve` here, not a child restarted forever
        from registry.core.settings import FeatregSettings
        from registry.store.db import check_schema, get_engine

        FeatregSettings.from_env().scheduler.triggers()  # what the scheduler process reads
        check_schema(get_engine(url))
        get_engine(url).dispose()
    _supervise(url, listener, threads, workers, scheduler)


QUICK_EXIT = 10.0  # seconds: a child that dies sooner failed to start
MAX_QUICK_EXITS = 5  # in a row: give up instead of restarting it again
BACKOFF = 2.0  # seconds before the first restart after a quick exit; doubled each time


def _child(run: Callable[[], None]) -> None:
    """The body of a forked child: run, report an error, never return."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    code = 0
    try:
        run()
    except BaseException:  # noqa: BLE001 - reported, then the supervisor decides
        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _supervise(url: str, listener: socket.socket, threads: int, workers: int,
               scheduler: bool) -> None:
    """Fork the workers (and the scheduler process), replace any that dies, stop them all on
    SIGTERM or SIGINT. This process starts no thread and keeps no connection: a process
    forked while another thread holds a lock (SQLite's, a connection pool's) waits for it
    forever."""
    children: dict[int, tuple[Callable[[], None], float]] = {}
    stopping = False
    quick_exits = 0
    paused = 0.0  # seconds spent backing off: not part of any child's life

    def alive_since(started: float) -> float:
        return time.monotonic() - paused - started

    def spawn(run: Callable[[], None]) -> None:
        # signals wait until the child is registered (else SIGTERM could miss it)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
        try:
            pid = os.fork()
            if pid == 0:
                _child(run)
            children[pid] = (run, time.monotonic() - paused)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})

    def stop(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                children.pop(pid, None)

    def scheduler_process() -> None:
        listener.close()  # it serves nothing: the port must not outlive the workers
        _run_scheduler(url)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for _ in range(workers):
        spawn(lambda: _run_worker(url, [listener], threads))
    if scheduler:
        spawn(scheduler_process)
    failed = False
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        entry = children.pop(pid, None)
        if stopping or entry is None:
            continue
        run, started = entry
        quick_exits = quick_exits + 1 if alive_since(started) < QUICK_EXIT else 0
        if quick_exits >= MAX_QUICK_EXITS:
            click.echo(f"process {pid} exited ({os.waitstatus_to_exitcode(status)}) "
                       f"{MAX_QUICK_EXITS} times in a row right after starting; stopping "
                       "(see the errors above)", err=True)
            failed = True
            stop(signal.SIGTERM, None)
            continue
        click.echo(f"process {pid} exited ({os.waitstatus_to_exitcode(status)}); starting "
                   "another", err=True)
        if quick_exits:
            pause = min(BACKOFF * 2.0 ** (quick_exits - 1), 30.0)
            time.sleep(pause)
            paused += pause
        spawn(run)
    listener.close()
    sys.exit(1 if failed else 0)


MAX_DEFAULT_WORKERS = 4


def _reported(command: Callable[..., None]) -> Callable[..., None]:
    """Featreg errors (bad settings, no schema) as a message and exit status 1, no traceback
    (registry.cli.handle_errors cannot be imported here: registry.cli loads this module)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            command(*args, **kwargs)
        except FeatregError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


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
@_reported
def serve(ctx: click.Context, host: str, port: int, threads: int, workers: int,
          no_scheduler: bool) -> None:
    """Serve the web UI and the JSON API (waitress, a production WSGI server) and run the
    scheduled jobs in the background (safe with several instances: each run happens once)."""
    _serve(ctx.obj.db, host, port, threads, workers, scheduler=not no_scheduler)


@click.command()
@with_server_options
@click.option("--no-serve", is_flag=True, help="Load and analyse only.")
@click.pass_context
@_reported
def demo(ctx: click.Context, host: str, port: int, threads: int, workers: int,
         no_serve: bool) -> None:
    """Load seeds/ into a fresh database, analyse it, write its weekly report, and serve."""
    from registry.demo import SEEDS, DemoManifest, fresh_sqlite, load_demo
    from registry.store.db import session_factory, session_scope

    url = ctx.obj.db
    fresh_sqlite(url)
    load_demo(url, say=lambda message: click.echo(f"demo: {message}"))
    try:
        from registry.reports.service import generate_weekly_report
    except ImportError:  # the weekly report is not part of this build
        pass
    else:
        click.echo("demo: writing the weekly report")
        with session_scope(session_factory(url)) as session:
            generate_weekly_report(session, now=DemoManifest.read(SEEDS).analysis_time)
    if not no_serve:
        _serve(url, host, port, threads, workers)
