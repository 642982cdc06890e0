"""Charts as inline SVG, for the web pages and the weekly report: matplotlib (object API only:
no pyplot state, no backend switch) and, for the report's graph snippets, Graphviz ``dot``.

matplotlib's rc settings are process-wide and a web worker draws on several threads (and may
run the scheduler's weekly report meanwhile), so every figure is drawn and saved by `_draw`,
under one lock, in its style. Output is deterministic (fixed SVG hash salt, no date stamp): the
same data gives the same SVG, and the pages' charts are cached by their data. When ``dot`` is
not installed a graph snippet is left out (None), never an error.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

import graphviz
import matplotlib
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from registry.reports.graphs import GraphSnippet

__all__ = ["importance_chart", "snippet_svg", "trend_svg", "usage_chart", "usage_svg"]

SVG_STYLE: dict[Any, Any] = {"svg.hashsalt": "featreg", "svg.fonttype": "none"}
PAGE_STYLE: dict[Any, Any] = {
    **SVG_STYLE, "font.size": 11, "font.family": "DejaVu Sans", "axes.spines.top": False,
    "axes.spines.right": False, "axes.edgecolor": "#94a3b8", "axes.grid": True,
    "grid.color": "#e2e8f0", "legend.frameon": False, "legend.fontsize": 11}
REPORT_STYLE: dict[Any, Any] = {**SVG_STYLE, "font.size": 11}
"""Every chart's text is at least 11 units high (11 px where the chart is shown at its size)."""
TOP_READERS = 6
DECLARED_COLOURS = ["#2563eb", "#16a34a", "#0e7490", "#7c3aed", "#64748b", "#ca8a04"]
UNDECLARED_COLOURS = ["#dc2626", "#f97316", "#be123c", "#fb7185", "#b45309", "#e11d48"]
SHAPES = {"source": "cylinder", "feature": "box", "consumer": "ellipse"}
FILLS = {"subject": "#fde2e1", "keep": "#dcf3dc", "undeclared": "#fff4d6", "context": "#ffffff"}
_lock = threading.Lock()  # matplotlib's rc settings are process-wide


def _strip_prolog(svg: str) -> str:
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else svg


def _draw(size: tuple[float, float], style: Mapping[Any, Any], draw: Callable[[Figure], None],
          *, tight: bool = False) -> str:
    """A figure of `size` inches drawn by `draw`, as SVG text; `style` holds for the whole
    drawing and saving, and no other figure is drawn meanwhile. `tight`: cropped to what was
    drawn (else the figure's own size)."""
    buffer = io.StringIO()
    with _lock, matplotlib.rc_context(dict(style)):
        figure = Figure(figsize=size)
        draw(figure)
        figure.savefig(buffer, format="svg", metadata={"Date": None},
                       bbox_inches="tight" if tight else None)
    return _strip_prolog(buffer.getvalue())


def _date_axis(axes: Axes) -> None:
    locator = AutoDateLocator()
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))


# ----- web pages: a feature's reads and importance over time ---------------------------------


def _empty(message: str) -> str:
    def draw(figure: Figure) -> None:
        figure.text(0.5, 0.5, message, ha="center", va="center", color="#64748b")

    return _draw((7.2, 1.2), PAGE_STYLE, draw, tight=True)


def usage_chart(series: list[dict[str, Any]], undeclared: Iterable[str] = ()) -> str:
    """Daily reads per principal as stacked areas; undeclared readers in warm colours."""
    return _usage_chart(json.dumps(series, sort_keys=True), tuple(sorted(set(undeclared))))


@lru_cache(maxsize=256)
def _usage_chart(series_json: str, undeclared: tuple[str, ...]) -> str:
    rows = json.loads(series_json)
    if not rows:
        return _empty("No reads observed yet")
    frame = pd.DataFrame(rows)
    frame["day"] = pd.to_datetime(frame["day"])
    table = frame.pivot_table(index="day", columns="principal", values="reads", aggfunc="sum",
                              fill_value=0)
    table = table.reindex(pd.date_range(table.index.min(), table.index.max(), freq="D"),
                          fill_value=0)
    totals = table.sum().sort_values(ascending=False, kind="stable")
    top = list(totals.index[:TOP_READERS])
    if len(totals) > TOP_READERS:
        table["others"] = table.drop(columns=top).sum(axis=1)
        top.append("others")
    table = table[top]
    colours, labels = [], []
    declared_i = undeclared_i = 0
    for name in top:
        if name in undeclared:
            colours.append(UNDECLARED_COLOURS[undeclared_i % len(UNDECLARED_COLOURS)])
            undeclared_i += 1
            labels.append(f"{name} (undeclared)")
        else:
            colours.append(DECLARED_COLOURS[declared_i % len(DECLARED_COLOURS)])
            declared_i += 1
            labels.append(name)

    def draw(figure: Figure) -> None:
        axes = figure.add_subplot()
        axes.stackplot(table.index.to_pydatetime(), table.T.to_numpy(), labels=labels,
                       colors=colours, alpha=0.85, step="mid" if len(table) < 40 else None)
        _date_axis(axes)
        axes.set_ylabel("reads per day")
        axes.set_ylim(bottom=0)
        axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))

    return _draw((7.2, 2.6), PAGE_STYLE, draw, tight=True)


