"""A finding's evidence laid out for reading: facts and tables of rounded, labelled values.

`evidence_layout(finding)` turns the raw evidence (what the JSON API returns unchanged) into
``{"facts": [{label, value}], "tables": [{title, columns, numeric, rows}]}`` where every value
is a *cell*: ``{"text": ...}``, a link ``{"text", "type", "name"}`` to a catalog object, or a
list of cells. Numbers are rounded by what they are (shares as percentages, correlations to
three decimals, durations in days and hours), booleans read yes/no, times are dates, and names
link to their pages. Each kind lists its fields in reading order with a title for each; a field
no kind names (a newer detector's) still gets a readable cell or table. Pure: no database.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from registry.findings.explain import percent

Cell = dict[str, Any] | list[dict[str, Any]]

PERCENT_KEYS = {"share", "max_share", "share_threshold", "null_fraction", "shares",
                "member_max_shares", "cluster_shares"}
CORRELATION_KEYS = {"pearson", "spearman", "correlation_threshold", "before", "after"}
SECONDS_KEYS = {"freshness_seconds", "age_seconds", "overdue_seconds"}
LINK_KEYS = {  # a field (or a table's key column) whose values name a catalog object
    "feature": "feature", "keeper": "feature", "replacement": "feature", "members": "feature",
    "valuable_members": "feature", "cluster": "feature", "chain": "feature",
    "correlated_cluster": "feature", "superseded_by": "feature", "a": "feature",
    "b": "feature", "member_max_shares": "feature", "features": "feature",
    "candidates": "feature", "declared": "feature", "reads": "feature",
    "consumer": "consumer", "principal": "consumer", "declared_by": "consumer",
    "consumers": "consumer", "production_consumers": "consumer", "noise_as_zero": "consumer",
    "shares": "consumer", "cluster_shares": "consumer", "readers": "consumer",
    "name": "consumer", "source": "source", "not_assessed": "source", "below": "source",
    "owner": "team",
}
VALUE_COLUMNS = {"shares": "importance share", "member_max_shares": "largest importance share",
                 "features": "finding", "cluster_shares": "share of the cluster"}
LABELS = {"max_share": "largest importance share", "n": "rows compared",
          "window_days": "window (days)", "grace_days": "grace (days)",
          "total_reads": "reads in the window", "hops": "lineage hops from a source",
          "reads": "reads", "count": "reads", "declared_by": "declared by",
          "past_sunset": "past its sunset", "reason_text": "why keep it",
          "changeset_size": "features in its change set", "bundle_origin": "bundle from",
          "freshness_seconds": "freshness", "age_seconds": "age of the last update",
          "overdue_seconds": "overdue by", "never_updated": "never updated", "keeper": "keep",
          "a": "feature", "b": "correlated with", "effective": "effective value",
          "words": "what changed", "std": "standard deviation"}


@dataclass(frozen=True)
class KindLayout:
    """How one kind's evidence reads: field order, table titles, fields left out (they say
    again what the page already shows), and fields that are not percentages here."""

    order: tuple[str, ...] = ()
    titles: Mapping[str, str] = field(default_factory=dict)
    hide: frozenset[str] = frozenset()
    plain: frozenset[str] = frozenset()


LAYOUTS: dict[str, KindLayout] = {
    "legacy": KindLayout(
        order=("reason", "last_read", "window_days", "grace_days", "created", "max_share",
               "share_threshold", "declared_by", "superseded_by"),
        titles={"superseded_by": "Newer features that carry its signal"},
        hide=frozenset({"now", "has_importance_evidence"})),
    "bundled": KindLayout(
        order=("bundle", "bundle_origin", "changeset_size", "max_share", "threshold",
               "valuable_members", "member_max_shares", "shares"),
        titles={"member_max_shares": "Bundle members: largest importance share of each",
                "shares": "Its importance share per consumer"},
        hide=frozenset({"members", "changeset"})),
    "epsilon": KindLayout(
        order=("max_share", "threshold", "declared_by", "importance"),
        titles={"importance": "Importance per consumer",
                "cluster_shares": "Its correlated cluster's share per consumer"},
        hide=frozenset({"shares"})),  # the importance table has each consumer's share
    "correlated": KindLayout(
        order=("keeper", "reason_text", "pearson", "spearman", "n", "threshold", "candidates",
               "pairs"),
        titles={"candidates": "The cluster: who is kept", "pairs": "Measured correlations"},
        hide=frozenset({"reason", "cluster", "chain"}), plain=frozenset({"threshold"})),
    "undeclared_consumer": KindLayout(
        order=("registered", "window_days", "declared", "reads"),
        titles={"reads": "Features it read without declaring them"}),
    "feedback_loop": KindLayout(
        order=("hidden", "consumers", "cycle", "other_cycles"),
        titles={"cycle": "The cycle, step by step", "other_cycles": "Other cycles"},
        hide=frozenset({"length"})),
    "deprecated_in_use": KindLayout(
        order=("status", "sunset", "past_sunset", "replacement", "total_reads", "window_days",
               "readers"),
        titles={"readers": "Who still reads it"}),
    "underutilized_source": KindLayout(
        order=("counts", "features"), titles={"features": "Features built on it",
                                              "counts": "Findings of its features"}),
    "unstable_dependency": KindLayout(
        order=("kinds", "previous_snapshot_name", "previous_taken_at", "latest_snapshot_name",
               "latest_taken_at", "expect", "changes", "consumers"),
        titles={"changes": "What changed", "consumers": "Who reads it"},
        hide=frozenset({"latest_snapshot", "previous_snapshot", "production_consumers"})),
    "stale_source": KindLayout(
        order=("freshness", "last_update", "age_seconds", "overdue_seconds", "never_updated",
               "registered", "owner", "consumers", "production_consumers"),
        hide=frozenset({"freshness_seconds"})),
    "unready_dependency": KindLayout(
        order=("stage", "needs", "lowest", "sources", "below", "not_assessed"),
        titles={"below": "Sources below the readiness it needs"}),
}


def _text(value: Any) -> dict[str, Any]:
    return {"text": value}


def _link(kind: str | None, name: Any) -> dict[str, Any]:
    return {"text": str(name), "type": kind, "name": str(name)} if kind else _text(str(name))


def _duration(seconds: float) -> str:
    days, rest = divmod(int(round(seconds)), 86_400)
    hours, rest = divmod(rest, 3600)
    if days:
        return f"{days} day{'s' if days != 1 else ''}" + (f" {hours} h" if hours else "")
    return f"{hours} h {rest // 60} min" if hours else f"{rest // 60} min"


def _number(value: float) -> str:
    if not math.isfinite(value):
        return "—"
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def _is_time(value: str) -> bool:
    return len(value) >= 10 and value[4:5] == "-" and value[7:8] == "-" and value[:4].isdigit()


def format_value(key: str, value: Any, layout: KindLayout = KindLayout()) -> str:
    """One scalar as a person reads it, judged by what its field holds."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        if key in SECONDS_KEYS:
            return _duration(float(value))
        if (key in PERCENT_KEYS or key == "threshold") and key not in layout.plain:
            return percent(float(value))
        if key in CORRELATION_KEYS or key in layout.plain or key in {"psi", "factor"}:
            return f"{value:.3f}" if isinstance(value, float) else str(value)
        return _number(float(value)) if isinstance(value, float) else f"{value:,}"
    text = str(value)
    if _is_time(text):
        return text[:10] if text[10:19] in ("", "T00:00:00") else \
            f"{text[:10]} {text[11:16]} UTC"
    return text


