"""Featreg web UI and JSON API: a Flask app factory with one blueprint per area."""

from __future__ import annotations

from typing import Any

from flask import Flask

from registry.db import database_url, session_factory


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app. Config: FEATREG_DATABASE_URL (or test_config["DATABASE_URL"])."""
    app = Flask(__name__)
    app.config.from_mapping(DATABASE_URL=database_url(None), GRAPH_CACHE_SIZE=256,
                            SECRET_KEY="featreg-dev")
    app.config.from_prefixed_env("FEATREG")
    if test_config:
        app.config.update(test_config)
    app.config["DATABASE_URL"] = database_url(app.config["DATABASE_URL"])
    app.extensions["featreg_sessions"] = session_factory(app.config["DATABASE_URL"])

    from web import blueprints

    blueprints.register_all(app)
    return app
