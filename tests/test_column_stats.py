"""Per-column snapshot statistics, checked against numpy and pandas."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.analysis.column_stats import (
    HISTOGRAM_BINS,
    QUANTILES,
    TOP_VALUES,
    column_kind,
    compute_column_stats,
)


def json_round_trip(value: object) -> object:
    return json.loads(json.dumps(value, allow_nan=False))


def test_numeric_column_matches_numpy_on_finite_values() -> None:
    rng = np.random.default_rng(1)
    values = rng.lognormal(size=1000)
    values[rng.choice(1000, 50, replace=False)] = np.nan
    values[:3] = [np.inf, -np.inf, np.inf]
    stats = compute_column_stats(pd.DataFrame({"v": values}))["v"]
    finite = values[np.isfinite(values)]
    assert stats.kind == "numeric"
    assert (stats.count, stats.nulls, stats.n_inf) == (950, 50, 3)
    assert stats.distinct == pd.Series(values).nunique()
    assert stats.mean == pytest.approx(finite.mean(), rel=1e-12)
    assert stats.std == pytest.approx(pd.Series(finite).std(), rel=1e-12)
    assert (stats.min, stats.max) == (finite.min(), finite.max())
    expected_quantiles = pd.Series(finite).quantile(list(QUANTILES))
    assert stats.quantiles == pytest.approx(dict(expected_quantiles.items()), rel=1e-12)
    counts, edges = np.histogram(finite, bins=HISTOGRAM_BINS)
    assert stats.histogram == {"edges": edges.tolist(), "counts": counts.tolist()}
    assert not stats.is_constant


def test_integer_and_nullable_columns_are_numeric() -> None:
    frame = pd.DataFrame({
        "ints": np.arange(10),
        "nullable": pd.array([1, None, 3, 4, None, 6, 7, 8, 9, 10], dtype="Int64"),
    })
    stats = compute_column_stats(frame)
    assert stats["ints"].kind == stats["nullable"].kind == "numeric"
    assert stats["ints"].mean == 4.5
    expected = frame["nullable"].dropna().astype(float)
    assert (stats["nullable"].count, stats["nullable"].nulls) == (8, 2)
    assert stats["nullable"].std == pytest.approx(expected.std(), rel=1e-12)
    assert stats["nullable"].quantiles[0.5] == expected.median()


def test_boolean_column_counts_values_and_gives_share_true() -> None:
    values = pd.Series([True, False, True, True, None], dtype="boolean")
    stats = compute_column_stats(pd.DataFrame({"flag": values}))["flag"]
    assert stats.kind == "boolean"
    assert (stats.count, stats.nulls, stats.distinct) == (4, 1, 2)
    assert stats.mean == 0.75
    assert stats.histogram == {"values": [True, False], "counts": [3, 1]}


def test_categorical_and_text_columns_report_top_values() -> None:
    rng = np.random.default_rng(2)
    labels = [f"v{i:02d}" for i in range(30)]
    raw = rng.choice(labels, 2000, p=np.linspace(1, 3, 30) / np.linspace(1, 3, 30).sum())
    frame = pd.DataFrame({"text": raw, "category": pd.Categorical(raw)})
    frame.loc[:9, "text"] = None
    stats = compute_column_stats(frame)
    for name in ("text", "category"):
        column = stats[name]
        assert column.kind == "categorical"
        reference = frame[name].value_counts().iloc[:TOP_VALUES]
        assert column.histogram == {"values": [str(v) for v in reference.index],
                                    "counts": reference.tolist()}
        assert column.distinct == frame[name].nunique()
        assert column.mean is None and column.quantiles == {}
    assert stats["text"].nulls == 10


def test_datetime_column_reports_iso_strings() -> None:
    stamps = pd.Series(pd.date_range("2026-01-01", periods=100, freq="D", tz="Europe/Paris"))
    stamps.iloc[5] = pd.NaT
    stats = compute_column_stats(pd.DataFrame({"when": stamps}))["when"]
    assert stats.kind == "datetime"
    assert (stats.count, stats.nulls) == (99, 1)
    assert stats.min == stamps.min().isoformat()
    assert stats.max == stamps.max().isoformat()
    assert stats.quantiles[0.5] == stamps.quantile(0.5).isoformat()
    assert stats.histogram is not None and sum(stats.histogram["counts"]) == 99
    assert len(stats.histogram["edges"]) == HISTOGRAM_BINS + 1


@pytest.mark.parametrize(("values", "constant"), [
    ([3.0, 3.0, 3.0], True),
    ([np.nan, np.nan], True),
    ([], True),
    ([np.inf, np.inf, np.nan], True),
    ([1.0, np.inf], False),
])
def test_edge_columns_never_crash(values: list[float], constant: bool) -> None:
    stats = compute_column_stats(pd.DataFrame({"v": pd.Series(values, dtype=float)}))["v"]
    assert stats.is_constant is constant
    json_round_trip(stats.to_dict())


def test_constant_column_has_zero_spread() -> None:
    stats = compute_column_stats(pd.DataFrame({"v": [2.0] * 5}))["v"]
    assert (stats.std, stats.min, stats.max, stats.distinct) == (0.0, 2.0, 2.0, 1)
    assert stats.histogram is not None and sum(stats.histogram["counts"]) == 5


def test_huge_values_give_none_instead_of_inf() -> None:
    stats = compute_column_stats(pd.DataFrame({"v": [1e308, 1e308, -1e308]}))["v"]
    assert stats.mean is None or np.isfinite(stats.mean)
    json_round_trip(stats.to_dict())


def test_unhashable_values_are_summarised() -> None:
    frame = pd.DataFrame({"vec": [[1, 2], [1, 2], [3], None]})
    stats = compute_column_stats(frame)["vec"]
    assert (stats.kind, stats.distinct, stats.nulls) == ("categorical", 2, 1)
    assert stats.histogram == {"values": ["[1, 2]", "[3]"], "counts": [2, 1]}


def test_to_dict_is_json_safe_for_every_kind() -> None:
    frame = pd.DataFrame({
        "f": [1.0, np.nan, np.inf, -np.inf], "i": [1, 2, 3, 4], "b": [True, False, True, True],
        "s": ["a", None, "b", "a"], "c": pd.Categorical(["x", "y", None, "x"]),
        "t": pd.to_datetime(["2026-01-01", None, "2026-02-01", "2026-03-01"]),
        "all_null": [None] * 4,
    })
    dumped = {name: json_round_trip(s.to_dict()) for name, s in
              compute_column_stats(frame).items()}
    assert set(dumped) == set(frame.columns)
    assert dumped["f"]["quantiles"]["0.5"] == 1.0
    assert dumped["f"]["n_inf"] == 2
    assert [dumped[n]["kind"] for n in ("f", "i", "b", "s", "c", "t", "all_null")] == [
        "numeric", "numeric", "boolean", "categorical", "categorical", "datetime", "categorical"]


def test_column_kind_of_numeric_dtypes() -> None:
    assert column_kind(pd.Series([1.0], dtype="float32")) == "numeric"
    assert column_kind(pd.Series([1], dtype="UInt8")) == "numeric"
    assert column_kind(pd.Series([1 + 2j])) == "categorical"
    assert column_kind(pd.Series([True], dtype="bool")) == "boolean"


@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.none(),
                                 st.sampled_from([0.0, -0.0, 1.0, 2.5])), max_size=40))
def test_any_float_column_gives_json_safe_stats(values: list[float | None]) -> None:
    series = pd.Series(values, dtype="float64")
    stats = compute_column_stats(pd.DataFrame({"v": series}))["v"]
    assert stats.count + stats.nulls == len(values)
    finite = series[np.isfinite(series)].to_numpy()
    assert stats.distinct == series.nunique()
    if len(finite):
        assert stats.min == finite.min() and stats.max == finite.max()
        assert stats.histogram is not None
        try:
            with np.errstate(all="ignore"):
                counts, edges = np.histogram(finite, bins=HISTOGRAM_BINS)
        except ValueError:  # range too narrow or too wide for 20 bins: one bin of everything
            assert stats.histogram["counts"] == [len(finite)]
        else:
            assert stats.histogram == {"edges": edges.tolist(), "counts": counts.tolist()}
    json_round_trip(stats.to_dict())
