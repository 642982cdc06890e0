"""Source, consumer (and observed principal), configuration diff, teams — with JSON twins."""

from __future__ import annotations

from flask import Blueprint, Response, request

from registry.read import graph as queries_graph
from registry.read import lists as queries
from registry.read.common import clamp_int
from registry.read.detail import (
    consumer_config_diff,
    consumer_detail,
    source_detail,
    team_detail,
)
from registry.read.health import data_health
from registry.read.lists import catalog_version
from registry.read.team_usage import undeclared_reads

from .graphs import draw, graph_args
from .support import API_PREFIX, db, memo, respond
from .views_lists import refresh_period

bp = Blueprint("objects", __name__)
api = Blueprint("objects_api", __name__, url_prefix=API_PREFIX)


def _wants_svg() -> bool:
    return request.args.get("format") != "json"


@bp.get("/sources/<name>")
@api.get("/sources/<name>")
def source(name: str) -> Response:
    session = db()
    detail = source_detail(session, name)
    args = graph_args(default_depth=3, default_direction="downstream")
    graph = queries_graph.neighbourhood(session, name, node_type="source", **args).to_dict()
    return respond("source.html", {**detail, "graph": graph}, graph_args=args,
                   graph_svg=draw(graph) if _wants_svg() else None)


@bp.get("/data-health")
@api.get("/data-health")
def health() -> Response:
    """Unstable features, stale sources and unready consumers, by team."""
    return respond("data_health.html", data_health(db()))


@bp.get("/consumers/<path:name>")
@api.get("/consumers/<path:name>")
def consumer(name: str) -> Response:
    session = db()
    detail = consumer_detail(session, name)
    args = graph_args(default_depth=2, default_direction="upstream")
    graph: dict[str, object] = {"nodes": [], "edges": []}
    if detail["registered"]:
        graph = queries_graph.neighbourhood(session, name, node_type="consumer",
                                            **args).to_dict()
    return respond("consumer.html", {**detail, "graph": graph}, graph_args=args,
                   graph_svg=draw(graph) if _wants_svg() and detail["registered"] else None)


@bp.get("/consumers/<path:name>/changes")
@api.get("/consumers/<path:name>/changes")
def consumer_changes(name: str) -> Response:
    before = request.args.get("before")
    after = request.args.get("after")
    diff = consumer_config_diff(
        db(), name, before=clamp_int(before, 0, 0, 2**62) if before else None,
        after=clamp_int(after, 0, 0, 2**62) if after else None)
    return respond("consumer_changes.html", diff)


@bp.get("/teams")
@api.get("/teams")
def teams() -> Response:
    return respond("teams.html", queries.teams_list(db()))


@bp.get("/teams/<name>")
@api.get("/teams/<name>")
def team(name: str) -> Response:
    """A team, with who reads its features without declaring them (kept per team until the
    next change set, at most REFRESH_SECONDS)."""
    session = db()
    detail = team_detail(session, name)
    version = (catalog_version(session), refresh_period())
    undeclared = memo(f"undeclared_reads:{name}", version,
                      lambda: undeclared_reads(session, name))
    return respond("team.html", {**detail, "undeclared_reads": undeclared})
