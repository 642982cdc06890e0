"""Inline SVG for the HTML report: graph snippets (Graphviz ``dot``) and small charts
(matplotlib, object API only: no pyplot state, no backend switch).

Output is deterministic (fixed SVG ids, no dates) so the same content renders to the same page.
When ``dot`` is not installed a snippet is left out (None), never an error.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import graphviz
import matplotlib
from matplotlib.figure import Figure

from registry.reports.graphs import GraphSnippet

__all__ = ["snippet_svg", "trend_svg", "usage_svg"]

SHAPES = {"source": "cylinder", "feature": "box", "consumer": "ellipse"}
FILLS = {"subject": "#fde2e1", "keep": "#dcf3dc", "undeclared": "#fff4d6", "context": "#ffffff"}
SVG_STYLE: dict[Any, Any] = {"svg.hashsalt": "featreg", "svg.fonttype": "none", "font.size": 7}


def _strip_prolog(svg: str) -> str:
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else svg


def snippet_svg(snippet: GraphSnippet | None) -> str | None:
    """A small left-to-right dependency graph; the subject red, the feature to keep green,
    undeclared readers yellow with a dashed edge."""
    if not snippet or not snippet.get("nodes"):
        return None
    dot = graphviz.Digraph(graph_attr={"rankdir": "LR", "bgcolor": "transparent",
                                       "nodesep": "0.15", "ranksep": "0.3"},
                           node_attr={"fontname": "Helvetica", "fontsize": "9",
                                      "style": "filled", "height": "0.3", "margin": "0.06,0.02"},
                           edge_attr={"arrowsize": "0.6", "color": "#666666"})
    ids = {node["id"]: f"n{index}" for index, node in enumerate(snippet["nodes"])}
    for node in snippet["nodes"]:
        dot.node(ids[node["id"]], label=graphviz.escape(node["name"]),
                 shape=SHAPES.get(node["type"], "ellipse"),
                 fillcolor=FILLS.get(node["role"], "#ffffff"),
                 tooltip=graphviz.escape(f"{node['type']} {node['name']}"))
    for edge in snippet["edges"]:
        style = {"style": "dashed", "color": "#c0392b"} if edge["style"] == "undeclared" else {}
        if edge["source"] in ids and edge["target"] in ids:
            dot.edge(ids[edge["source"]], ids[edge["target"]], **style)
    try:
        return _strip_prolog(dot.pipe(format="svg", encoding="utf-8"))
    except (graphviz.ExecutableNotFound, graphviz.CalledProcessError):
        return None


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    with matplotlib.rc_context(SVG_STYLE):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    return _strip_prolog(buffer.getvalue())


def usage_svg(daily: Sequence[Sequence[Any]], *, end: date, days: int) -> str:
    """Daily reads over the ``days`` days ending with ``end`` (missing days are zero)."""
    counts = {str(day): int(reads) for day, reads in daily}
    axis = [end - timedelta(days=offset) for offset in range(days - 1, -1, -1)]
    values = [counts.get(day.isoformat(), 0) for day in axis]
    with matplotlib.rc_context(SVG_STYLE):
        figure = Figure(figsize=(3.6, 0.9))
        ax = figure.add_subplot()
        ax.bar(range(days), values, width=0.9, color="#c0392b")
        ax.set_xticks([0, days - 1], [axis[0].isoformat(), axis[-1].isoformat()])
        ax.set_ylabel("reads/day")
        ax.spines[["top", "right"]].set_visible(False)
        ax.margins(x=0.01)
        figure.subplots_adjust(left=0.16, right=0.86, bottom=0.24, top=0.94)
    return _svg(figure)


def trend_svg(trend: Sequence[dict[str, Any]]) -> str | None:
    """Open findings per kind over the trend's weeks (one line per kind that occurs)."""
    kinds = sorted({kind for row in trend for kind, n in row["open_by_kind"].items() if n})
    if not kinds:
        return None
    with matplotlib.rc_context(SVG_STYLE):
        figure = Figure(figsize=(5.2, 1.6))
        ax = figure.add_subplot()
        weeks = [row["week"][-3:] for row in trend]
        for kind in kinds:
            ax.plot(weeks, [row["open_by_kind"].get(kind, 0) for row in trend], marker="o",
                    markersize=2.5, linewidth=1.2, label=kind)
        ax.set_ylabel("open findings")
        ax.set_ylim(bottom=0)
        ax.spines[["top", "right"]].set_visible(False)
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False, fontsize=6)
        figure.subplots_adjust(left=0.09, right=0.72, bottom=0.16, top=0.95)
    return _svg(figure)
