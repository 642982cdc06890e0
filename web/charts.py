"""Small server-side charts (matplotlib, SVG): reads of a feature over time, and its importance
share per consumer over time. The same data gives the same SVG (fixed hash salt, no date
stamp), and rendered charts are cached by their data."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import matplotlib
import pandas as pd
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

TOP_READERS = 6
DECLARED_COLOURS = ["#2563eb", "#16a34a", "#0e7490", "#7c3aed", "#64748b", "#ca8a04"]
UNDECLARED_COLOURS = ["#dc2626", "#f97316", "#be123c", "#fb7185", "#b45309", "#e11d48"]
STYLE: dict[Any, Any] = {"svg.hashsalt": "featreg", "svg.fonttype": "none", "font.size": 9,
         "font.family": "DejaVu Sans", "axes.spines.top": False, "axes.spines.right": False,
         "axes.edgecolor": "#94a3b8", "axes.grid": True, "grid.color": "#e2e8f0",
         "legend.frameon": False, "legend.fontsize": 8}
_lock = threading.Lock()  # matplotlib's rc settings are process-wide


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def _empty(message: str) -> str:
    with _lock, matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(7.2, 1.2))
        figure.text(0.5, 0.5, message, ha="center", va="center", color="#64748b")
        return _svg(figure)


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
    with _lock, matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(7.2, 2.6))
        axes = figure.add_subplot()
        axes.stackplot(table.index.to_pydatetime(), table.T.to_numpy(), labels=labels,
                       colors=colours, alpha=0.85, step="mid" if len(table) < 40 else None)
        locator = AutoDateLocator()
        axes.xaxis.set_major_locator(locator)
        axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        axes.set_ylabel("reads per day")
        axes.set_ylim(bottom=0)
        axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
        return _svg(figure)


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
    with _lock, matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(7.2, 2.6))
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
        locator = AutoDateLocator()
        axes.xaxis.set_major_locator(locator)
        axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
        return _svg(figure)
