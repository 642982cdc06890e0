"""Home, the catalog (search, filters, sort, pages) and the feature page, with JSON twins."""

from __future__ import annotations

import gc
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, Response, get_template_attribute, render_template, request
from markupsafe import Markup
from sqlalchemy.orm import Session

from registry.catalog.search import FeatureSearchIndex
from registry.core.settings import Settings
from registry.read import evidence as queries_evidence
from registry.read import graph as queries_graph
from registry.read import lists as queries
from registry.read.catalog_usage import UsageTable
from registry.read.detail import feature_detail
from registry.read.directory import KIND_LABELS
from registry.read.freshness import analysis_freshness
from registry.reports import charts

from .graphs import draw, graph_args
from .support import (
    API_PREFIX,
    await_latest,
    db,
    is_older,
    memo,
    memo_latest,
    respond,
    sessions,
    svg_response,
    wants_json,
)
from .views_lists import directory, refresh_period

bp = Blueprint("catalog", __name__)
api = Blueprint("catalog_api", __name__, url_prefix=API_PREFIX)
PAGE_CACHE_LIMIT = 2_000  # rendered catalog pages kept per worker (5-30 kB each)
ROW_CACHE_LIMIT = 20_000  # rendered rows kept per worker (about 0.6 kB each)
FRESH_WAIT = 0.5  # seconds a read-your-writes search waits for the index before using SQL
OVERLAY_LIMIT = 2_000  # features changed since the index was built whole: then build anew


@bp.app_context_processor
def _freshness() -> dict[str, Any]:
    """`analysis_freshness()` for any template (the `_freshness.html` partial)."""
    return {"analysis_freshness": lambda: analysis_freshness(db())}


@bp.get("/")
@api.get("/")
@api.get("/summary")
def home() -> Response:
    return respond("home.html", {**queries.home_summary(db()),
                                 "freshness": analysis_freshness(db())})


def usage_table() -> tuple[object, UsageTable]:
    """Every feature's usage (last read, 30-day reads, readers, top importance share) and its
    version: read again in the background at most every REFRESH_SECONDS (usage arrives
    without change sets), the previous table served meanwhile."""
    factory = sessions()

    def load(_version: object, _held: object) -> UsageTable:
        with factory() as own:
            return UsageTable.load(own)

    return memo_latest("usage_table", refresh_period(), load)


def _other_kinds(query: queries.CatalogQuery, changes: int | None = None
                 ) -> list[dict[str, Any]]:
    """Sources, consumers, teams and unregistered readers matching the catalog's search text
    (shown above the features: the header's search box finds every kind). `changes`: the
    catalog version when the caller has read it already."""
    if not query.q or query.page > 1:
        return []
    return [{"kind": kind, "label": KIND_LABELS[kind], "total": len(entries),
             "items": [e.to_dict() for e in entries[:5]]}
            for kind, entries in directory(changes=changes)[1].find(query.q).items()
            if entries]


@bp.get("/features")
@api.get("/features")
def catalog() -> Response:
    session = db()
    query = queries.CatalogQuery.from_args(request.args)
    version = queries.search_version(session)
    held, index = search_index(session, version)
    current = held == version or is_older(version, held)
    if not current and wants_fresh():  # read-your-writes: wait for the update (milliseconds)
        held, index = await_latest("search_index", version, FRESH_WAIT)
        current = held == version or is_older(version, held)
    used, usage = usage_table()
    if not current and wants_fresh():  # still behind (a whole rebuild): SQL sees every change
        page = queries.catalog_page(session, query, usage=usage)
        if wants_json():
            return respond("catalog.html", page)
        return respond("catalog.html", page, query=query, facets=_facets(version)[1],
                       rows=_rows(page["items"], {}), others=_other_kinds(query))
    if wants_json():
        return respond("catalog.html", queries.catalog_page(
            session, query, index, usage, memo("catalog_usage_orders", (held, used), dict)))
    # the page's content is the same for everyone asking this URL of this catalog, index and
    # usage (and, for the other kinds' names, within REFRESH_SECONDS): kept rendered
    pages: dict[tuple[object, ...], str] = memo("catalog_pages", (held, used), dict)
    key = (request.full_path, version, refresh_period())
    body = pages.get(key)
    if body is None:
        page = queries.catalog_page(session, query, index, usage,
                                    memo("catalog_usage_orders", (held, used), dict))
        body = render_template(
            "_catalog_body.html", data=page, query=query, facets=_facets(version)[1],
            rows=_rows(page["items"], memo("catalog_rows", (held, used), dict)),
            others=_other_kinds(query, version[0]))
        if len(pages) >= PAGE_CACHE_LIMIT:
            pages.clear()
        pages[key] = body
    return respond("catalog.html", None, body=Markup(body))


def wants_fresh() -> bool:
    """Whether this catalog request must see every change already committed (read your
    writes), not the search index while a newer one is built: API and JSON requests (the
    scripts that write, then read back), and any request with ``fresh=1``; ``fresh=0``
    accepts the index a change may be ahead of (a page a person reads: the next one is
    current)."""
    fresh = request.args.get("fresh")
    if fresh is not None:
        return fresh not in ("0", "false", "no")
    return wants_json()


def _facets(version: object) -> tuple[object, dict[str, Any]]:
    factory = sessions()

    def compute(_version: object, _held: object) -> dict[str, Any]:
        with factory() as session:
            return queries.catalog_facets(session)

    return memo_latest("catalog_facets", version, compute)


