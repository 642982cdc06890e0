"""Home, the catalog (search, filters, sort, pages) and the feature page, with JSON twins."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, get_template_attribute, request
from markupsafe import Markup

from registry import queries, queries_evidence, queries_graph
from registry.queries_detail import feature_detail
from registry.search_index import FeatureSearchIndex
from registry.settings import Settings
from web import charts
from web.graphs import draw, graph_args
from web.support import API_PREFIX, db, memo, respond, svg_response, wants_json

bp = Blueprint("catalog", __name__)
api = Blueprint("catalog_api", __name__, url_prefix=API_PREFIX)
ROW_CACHE_LIMIT = 5000


@bp.get("/")
@api.get("/")
@api.get("/summary")
def home() -> Response:
    return respond("home.html", queries.home_summary(db()))


@bp.get("/features")
@api.get("/features")
def catalog() -> Response:
    session = db()
    query = queries.CatalogQuery.from_args(request.args)
    version = queries.search_version(session)
    index = memo("search_index", version, lambda: FeatureSearchIndex.load(session))
    page = queries.catalog_page(session, query, index)
    if wants_json():
        return respond("catalog.html", page)
    facets = memo("catalog_facets", version, lambda: queries.catalog_facets(session))
    return respond("catalog.html", page, query=query, facets=facets,
                   rows=_rows(page["items"], memo("catalog_rows", version, dict)))


def _rows(items: list[dict[str, Any]], cache: dict[str, Markup]) -> list[Markup]:
    """Each item's table row, rendered once per catalog version (a row depends only on the
    feature, which the version pins)."""
    render = get_template_attribute("_catalog_row.html", "row")
    rows = []
    for item in items:
        html = cache.get(item["name"])
        if html is None:
            if len(cache) >= ROW_CACHE_LIMIT:
                cache.clear()
            html = cache[item["name"]] = Markup(render(item))
        rows.append(html)
    return rows


@bp.get("/features/<name>")
@api.get("/features/<name>")
def feature(name: str) -> Response:
    session = db()
    detail = feature_detail(session, name)
    args = graph_args()
    graph = queries_graph.neighbourhood(session, name, node_type="feature", **args).to_dict()
    return respond("feature.html", {**detail, "graph": graph}, graph_args=args,
                   graph_svg=None if request.args.get("format") == "json" else draw(graph))


@bp.get("/features/<name>/usage.svg")
def usage_chart(name: str) -> Response:
    session = db()
    series = queries_evidence.usage_series(session, name)
    declared = queries_evidence.declared_consumers(session, name)
    return svg_response(charts.usage_chart(series, {r["principal"] for r in series} - declared))


@bp.get("/features/<name>/importance.svg")
def importance_chart(name: str) -> Response:
    series = queries_evidence.importance_series(db(), name)
    return svg_response(charts.importance_chart(series, Settings.from_env().epsilon_share))
