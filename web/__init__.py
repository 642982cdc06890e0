"""Featreg web UI and JSON API: a Flask app factory with one blueprint per area."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # Flask and the store load when an app is built, not when `featreg` starts
    from flask import Flask


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app.

    Config: the web and database sections of the settings (`registry.core.settings`:
    FEATREG_DATABASE_URL, FEATREG_SECRET_KEY, FEATREG_GRAPH_CACHE_SIZE, FEATREG_GRAPH_CACHE_DIR,
    FEATREG_GRAPH_NODE_LIMIT, FEATREG_DATA_DIR), each overridden by the same key without the
    prefix in test_config; other FEATREG_* variables pass into the config as they are. SECRET_KEY
    signs the session that holds the form token (random per process when unset).
    """
    from flask import Flask
    from sqlalchemy.orm import sessionmaker

    from registry.core.settings import WebSettings
    from registry.store.db import database_url, session_factory

    # An explicit instance path: Flask's guess fails on the `featreg` namespace package of an
    # editable install (nothing of Featreg's lives in an instance folder).
    app = Flask(__name__, instance_path=str(Path.cwd() / "instance"))
    from .json_output import FastJSONProvider

    app.json = FastJSONProvider(app)
    # FEATREG_* variables the settings do not declare still reach the config as they did
    # (Flask's own keys, web/auth.py's); the declared ones come validated from the web section
    app.config.from_prefixed_env("FEATREG")
    web = WebSettings.from_env()
    app.config.from_mapping(DATABASE_URL=database_url(None), JSON_SORT_KEYS=False,
                            **{name.upper(): value for name, value in web.model_dump().items()})
    app.config["SECRET_KEY"] = web.secret_key or secrets.token_hex(32)
    if test_config:
        app.config.update(test_config)
    app.config["DATABASE_URL"] = database_url(app.config["DATABASE_URL"])
    app.extensions["featreg_sessions"] = factory = session_factory(app.config["DATABASE_URL"])
    # a request's read session runs each statement on its own (no BEGIN and ROLLBACK round
    # trips per page); units of work keep their transactions
    app.extensions["featreg_read_sessions"] = sessionmaker(
        factory.kw["bind"].execution_options(isolation_level="AUTOCOMMIT"),
        expire_on_commit=False)

    from . import blueprints, support

    support.init_app(app)
    blueprints.register_all(app)
    if app.config.get("ADMISSION_SLOTS"):  # FEATREG_ADMISSION_SLOTS (featreg serve sets it)
        from .admission import Admission

        slots = int(app.config["ADMISSION_SLOTS"])
        app.wsgi_app = Admission(app.wsgi_app, slots)  # type: ignore[method-assign]
    return app
