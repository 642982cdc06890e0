"""The org-wide summary on top of the weekly report: teams ranked by open debt and the ten
actions with the largest expected payoff (pure: `ReportInput` and team reports in)."""

from __future__ import annotations

from typing import Any

from registry.reports.build import (
    candidate_sort_key,
    changes_of,
    report_header,
    totals_of,
    trend_of,
)
from registry.reports.collect import ReportInput

__all__ = ["TOP_ACTIONS", "build_org_report"]

TOP_ACTIONS = 10


def _ranking(inp: ReportInput, teams: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = [{"team": t["team"], "contact": t["contact"], "open": t["totals"]["open"],
             "debt_score": t["totals"]["debt_score"], "open_by_kind": t["totals"]["open_by_kind"],
             "by_severity": t["totals"]["by_severity"], "candidates": len(t["candidates"]),
             "deprecated_in_use": sum(1 for d in t["deprecated"] if d["readers"])}
            for t in teams]
    rows.sort(key=lambda r: (-r["debt_score"], -r["open"], r["team"]))
    return rows


def _change(trend: list[dict[str, Any]]) -> dict[str, int]:
    current = trend[-1]["open_by_kind"]
    previous = trend[-2]["open_by_kind"] if len(trend) > 1 else {}
    return {k: current.get(k, 0) - previous.get(k, 0)
            for k in sorted(set(current) | set(previous))}


def build_org_report(inp: ReportInput, teams: list[dict[str, Any]]) -> dict[str, Any]:
    """The org report: summary (ranking, top actions, totals, trend, changes) and every team."""
    totals = totals_of(inp, None)
    unowned = [f for f in inp.findings if f["owner"] is None and f["status"] != "resolved"]
    actions = sorted((a for t in teams for a in t["candidates"] + t["source_actions"]),
                     key=candidate_sort_key)
    trend = trend_of(inp, None, totals["open_by_kind"])
    return {
        "kind": "org", **report_header(inp),
        "ranking": _ranking(inp, teams),
        "unowned": [{"id": f["id"], "kind": f["kind"], "subject": f["subject"],
                     "severity": f["severity"], "summary": f["summary"]} for f in unowned],
        "top_actions": [{key: value for key, value in c.items() if key != "graph"}
                        for c in actions[:TOP_ACTIONS]],
        "totals": totals,
        "change_by_kind": _change(trend),
        "trend": trend,
        "changes": changes_of(inp, None),
        "teams": teams,
    }
