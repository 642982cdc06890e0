"""Featreg web UI and JSON API: a Flask app factory with one blueprint per area."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from flask import Flask

from registry.store.db import database_url, session_factory


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app.

    Config (environment variables prefixed FEATREG_, or test_config): DATABASE_URL,
    SECRET_KEY (signs the session that holds the form token; random per process by default),
    GRAPH_CACHE_SIZE (rendered SVGs kept in memory), GRAPH_CACHE_DIR (optional on-disk cache),
    GRAPH_NODE_LIMIT (largest graph drawn at once), DATA_DIR (where uploaded snapshots are
    kept; default ./featreg-data).
    """
    # An explicit instance path: Flask's guess fails on the `featreg` namespace package of an
    # editable install (nothing of Featreg's lives in an instance folder).
    app = Flask(__name__, instance_path=str(Path.cwd() / "instance"))
    app.config.from_mapping(DATABASE_URL=database_url(None), GRAPH_CACHE_SIZE=1024,
                            GRAPH_CACHE_DIR=None, GRAPH_NODE_LIMIT=500,
                            SECRET_KEY=secrets.token_hex(32), JSON_SORT_KEYS=False,
                            DATA_DIR="featreg-data")
    app.config.from_prefixed_env("FEATREG")
    if test_config:
        app.config.update(test_config)
    app.config["DATABASE_URL"] = database_url(app.config["DATABASE_URL"])
    app.extensions["featreg_sessions"] = session_factory(app.config["DATABASE_URL"])

    from . import blueprints, support

    support.init_app(app)
    blueprints.register_all(app)
    return app