def search_index(session: Session, version: object | None = None
                 ) -> tuple[object, FeatureSearchIndex]:
    """The catalog's search index and the `search_version` it was built for. After a change
    set, a background thread reads the features it changed and lays them over the index
    (`FeatureSearchIndex.updated`: milliseconds); after an analysis run (new findings) or
    OVERLAY_LIMIT changed features, it builds the index anew (seconds). Requests keep the
    previous index meanwhile: a write never stalls search. Only a worker's first index is
    built in a request (or by `warm_up` when the worker starts), which the other catalog
    requests wait for."""
    if version is None:
        version = queries.search_version(session)
    factory = sessions()

    def load(held_version: object, held: FeatureSearchIndex | None) -> FeatureSearchIndex:
        with factory() as own:  # a session of its own: it may outlive the request
            if (held is not None and isinstance(held_version, tuple)
                    and isinstance(version, tuple) and held_version[1] == version[1]
                    and held.overlaid < OVERLAY_LIMIT):
                return held.updated(own, held_version[0])  # catalog changes only
            return FeatureSearchIndex.load(own)

    return memo_latest("search_index", version, load)


def warm_up(app: Flask, say: Callable[[str], None] = lambda _: None) -> None:
    """Build the search index, the usage table and the directory of other names before the
    first catalog or search request needs them (in the background: a worker serves other
    pages meanwhile, and a catalog request waits for this build), then `say` that the worker
    is ready."""

    def build() -> None:
        start = time.perf_counter()
        with app.app_context():
            _, index = search_index(db())
            usage_table()  # the catalog's usage columns
            directory()  # the other kinds' names, for search
        _warm_pages(app, say)
        _warm_explorer(app, say)
        # what exists now (the app, its libraries, the index) lives as long as the worker:
        # leave it out of the garbage collector's full passes, which otherwise stall every
        # request in flight for about 150 ms when they walk it (CPython's gc.freeze)
        gc.collect()
        gc.freeze()
        say(f"worker {os.getpid()} ready: search index of {len(index.features):,} features "
            f"built in {time.perf_counter() - start:.1f} s")

    threading.Thread(target=build, name="featreg-warm-up", daemon=True).start()


WARM_TEAMS = 200
WARM_SECONDS = 60.0
"""At most this many teams' default explorer views are drawn while a worker warms up, and
for at most this long (then the rest are drawn when first asked for)."""


WARM_CONNECTIONS = 8
"""Database connections a worker opens while it warms up (up to its admission slots)."""


def _warm_pages(app: Flask, say: Callable[[str], None]) -> None:
    """Serve a feature page and a lineage listing once, and open the database connections
    the worker's slots will use, before the worker says it is ready. The first feature page
    imports Markdown's extensions and Pygments, compiles its templates and starts a `dot`
    process (a third of a second, holding the interpreter lock); each pooled PostgreSQL
    connection starts a backend. Paid by the first requests under load instead, they stalled
    every request of the worker: all of a load test's refusals and slow answers fell in its
    first three seconds. A failure only costs the warm-up."""
    from sqlalchemy import select

    from registry.store import models as m

    from .views_graph import lineage

    try:
        with app.test_request_context("/"):
            name = db().scalar(select(m.Feature.name).order_by(m.Feature.id).limit(1))
            engine = db().get_bind().engine
        if name is not None:
            with app.test_request_context(f"/features/{name}"):
                feature(name)
            with app.test_request_context(f"/api/v1/lineage/{name}"):
                lineage(name)
        slots = int(app.config.get("ADMISSION_SLOTS") or 0) or WARM_CONNECTIONS
        held = [engine.connect() for _ in range(min(slots, WARM_CONNECTIONS))]
        for connection in held:
            connection.close()
    except Exception as exc:  # noqa: BLE001 - the worker serves regardless
        say(f"worker {os.getpid()}: pages were not prepared ({exc})")


def _warm_explorer(app: Flask, say: Callable[[str], None]) -> None:
    """Draw the default graph explorer once: it builds the catalog's edges held in memory, the
    loops and the undeclared reads, which every graph, lineage and team view then reuses (at
    100,000 features the first request paid 3.4 s for them). Then each team's default view
    (about 0.1 s each at 100,000 features: the team's neighbourhood and its layout), so that
    nobody waits for a team's first view after a deploy. A failure only costs the warm-up."""
    from sqlalchemy import select

    from registry.store import models as m

    from .views_graph import explorer

    try:
        with app.test_request_context("/graph"):
            explorer()
            teams = list(db().scalars(select(m.Team.name).order_by(m.Team.name)
                                      .limit(WARM_TEAMS)))
        deadline = time.monotonic() + WARM_SECONDS
        for team in teams:
            if time.monotonic() > deadline:
                break
            with app.test_request_context("/graph", query_string={"team": team}):
                explorer()
    except Exception as exc:  # noqa: BLE001 - the worker serves regardless
        say(f"worker {os.getpid()}: the graph explorer was not prepared ({exc})")


def _rows(items: list[dict[str, Any]], cache: dict[str, str]) -> list[Markup]:
    """Each item's table row, rendered once per catalog and usage version (a row depends only
    on the feature and its usage, which the versions pin). Kept as plain strings, which the
    garbage collector need not track."""
    render = get_template_attribute("_catalog_row.html", "row")
    rows = []
    for item in items:
        html = cache.get(item["name"])
        if html is None:
            if len(cache) >= ROW_CACHE_LIMIT:
                cache.clear()
            html = cache[item["name"]] = str(render(item))
        rows.append(Markup(html))
    return rows


@bp.get("/features/<name>")
@api.get("/features/<name>")
def feature(name: str) -> Response:
    session = db()
    detail = feature_detail(session, name)
    args = graph_args()
    graph = queries_graph.neighbourhood(session, name, node_type="feature", **args).to_dict()
    return respond("feature.html", {**detail, "graph": graph}, graph_args=args,
                   graph_svg=None if wants_json() else draw(graph))  # JSON: no drawing


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
