"""gunicorn settings for Featreg in production (README, "Production"):

    gunicorn -c python:featreg.web.gunicorn_conf 'featreg.web:create_app()' ...

Each worker starts all its threads before it accepts a connection (`start_threads`) and warms
up as `featreg serve`'s workers do (`warm_up`: search index, usage columns, a feature page,
its database connections, the graph explorer; in the background, logging when it is ready).
Command-line options still set everything else (workers, threads, timeouts, bind).
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from .gunicorn_app import start_threads
from .views_catalog import warm_up


def post_worker_init(worker: Any) -> None:
    start_threads(worker)
    app = getattr(worker, "wsgi", None)
    if isinstance(app, Flask):
        warm_up(app, say=worker.log.info)