def _label(key: str) -> str:
    return LABELS.get(key, key.replace("_", " "))


def _ref(value: Any) -> bool:
    return isinstance(value, Mapping) and set(value) == {"type", "name"}


def _cell(key: str, value: Any, layout: KindLayout) -> Cell:
    """A value as a cell: a link for a name, a list for a list, short text for the rest."""
    if _ref(value):
        return _link(value["type"], value["name"])
    if isinstance(value, list):
        if not value:
            return _text("none")
        if all(_ref(v) for v in value):
            return [_link(v["type"], v["name"]) for v in value]
        if all(not isinstance(v, Mapping | list) for v in value):
            kind = LINK_KEYS.get(key)
            if kind and all(isinstance(v, str) for v in value):
                return [_link(kind, v) for v in value]
            if len(value) > 12 and all(isinstance(v, int | float) for v in value):
                return _text(f"{len(value)} values from {format_value(key, min(value), layout)}"
                             f" to {format_value(key, max(value), layout)}")
            return _text(", ".join(format_value(key, v, layout) for v in value))
        return _text("; ".join(_inline(key, v, layout) for v in value))
    if isinstance(value, Mapping):
        return _text(_inline(key, value, layout))
    if isinstance(value, str) and key in LINK_KEYS:
        return _link(LINK_KEYS[key], value)
    return _text(format_value(key, value, layout))


