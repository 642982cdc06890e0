"""Drawing graph values in views: DOT → cached, cleaned SVG, ready to inline in a page."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from flask import current_app, request
from markupsafe import Markup, escape

from registry.analysis.graph import DIRECTIONS
from registry.read.common import clamp_int

from .filters import object_url
from .graph_dot import build_dot
from .graph_render import GraphRenderError, SvgRenderer, choose_engine

MAX_DEPTH = 8
SPRING_FROM = 40
"""The explorer lays out graphs of more nodes than this with `sfdp` (teams side by side, an
aspect near the screen's), smaller ones in layers with `dot`."""


def renderer() -> SvgRenderer:
    svg: SvgRenderer = current_app.extensions["featreg_svg"]
    return svg


def explorer_engine(graph: dict[str, Any]) -> str:
    """The layout engine of an explorer graph (see SPRING_FROM)."""
    if len(graph["nodes"]) > SPRING_FROM:
        return "sfdp"
    return choose_engine(len(graph["nodes"]), len(graph["edges"]))


def graph_dot(graph: dict[str, Any], *, cluster_by_owner: bool = True, engine: str = "dot"
              ) -> str:
    """The DOT source of a graph value (kept for graphs drawn recently)."""
    content = json.dumps(graph, sort_keys=True, separators=(",", ":"))
    return _dot_source(content, cluster_by_owner, request.script_root, engine == "sfdp")


@lru_cache(maxsize=1024)
def _dot_source(content: str, cluster_by_owner: bool, script_root: str, spring: bool) -> str:
    # script_root is part of the key: object_url prefixes every link with it
    return build_dot(json.loads(content), object_url, cluster_by_owner=cluster_by_owner,
                     spring=spring)


def draw(graph: dict[str, Any], *, cluster_by_owner: bool = True, engine: str | None = None
         ) -> Markup:
    """The graph as inline SVG markup (or a short notice when it cannot be drawn)."""
    if not graph["nodes"]:
        return Markup('<p class="muted">Nothing to draw.</p>')
    engine = engine or choose_engine(len(graph["nodes"]), len(graph["edges"]))
    try:
        svg = renderer().render(graph_dot(graph, cluster_by_owner=cluster_by_owner,
                                          engine=engine), engine)
    except GraphRenderError as exc:
        return Markup('<p class="warning">The graph could not be drawn: {}</p>').format(
            escape(str(exc)))
    return Markup(svg)  # cleaned by graph_render.clean_svg; every label escaped by graph_dot


def graph_args(default_depth: int = 2, default_direction: str = "both") -> dict[str, Any]:
    """depth, direction and limit of a graph from the URL, clamped to what we draw."""
    direction = request.args.get("direction", default_direction)
    limit_cap = int(current_app.config["GRAPH_NODE_LIMIT"])
    return {
        "depth": clamp_int(request.args.get("depth"), default_depth, 1, MAX_DEPTH),
        "direction": direction if direction in DIRECTIONS else default_direction,
        "limit": clamp_int(request.args.get("limit"), min(150, limit_cap), 10, limit_cap),
    }
