"""Every blueprint of the app, registered in one place (add new areas here)."""

from __future__ import annotations

from flask import Flask


def register_all(app: Flask) -> None:
    from . import (
        views_catalog,
        views_findings,
        views_graph,
        views_lists,
        views_objects,
        views_ops,
        views_search,
    )

    for module in (views_catalog, views_objects, views_graph, views_findings, views_ops,
                   views_lists, views_search):
        app.register_blueprint(module.bp)
        app.register_blueprint(module.api)
    from . import views_auth, views_health

    app.register_blueprint(views_auth.bp)
    views_health.init_app(app)
    from . import api_evidence, api_write, openapi, openlineage  # JSON write API, OpenAPI

    for module in (api_write, api_evidence, openlineage, openapi):
        app.register_blueprint(module.api)