def _inline(key: str, value: Any, layout: KindLayout) -> str:
    """A nested value as one short line of text (inside a table cell)."""
    if isinstance(value, Mapping):
        if _ref(value):
            return str(value["name"])
        return ", ".join(f"{_label(k)} {_inline(k, v, layout)}" for k, v in value.items()
                         if v is not None and not isinstance(v, list) or
                         isinstance(v, list) and len(v) <= 12)
    if isinstance(value, list):
        return ", ".join(_inline(key, v, layout) for v in value) or "none"
    return format_value(key, value, layout)


def _table(key: str, value: Any, layout: KindLayout) -> dict[str, Any] | None:
    """A list of records, or a mapping of names to values or records, as a table (None: the
    value reads better as one fact)."""
    title = layout.titles.get(key, _label(key)[:1].upper() + _label(key)[1:])
    if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value) \
            and not all(_ref(v) for v in value):
        columns: list[str] = []
        for record in value:
            columns += [k for k in record if k not in columns and k != "words"
                        and any(r.get(k) is not None for r in value)]
        if any("words" in r for r in value):
            columns.insert(1 if columns else 0, "words")
        rows = [[_cell(c, r.get(c), layout) for c in columns] for r in value]
        return _rows_table(title, columns, rows, value)
    if isinstance(value, list) and value and all(_ref(v) for v in value):
        rows = [[_text(str(i)), _text(v["type"]), _link(v["type"], v["name"])]
                for i, v in enumerate(value, start=1)]
        return {"title": title, "columns": ["step", "type", "name"],
                "numeric": [True, False, False], "rows": rows}
    if isinstance(value, list) and value and all(isinstance(v, list) for v in value):
        rows = [[_text(" → ".join(_inline(key, n, layout) for n in [*v, v[0]]))] for v in value
                if v]
        return {"title": title, "columns": ["cycle"], "numeric": [False], "rows": rows}
    if isinstance(value, Mapping) and key in LINK_KEYS:
        kind = LINK_KEYS[key]
        if all(isinstance(v, Mapping) for v in value.values()):
            inner: list[str] = []
            for record in value.values():
                inner += [k for k in record if k not in inner]
            rows = [[_link(kind, name), *[_cell(c, record.get(c), layout) for c in inner]]
                    for name, record in value.items()]
            return _rows_table(title, [kind, *inner], rows, None)
        rows = [[_link(kind, name), _text(_inline(key, v, layout))] for name, v in value.items()]
        numeric = all(isinstance(v, int | float) for v in value.values())
        return {"title": title, "columns": [kind, VALUE_COLUMNS.get(key, "value")],
                "numeric": [False, numeric], "rows": rows}
    return None


def _rows_table(title: str, columns: list[str], rows: list[list[Cell]],
                records: list[Any] | None) -> dict[str, Any]:
    numeric = [all(isinstance(r.get(c), int | float) and not isinstance(r.get(c), bool)
                   for r in records if r.get(c) is not None) if records else i > 0
               for i, c in enumerate(columns)]
    return {"title": title, "columns": [_label(c) for c in columns], "numeric": numeric,
            "rows": rows}


def evidence_layout(finding: Mapping[str, Any]) -> dict[str, Any]:
    """The evidence of a finding (the JSON shape of DESIGN.md) as facts and tables."""
    layout = LAYOUTS.get(finding["kind"], KindLayout())
    evidence: Mapping[str, Any] = finding.get("evidence") or {}
    keys = [k for k in layout.order if k in evidence]
    keys += sorted(k for k in evidence if k not in keys)
    facts: list[dict[str, Any]] = []
    tables: list[dict[str, Any]] = []
    for key in keys:
        value = evidence[key]
        if key in layout.hide or value is None or value == [] or value == {}:
            continue
        table = _table(key, value, layout)
        if table is not None:
            tables.append(table)
        else:
            facts.append({"label": _label(key), "value": _cell(key, value, layout)})
    return {"facts": facts, "tables": tables}
