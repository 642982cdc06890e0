"""What comparisons of a feature between two snapshots need, and the comparisons (pure).

`profile_column` summarises one column of a snapshot as a JSON-safe *profile*: rows, null
fraction, distinct count, and

* numeric columns (booleans as 0/1): a quantile sketch (`SKETCH` = 101 percentiles, so the
  deciles and any cumulative share can be read from it), the standard deviation and the median
  of absolute values (the scale), min and max;
* categories (text, and numbers with few distinct values): each value's share, when there are
  at most `MAX_CATEGORIES` distinct values (``categories_complete``), else the top ones.

`compare_profiles` names the changes of DESIGN.md's unstable_dependency between a previous and
a latest profile: scale, shift (PSI over the previous deciles), nulls, constant, categories;
`expect_breaks` checks a profile against a feature's ``expect``. Every change is a dict with
``kind``, its figures and ``words`` (one phrase for people).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from registry.analysis.column_stats import as_float_array, column_kind
from registry.core.settings import AnalysisSettings as Settings

__all__ = [
    "DEFAULT_THRESHOLDS",
    "MAX_CATEGORIES",
    "SKETCH",
    "Thresholds",
    "cdf",
    "compare_profiles",
    "expect_breaks",
    "profile_column",
    "psi",
]

SKETCH = 101
PROBS = np.linspace(0.0, 1.0, SKETCH)
MAX_CATEGORIES = 1000
SMALL_NUMERIC_DISTINCT = 50
"""A numeric column with at most this many distinct values also keeps its values' shares."""
PSI_FLOOR = 1e-4


@dataclass(frozen=True)
class Thresholds:
    """DESIGN.md's figures for `unstable_dependency`; configurable through the analysis
    settings (`from_settings`), these defaults otherwise."""

    scale_up: float = 5.0
    scale_down: float = 0.2
    psi: float = 0.25
    nulls_up: float = 0.10
    new_categories: float = 0.20
    corr_strong: float = 0.95
    corr_broken: float = 0.5
    expect_outside: float = 0.01
    min_rows: int = 30
    """Fewer non-null values than this on either side: no distribution comparison."""

    @classmethod
    def from_settings(cls, settings: Settings) -> Thresholds:
        ratio = float(settings.unstable_scale_ratio)
        return cls(scale_up=ratio, scale_down=1.0 / ratio, psi=float(settings.unstable_psi),
                   nulls_up=float(settings.unstable_null_increase),
                   new_categories=float(settings.unstable_new_categories),
                   corr_strong=float(settings.unstable_correlation_was),
                   corr_broken=float(settings.unstable_correlation_now),
                   expect_outside=float(settings.expect_outside_share),
                   min_rows=int(settings.unstable_min_rows))


DEFAULT_THRESHOLDS = Thresholds()


