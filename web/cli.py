"""Commands the web package adds to `featreg`: serve (UI + API) and demo."""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import secrets
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import click

from registry.core.errors import FeatregError

DEFAULT_TIMEOUT = 30  # seconds: a request running longer has its worker restarted


def register(group: click.Group) -> None:
    """Entry point `featreg.cli`: attach our commands to the `featreg` group."""
    group.add_command(serve)
    group.add_command(demo)


def _run_waitress(url: str, listener: socket.socket, threads: int, scheduler: bool) -> None:
    """Serve with waitress in this one process (platforms without fork, or no gunicorn):
    `threads` threads, the scheduled jobs in a background thread."""
    from waitress import create_server

    from registry.ops.scheduler import start_background_scheduler

    from . import create_app
    from .views_catalog import warm_up

    background = start_background_scheduler(url) if scheduler else None
    try:
        app = create_app({"DATABASE_URL": url})
        warm_up(app, say=lambda message: click.echo(message, err=True))
        create_server(app, sockets=[listener], threads=threads, ident="featreg",
                      clear_untrusted_proxy_headers=True).run()
    finally:
        if background is not None:
            background.shutdown(wait=False)


def _scheduler_process(url: str) -> subprocess.Popen[bytes]:
    """`featreg scheduler` as a child process of its own (it stops on SIGTERM, letting
    running jobs finish)."""
    program = "import sys; from registry.cli import main; main(sys.argv[1:])"
    return subprocess.Popen([sys.executable, "-c", program, "--db", url, "scheduler"],
                            close_fds=True)


def _stop(child: subprocess.Popen[bytes] | None, listener: socket.socket) -> None:
    """Stop the scheduler process (its running jobs finish) and release the port."""
    if child is not None:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            child.kill()
    with contextlib.suppress(OSError):  # gunicorn may have closed it already
        listener.close()