def importance_chart(series: list[dict[str, Any]], threshold: float = 0.01) -> str:
    """Importance share per consumer over time, with the epsilon threshold as a dashed line."""
    return _importance_chart(json.dumps(series, sort_keys=True), threshold)


@lru_cache(maxsize=256)
def _importance_chart(series_json: str, threshold: float) -> str:
    rows = json.loads(series_json)
    if not rows:
        return _empty("No importance reported or computed yet")
    frame = pd.DataFrame(rows)
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True).dt.tz_localize(None)
    use_share = frame["share"].notna().any()

    def draw(figure: Figure) -> None:
        axes = figure.add_subplot()
        for i, (consumer, group) in enumerate(frame.sort_values("ts").groupby("consumer")):
            values = group["share"] if use_share else group["value"]
            axes.plot(group["ts"].dt.to_pydatetime(), values.to_numpy(), marker="o",
                      markersize=3.5, linewidth=1.5, label=str(consumer),
                      color=DECLARED_COLOURS[i % len(DECLARED_COLOURS)])
        if use_share:
            axes.axhline(threshold, color="#dc2626", linestyle="--", linewidth=1,
                         label=f"{threshold:.0%} threshold")
            axes.yaxis.set_major_formatter(PercentFormatter(1.0))
            axes.set_ylabel("share of importance")
        else:
            axes.set_ylabel("importance")
        axes.set_ylim(bottom=0)
        _date_axis(axes)
        axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))

    return _draw((7.2, 2.6), PAGE_STYLE, draw, tight=True)


# ----- weekly report: graph snippets, daily reads, open findings per week ---------------------


def snippet_svg(snippet: GraphSnippet | None) -> str | None:
    """A small left-to-right dependency graph; the subject red, the feature to keep green,
    undeclared readers yellow with a dashed edge."""
    if not snippet or not snippet.get("nodes"):
        return None
    dot = graphviz.Digraph(graph_attr={"rankdir": "LR", "bgcolor": "transparent",
                                       "nodesep": "0.15", "ranksep": "0.3"},
                           node_attr={"fontname": "Helvetica", "fontsize": "11",
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


def usage_svg(daily: Sequence[Sequence[Any]], *, end: date, days: int) -> str:
    """Daily reads over the ``days`` days ending with ``end`` (missing days are zero)."""
    counts = {str(day): int(reads) for day, reads in daily}
    axis = [end - timedelta(days=offset) for offset in range(days - 1, -1, -1)]
    values = [counts.get(day.isoformat(), 0) for day in axis]

    def draw(figure: Figure) -> None:
        ax = figure.add_subplot()
        ax.bar(range(days), values, width=0.9, color="#c0392b")
        ax.set_xticks([0, days - 1], [axis[0].isoformat(), axis[-1].isoformat()])
        ax.set_ylabel("reads/day")
        ax.spines[["top", "right"]].set_visible(False)
        ax.margins(x=0.01)
        figure.subplots_adjust(left=0.16, right=0.86, bottom=0.24, top=0.94)

    return _draw((4.4, 1.3), REPORT_STYLE, draw)


def trend_svg(trend: Sequence[dict[str, Any]]) -> str | None:
    """Open findings per kind over the trend's weeks (one line per kind that occurs)."""
    kinds = sorted({kind for row in trend for kind, n in row["open_by_kind"].items() if n})
    if not kinds:
        return None

    def draw(figure: Figure) -> None:
        ax = figure.add_subplot()
        weeks = [row["week"][-3:] for row in trend]
        for kind in kinds:
            ax.plot(weeks, [row["open_by_kind"].get(kind, 0) for row in trend], marker="o",
                    markersize=2.5, linewidth=1.2, label=kind)
        ax.set_ylabel("open findings")
        ax.set_ylim(bottom=0)
        ax.spines[["top", "right"]].set_visible(False)
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False, fontsize=11)
        figure.subplots_adjust(left=0.09, right=0.72, bottom=0.16, top=0.95)

    return _draw((7.2, 2.6), REPORT_STYLE, draw)