def _num(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _shares(series: pd.Series, limit: int) -> tuple[dict[str, float], bool]:
    counts = series.astype(str).value_counts(sort=True)
    total = float(counts.sum()) or 1.0
    complete = len(counts) <= limit
    top = counts.iloc[:limit]
    return {str(k): float(v) / total for k, v in top.items()}, complete


def profile_column(series: pd.Series) -> dict[str, Any]:
    """The profile of one column (see the module docstring)."""
    rows = len(series)
    kind = column_kind(series)
    present = series.dropna()
    profile: dict[str, Any] = {
        "version": 1, "rows": rows, "count": int(len(present)),
        "null_fraction": float(1 - len(present) / rows) if rows else 0.0,
    }
    if kind in ("numeric", "boolean"):
        values = as_float_array(series)
        values = values[np.isfinite(values)]
        profile["kind"] = "numeric"
        profile["distinct"] = int(len(np.unique(values)))
        if len(values):
            profile["sketch"] = [float(v) for v in np.quantile(values, PROBS)]
            profile["std"] = _num(values.std(ddof=1)) if len(values) > 1 else 0.0
            profile["median_abs"] = float(np.median(np.abs(values)))
            profile["mean_abs"] = float(np.mean(np.abs(values)))
            profile["min"], profile["max"] = float(values.min()), float(values.max())
        if profile["distinct"] <= SMALL_NUMERIC_DISTINCT:
            shares, _ = _shares(pd.Series(values).map(_number_text), MAX_CATEGORIES)
            profile["categories"], profile["categories_complete"] = shares, True
    else:
        profile["kind"] = "categorical" if kind == "categorical" else kind
        profile["distinct"] = int(present.astype(str).nunique())
        shares, complete = _shares(present, MAX_CATEGORIES)
        profile["categories"], profile["categories_complete"] = shares, complete
    return profile


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def cdf(sketch: list[float], x: float) -> float:
    """Share of values at or below ``x``, read from a quantile sketch (linear in between)."""
    q = sketch
    k = int(np.searchsorted(q, x, side="right"))
    if k == 0:
        return 0.0
    if k >= len(q):
        return 1.0
    lo, hi = q[k - 1], q[k]
    p_lo, p_hi = PROBS[k - 1], PROBS[k]
    if hi <= lo:
        return float(p_hi)
    return float(p_lo + (x - lo) / (hi - lo) * (p_hi - p_lo))


def _bin_shares(sketch: list[float], edges: list[float]) -> np.ndarray:
    cum = [cdf(sketch, e) for e in edges]
    return np.diff([0.0, *cum, 1.0])


def psi(previous: list[float], latest: list[float]) -> tuple[float, list[float]]:
    """Population stability index of the latest sketch over the previous one's deciles
    (bins (-inf, d1], (d1, d2], ..., (d9, inf); repeated deciles merge); and the edges."""
    deciles = [previous[i] for i in range(10, 100, 10)]
    edges = sorted(set(deciles))
    before = np.maximum(_bin_shares(previous, edges), PSI_FLOOR)
    after = np.maximum(_bin_shares(latest, edges), PSI_FLOOR)
    return float(np.sum((after - before) * np.log(after / before))), edges


def _ratio(new: float | None, old: float | None) -> float | None:
    if new is None or old is None or old <= 0 or new < 0:
        return None
    return new / old


def _scale(prev: Mapping[str, Any], new: Mapping[str, Any], t: Thresholds
           ) -> dict[str, Any] | None:
    ratios = {"std": _ratio(new.get("std"), prev.get("std")),
              "median_abs": _ratio(new.get("median_abs"), prev.get("median_abs"))}
    if ratios["median_abs"] is None or ratios["median_abs"] == 0:  # mostly zeros: use the mean
        ratios["mean_abs"] = _ratio(new.get("mean_abs"), prev.get("mean_abs"))
    judged = [r for r in ratios.values() if r is not None and r > 0]
    if not judged:
        return None
    factor = math.exp(sum(math.log(r) for r in judged) / len(judged))
    if not all(r >= t.scale_up for r in judged) and not all(r <= t.scale_down for r in judged):
        return None
    grew = factor >= 1
    shown = f"×{factor:,.0f}" if grew and factor >= 10 else (
        f"×{factor:.3g}" if grew else f"÷{1 / factor:,.3g}")
    unit = " (a unit change?)" if _power_of_ten(factor) else ""
    return {"kind": "scale", "factor": factor, "ratios": ratios,
            "before": {"std": prev.get("std"), "median_abs": prev.get("median_abs")},
            "after": {"std": new.get("std"), "median_abs": new.get("median_abs")},
            "words": f"{'grew' if grew else 'shrank'} {shown}{unit}"}


def _power_of_ten(factor: float) -> bool:
    exponent = math.log10(factor)
    return abs(exponent) >= 1 and abs(exponent - round(exponent)) < 0.05


def compare_profiles(previous: Mapping[str, Any], latest: Mapping[str, Any],
                     t: Thresholds = DEFAULT_THRESHOLDS) -> list[dict[str, Any]]:
    """The changes from ``previous`` to ``latest`` (empty: stable)."""
    changes: list[dict[str, Any]] = []
    before_nulls, after_nulls = previous.get("null_fraction", 0.0), latest.get("null_fraction", 0.0)
    if after_nulls - before_nulls >= t.nulls_up:
        changes.append({"kind": "nulls", "before": before_nulls, "after": after_nulls,
                        "words": f"nulls went from {before_nulls:.1%} to {after_nulls:.1%}"})
    if previous.get("distinct", 0) > 1 and latest.get("count", 0) > 0 \
            and latest.get("distinct") == 1:
        value = next(iter(latest.get("categories") or {}), None)
        if value is None and latest.get("sketch"):
            value = _number_text(latest["sketch"][0])
        changes.append({"kind": "constant", "before_distinct": previous.get("distinct"),
                        "value": value,
                        "words": f"is now constant ({value}); it had "
                                 f"{previous.get('distinct'):,} distinct values"})
        return changes  # one value: scale, shift and categories only restate it
    enough = min(previous.get("count", 0), latest.get("count", 0)) >= t.min_rows
    numeric = previous.get("kind") == latest.get("kind") == "numeric"
    if enough and numeric and previous.get("sketch") and latest.get("sketch"):
        scale = _scale(previous, latest, t)
        if scale is not None:
            changes.append(scale)
        value, edges = psi(previous["sketch"], latest["sketch"])
        if value >= t.psi and scale is None:
            changes.append({"kind": "shift", "psi": value, "deciles": edges,
                            "words": f"its distribution shifted (PSI {value:.2f} over the "
                                     f"previous deciles)"})
    if enough and previous.get("categories_complete") and previous.get("categories") \
            and latest.get("categories") is not None \
            and previous.get("distinct", 0) <= 0.5 * max(previous.get("count", 1), 1):
        known = set(previous["categories"])
        new = {k: v for k, v in latest["categories"].items() if k not in known}
        share = sum(new.values())
        if share >= t.new_categories and not any(c["kind"] == "scale" for c in changes):
            top = sorted(new.items(), key=lambda kv: -kv[1])[:10]
            changes.append({"kind": "categories", "share": share,
                            "new_values": [{"value": k, "share": v} for k, v in top],
                            "words": f"{share:.0%} of rows hold values never seen before "
                                     f"({', '.join(k for k, _ in top[:5])})"})
    return changes


def expect_breaks(profile: Mapping[str, Any], expect: Mapping[str, Any] | None,
                  t: Thresholds = DEFAULT_THRESHOLDS) -> list[dict[str, Any]]:
    """How a profile breaks a feature's ``expect`` (min/max/values: > 1% of values outside;
    max_null_fraction: above it)."""
    if not expect:
        return []
    broken: list[dict[str, Any]] = []
    nulls = profile.get("null_fraction", 0.0)
    limit = expect.get("max_null_fraction")
    if limit is not None and nulls > limit:
        broken.append({"kind": "expect", "rule": "max_null_fraction", "limit": limit,
                       "value": nulls,
                       "words": f"{nulls:.1%} nulls, more than the expected "
                                f"max_null_fraction {limit:g}"})
    exact = profile.get("expect_check") or {}
    sketch = profile.get("sketch")
    for rule in ("min", "max"):
        bound = expect.get(rule)
        if bound is None or profile.get("kind") != "numeric" or not sketch:
            continue
        if exact.get("expect") == dict(expect) and f"outside_{rule}" in exact:
            share = exact[f"outside_{rule}"]
        elif rule == "min":
            share = 0.0 if profile["min"] >= bound else max(cdf(sketch, bound), 1 / SKETCH)
        else:
            share = 0.0 if profile["max"] <= bound else max(1 - cdf(sketch, bound), 1 / SKETCH)
        if share > t.expect_outside:
            side = "below" if rule == "min" else "above"
            broken.append({"kind": "expect", "rule": rule, "limit": bound, "share": share,
                           "words": f"{share:.1%} of values {side} the expected {rule} "
                                    f"{bound:g}"})
    allowed = expect.get("values")
    if allowed is not None and profile.get("categories") is not None:
        if exact.get("expect") == dict(expect) and "outside_values" in exact:
            share = exact["outside_values"]
        else:
            wanted = {_value_text(v) for v in allowed}
            share = sum(s for k, s in profile["categories"].items() if k not in wanted)
        if share > t.expect_outside:
            broken.append({"kind": "expect", "rule": "values", "share": share,
                           "words": f"{share:.1%} of values are not among the expected "
                                    f"values"})
    return broken


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return _number_text(float(value))
    return str(value)


def exact_expect_check(series: pd.Series, expect: Mapping[str, Any] | None
                       ) -> dict[str, Any] | None:
    """Exact shares outside ``expect`` for the column (kept with the profile; the detector uses
    them while the feature's ``expect`` is unchanged)."""
    if not expect:
        return None
    present = series.dropna()
    n = len(present) or 1
    check: dict[str, Any] = {"expect": dict(expect)}
    if column_kind(series) in ("numeric", "boolean"):
        values = as_float_array(present)
        if expect.get("min") is not None:
            check["outside_min"] = float(np.sum(values < expect["min"])) / n
        if expect.get("max") is not None:
            check["outside_max"] = float(np.sum(values > expect["max"])) / n
        if expect.get("values") is not None:
            wanted = {_value_text(v) for v in expect["values"]}
            check["outside_values"] = float(sum(
                _number_text(v) not in wanted for v in values if math.isfinite(v))) / n
    elif expect.get("values") is not None:
        wanted = {_value_text(v) for v in expect["values"]}
        check["outside_values"] = float((~present.astype(str).isin(wanted)).sum()) / n
    return check