def gunicorn_available() -> bool:
    """Whether this platform runs the web app under gunicorn (it needs fork: Unix)."""
    if os.name != "posix":
        return False
    try:
        import gunicorn  # noqa: F401
    except ImportError:
        return False
    return True


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, or a clear reason why not (D8): port out of range or in use,
    an unknown host."""
    if not 1 <= port <= 65535:
        raise click.ClickException(f"--port {port} is out of range: use 1-65535")
    try:
        return socket.create_server((host, port), backlog=2048)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise click.ClickException(
                f"port {port} on {host} is already in use (another server runs there): "
                "choose another with --port") from None
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}"
                                   ) from None


def _serve(url: str, host: str, port: int, threads: int, workers: int, *,
           scheduler: bool = False, timeout: int = DEFAULT_TIMEOUT) -> None:
    """Serve the app: under gunicorn on Unix (`workers` processes of `threads` threads, a
    request timeout, graceful reload on SIGHUP, workers restarted when they die), with the
    scheduled jobs in a `featreg scheduler` child process; with waitress in one process
    where there is no fork."""
    from registry.core.settings import FeatregSettings, WebSettings
    from registry.store.db import check_schema, dispose_engine, get_engine

    # bad settings or schema stop `serve` here with the reason, not in every worker
    WebSettings.from_env()
    if scheduler:
        FeatregSettings.from_env().scheduler.triggers()
    check_schema(get_engine(url))
    dispose_engine(url)  # the workers are forked: they must not share this process's pool
    listener = _listen(host, port)
    # one form-signing key for every worker process (else a token from one fails in another);
    # the bound host and port for the allowed-hosts check (app.config SERVE_HOST, SERVE_PORT)
    os.environ.setdefault("FEATREG_SECRET_KEY", secrets.token_hex(32))
    os.environ["FEATREG_SERVE_HOST"] = host
    os.environ["FEATREG_SERVE_PORT"] = str(port)
    for name, value in worker_settings(threads).items():
        os.environ.setdefault(name, value)  # what the environment sets itself wins
    if not gunicorn_available():
        click.echo(f"Featreg on http://{host}:{port}/ (waitress, one process x {threads} "
                   f"threads: no fork or no gunicorn here; database {url})")
        _run_waitress(url, listener, threads, scheduler)
        return
    click.echo(f"Featreg on http://{host}:{port}/ (gunicorn: {workers} worker process"
               f"{'' if workers == 1 else 'es'} x {threads} threads, request timeout "
               f"{timeout} s; database {url})")
    from gunicorn.errors import HaltServer

    from .gunicorn_app import FeatregGunicorn

    child = _scheduler_process(url) if scheduler else None
    arbiter = os.getpid()  # gunicorn's workers are forks of this process: they return here
    code = 0
    try:
        FeatregGunicorn(url, listener, workers=workers, threads=2 * threads,
                        timeout=timeout).run()
    except SystemExit as exc:
        if os.getpid() != arbiter:
            raise  # a worker's exit: nothing of the arbiter's to clean up
        code = exc.code if isinstance(exc.code, int) else 1
    except HaltServer as exc:
        if os.getpid() != arbiter:
            raise
        # gunicorn halts when a worker cannot boot; while it stops the others, another one
        # failing the same way raises this again, past gunicorn's own handler
        code = exc.exit_status or 1
    except BaseException:
        if os.getpid() == arbiter:
            _stop(child, listener)
        raise
    _stop(child, listener)
    if code:
        click.echo("featreg serve stopped: a worker failed to start (see the errors above)",
                   err=True)
        sys.exit(1)


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


def worker_settings(threads: int) -> dict[str, str]:
    """The settings `featreg serve` gives its workers for `threads` threads: at most `threads`
    requests run the app at once in a worker (gunicorn gets as many threads again, to answer
    the excess at once with 503: web/admission.py), and a database connection is kept for
    each of them and for the background rebuilds."""
    from registry.store.db import DEFAULT_POOL_SIZE

    return {"FEATREG_ADMISSION_SLOTS": str(threads),
            "FEATREG_DATABASE_POOL_SIZE": str(max(DEFAULT_POOL_SIZE, threads + 4))}


def default_workers() -> int:
    """Worker processes when --workers is not given: one more than the cores, at most four.
    Python runs one thread at a time per process, so a single process leaves the other cores
    idle; and each process spends part of its time waiting for the database, so one extra
    keeps the cores busy (measured on 2 cores under the mixed load test, interleaved runs:
    3 workers served 148-168 requests/s where 2 served 125-149)."""
    return max(1, min((os.cpu_count() or 1) + 1, MAX_DEFAULT_WORKERS))


def with_server_options(command: Any) -> Any:
    options = [
        click.option("--host", default="127.0.0.1", show_default=True),
        click.option("--port", default=8000, show_default=True, type=int),
        click.option("--timeout", default=DEFAULT_TIMEOUT, show_default=True,
                     type=click.IntRange(1, 3600),
                     help="Seconds a request may run before gunicorn restarts its worker."),
        click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 256),
                     help="Threads per worker process (concurrent requests)."),
        click.option("--workers", default=default_workers, type=click.IntRange(1, 64),
                     show_default=f"one more than the cores, at most {MAX_DEFAULT_WORKERS}",
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
def serve(ctx: click.Context, host: str, port: int, timeout: int, threads: int, workers: int,
          no_scheduler: bool) -> None:
    """Serve the web UI and the JSON API (gunicorn on Unix: worker processes of threads,
    SIGHUP reloads them gracefully; waitress where there is no fork) and run the scheduled
    jobs in a `featreg scheduler` process beside it (safe with several instances: each run
    happens once)."""
    _serve(ctx.obj.db, host, port, threads, workers, scheduler=not no_scheduler,
           timeout=timeout)


@click.command()
@with_server_options
@click.option("--no-serve", is_flag=True, help="Load and analyse only.")
@click.pass_context
@_reported
def demo(ctx: click.Context, host: str, port: int, timeout: int, threads: int, workers: int,
         no_serve: bool) -> None:
    """Load seeds/ into a fresh database, analyse it, write its weekly report, and serve."""
    from registry.access.tokens import create_token
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
    with session_scope(session_factory(url)) as session:
        _row, secret = create_token(session, name="demo-admin", team=None, admin=True,
                                    created_by="featreg demo")
    click.echo(f"demo: an admin token for the UI's sign-in and the API (shown once): {secret}")
    if not no_serve:
        _serve(url, host, port, threads, workers, timeout=timeout)
