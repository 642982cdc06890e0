"""The picture of a finding: a feedback loop's cycle drawn as a ring, a correlated cluster with
the feature to keep and the one to drop marked. DOT built here (shapes as on the graph pages),
drawn and cleaned by the app's SVG renderer (`web.graph_render`), inlined into the page.

Every label and tooltip goes through `graphviz.escape`; node identifiers are synthetic, so a
hostile name never reaches DOT syntax.
"""

from __future__ import annotations

from typing import Any, cast

import graphviz
from markupsafe import Markup, escape

from .filters import object_url
from .graph_dot import EDGE_STYLE, SHAPES, TYPE_FILL
from .graph_render import GraphRenderError
from .graphs import renderer

ROLE_STYLE = {"keep": {"color": "#16a34a", "penwidth": "2.6", "xlabel": "keep"},
              "drop": {"color": "#b91c1c", "penwidth": "2.6", "xlabel": "drop"}}
LOOP_EDGE = {"color": "#7c3aed", "penwidth": "2.2"}


def _text(value: str) -> str:
    return cast(str, graphviz.escape(value))


def picture_dot(picture: dict[str, Any]) -> str:
    """The DOT source of a finding picture (`registry.read.finding_detail.finding_picture`)."""
    cycle = picture["kind"] == "cycle"
    dot = graphviz.Digraph(
        "finding",
        graph_attr={"bgcolor": "transparent", "fontname": "Helvetica", "rankdir": "LR",
                    "nodesep": "0.5", "mindist": "0.6" if cycle else "1"},
        node_attr={"fontname": "Helvetica", "fontsize": "12", "margin": "0.14,0.06"},
        edge_attr={"arrowsize": "0.7", "fontname": "Helvetica", "fontsize": "11"})
    ids = {node["id"]: f"n{i}" for i, node in enumerate(picture["nodes"])}
    for node in picture["nodes"]:
        shape, style = SHAPES.get(node["type"], ("box", "filled"))
        attrs = {"label": _text(node["name"]), "shape": shape, "style": style,
                 "fillcolor": TYPE_FILL.get(node["type"], "#ffffff"), "color": "#475569",
                 "tooltip": _text(f"{node['type']} {node['name']}"),
                 "URL": _text(object_url(node["type"], node["name"])), "target": "_top"}
        if node.get("subject"):
            attrs.update(penwidth="2.6", color="#7c3aed", fontname="Helvetica-Bold")
        attrs.update(ROLE_STYLE.get(node.get("role") or "", {}))
        dot.node(ids[node["id"]], **attrs)
    for edge in picture["edges"]:
        if edge["from"] not in ids or edge["to"] not in ids:
            continue
        edge_style = dict(LOOP_EDGE if cycle else {"dir": "none", "color": "#64748b"})
        if edge["kind"] == "undeclared":
            edge_style.update(EDGE_STYLE["undeclared"])
        label = edge.get("label") or ("undeclared read" if edge["kind"] == "undeclared"
                                      else edge["kind"])
        dot.edge(ids[edge["from"]], ids[edge["to"]], label=_text(label),
                 tooltip=_text(f"{edge['kind']}: {edge['from']} → {edge['to']}"), **edge_style)
    return str(dot.source)


def draw_picture(picture: dict[str, Any] | None) -> Markup | None:
    """The picture as inline SVG (a ring for a cycle), or a notice when Graphviz fails."""
    if not picture or not picture["nodes"]:
        return None
    engine = "circo" if picture["kind"] == "cycle" and len(picture["nodes"]) > 2 else "dot"
    try:
        svg = renderer().render(picture_dot(picture), engine)
    except GraphRenderError as exc:
        return Markup('<p class="warning">The picture could not be drawn: {}</p>').format(
            escape(str(exc)))
    return Markup(svg)  # cleaned by graph_render.clean_svg; every label escaped above
