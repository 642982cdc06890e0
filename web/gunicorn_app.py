"""`featreg serve` under gunicorn: the arbiter supervises gthread workers on a socket that
`featreg serve` has bound (so that a port in use is a clear message, not a traceback).

gunicorn gives what a hand-written pre-fork supervisor lacked: a request timeout (a worker
stuck longer is killed and replaced), graceful reload on SIGHUP and graceful stop on
SIGTERM, a dead worker replaced, and a stop when a worker cannot even boot. In production
run gunicorn directly on the app factory (README: `gunicorn 'featreg.web:create_app()'`);
this module is only how `featreg serve` starts it in-process.
"""

from __future__ import annotations

import socket
import threading
from typing import Any

import click
from gunicorn.app.base import BaseApplication


class FeatregGunicorn(BaseApplication):  # type: ignore[misc]
    """gunicorn on an already listening socket, loading the app in each worker (no app or
    database connection in the arbiter: a fork must not share them)."""

    def __init__(self, url: str, listener: socket.socket, *, workers: int, threads: int,
                 timeout: int) -> None:
        self.url = url
        self.options: dict[str, Any] = {
            "bind": [f"fd://{listener.fileno()}"],
            "workers": workers,
            "threads": threads,
            # a worker takes at most twice its threads in connections: keep-alive clients
            # then spread over the workers instead of piling onto the one that accepted
            # first (each worker runs Python on one core at a time)
            "worker_connections": 2 * threads,
            "worker_class": "gthread",
            "timeout": timeout,
            "graceful_timeout": 30,
            "keepalive": 5,
            "backlog": 2048,
            "proc_name": "featreg",
            "accesslog": None,
            "errorlog": "-",
            "loglevel": "warning",
            "post_worker_init": start_threads,
        }
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from . import create_app
        from .views_catalog import warm_up

        app = create_app({"DATABASE_URL": self.url})
        warm_up(app, say=lambda message: click.echo(message, err=True))
        return app


def start_threads(worker: Any) -> None:
    """Start every thread of a gthread worker's pool before it accepts a connection (gunicorn's
    `post_worker_init` hook; in production add it with ``-c``, see the README). The pool
    otherwise starts a thread for each of the worker's first requests, in gunicorn's
    accepting loop, and under load each start waits for the new thread to get the
    interpreter lock: every request of the worker waited meanwhile (8% of a worker's time
    in a load test's first seconds)."""
    pool = getattr(worker, "tpool", None)
    threads = int(getattr(worker.cfg, "threads", 0) or 0)
    if pool is None or threads < 1:
        return
    started = threading.Barrier(threads + 1)
    for _ in range(threads):  # each task holds its thread until all have one
        pool.submit(started.wait, 10)
    try:
        started.wait(10)
    except threading.BrokenBarrierError:
        pass  # a thread did not start in time: the pool starts it when needed
