"""The graph explorer, lineage of any object, impact of a source, closure of a consumer."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, request
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.analysis.graph import NODE_TYPES
from registry.catalog.lineage import cached_flow
from registry.core.errors import FeatregError, NotFound
from registry.read import graph as queries_graph
from registry.read.common import clamp_int
from registry.read.lists import catalog_version
from registry.store import models as m

from .graphs import MAX_DEPTH, draw, explorer_engine, graph_args, graph_dot, renderer
from .support import API_PREFIX, db, memo, memo_latest, respond, sessions, svg_response

bp = Blueprint("graphs", __name__)
api = Blueprint("graphs_api", __name__, url_prefix=API_PREFIX)


def _flag(name: str, default: bool = True) -> bool:
    value = request.args.get(name)
    return default if value is None else value not in ("0", "false", "no", "off", "")


@bp.get("/graph")
@api.get("/graph")
def explorer() -> Response:
    team = request.args.get("team") or None
    focus = (request.args.get("focus") or "").strip() or None
    args = graph_args(default_depth=2 if focus else 1)
    cluster = _flag("cluster")
    session = db()
    notice = None
    graph = None
    if focus is not None:
        try:
            graph = _focused(focus, args)
        except NotFound as exc:
            notice, focus = str(exc), None
    if graph is None:
        graph = _catalog_graph(session, team, args)
    engine = explorer_engine(graph)
    output = request.args.get("format")
    if output == "dot":
        return Response(graph_dot(graph, cluster_by_owner=cluster, engine=engine),
                        mimetype="text/plain")
    if output == "svg":
        return svg_response(renderer().render(
            graph_dot(graph, cluster_by_owner=cluster, engine=engine), engine))
    settings = {"team": team, "cluster": cluster, "undeclared": _flag("undeclared"),
                "focus": focus, **args}
    svg = None if output == "json" else draw(graph, cluster_by_owner=cluster, engine=engine)
    return respond("graph.html", {"settings": settings, **graph}, graph_svg=svg,
                   teams=_team_names(), notice=notice)


WARNINGS_SECONDS = 30
"""Undeclared reads arrive without change sets: the explorer's list of them is read again in
the background at most this often (and at once after a change set or an analysis run)."""


def _catalog_graph(session: Session, team: str | None, args: dict[str, Any]
                   ) -> dict[str, Any]:
    """The whole catalog's or a team's graph, kept while the catalog and the warnings it is
    drawn from are unchanged (it depends on nothing else)."""
    version = catalog_version(session)
    flow = cached_flow(session, wait=True)  # the request's session always holds one
    seen, warnings = _warnings(session)
    undeclared = _flag("undeclared")
    return memo(f"catalog_graph {team!r} {args['depth']} {args['limit']} {undeclared}",
                (version, seen),
                lambda: queries_graph.catalog_graph(
                    session, team=team, depth=args["depth"], limit=args["limit"],
                    undeclared=undeclared, flow=flow, warnings=warnings).to_dict())


def _warnings(session: Session) -> tuple[object, queries_graph.CatalogWarnings]:
    """The catalog's undeclared reads, warned objects and observed loops, and the version
    they were read at: after a change set or an analysis run they are read at once; usage
    alone refreshes them in the background (see WARNINGS_SECONDS; the previous value is
    served while a newer one is read)."""
    factory = sessions()
    changed = (catalog_version(session),
               session.scalar(select(func.max(m.AnalysisRun.id))) or 0)

    def load(_version: object = None, _held: object = None) -> queries_graph.CatalogWarnings:
        with factory() as own:
            return queries_graph.catalog_warnings(own)

    version = (*changed, int(time.time() // WARNINGS_SECONDS))
    seen, warnings = memo_latest("graph_warnings", version, load)
    if not isinstance(seen, tuple) or seen[:2] != changed:
        return version, memo("graph_warnings_now", version, load)
    return seen, warnings


def _focused(focus: str, args: dict[str, Any]) -> dict[str, Any]:
    """The neighbourhood of the object named by `focus` ("type:name" or a name)."""
    kind, _, name = focus.partition(":")
    if kind not in NODE_TYPES or not name:
        kind, name = "", focus
    return queries_graph.neighbourhood(db(), name, node_type=kind or None,
                                       undeclared=_flag("undeclared"), **args).to_dict()


def _team_names() -> list[str]:
    return list(db().scalars(select(m.Team.name).order_by(m.Team.name)))


@bp.get("/lineage/<path:name>")
@api.get("/lineage/<path:name>")
def lineage(name: str) -> Response:
    direction = request.args.get("direction", "both")
    raw_depth = request.args.get("depth")
    depth = clamp_int(raw_depth, 2, 1, 1000) if raw_depth else None
    try:
        listing = queries_graph.lineage_listing(db(), name, direction=direction, depth=depth)
    except ValueError as exc:
        raise FeatregError(str(exc)) from exc
    if request.path.startswith(API_PREFIX) or request.args.get("format") == "json":
        return respond("lineage.html", listing)
    args = graph_args()
    args["depth"] = min(depth or args["depth"], MAX_DEPTH)
    graph = queries_graph.neighbourhood(db(), name, **args).to_dict()
    return respond("lineage.html", listing, graph_svg=draw(graph), graph_args=args, graph=graph)


@api.get("/impact/<name>")
@bp.get("/impact/<name>")
def impact(name: str) -> Response:
    return respond("listing.html", queries_graph.impact_listing(db(), name),
                   title=f"Impact of source {name}")


@api.get("/closure/<path:name>")
@bp.get("/closure/<path:name>")
def closure(name: str) -> Response:
    return respond("listing.html", queries_graph.closure_listing(db(), name),
                   title=f"Data dependencies of {name}")
