"""The float32 screen gives the same correlated pairs and values as the exact path, and the
Parquet reader offers the correlation the same columns as a pandas frame would."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from registry.analysis import correlation_screen
from registry.analysis.correlation import CorrelatedPair, correlated_pairs, pairs_among
from registry.analysis.file_correlation import correlated_pairs_in_file
from registry.analysis.numeric_columns import NumericColumns
from registry.analysis.parquet_columns import read_numeric_columns


def planted(rows: int, cols: int, seed: int = 3) -> pd.DataFrame:
    """Normal columns; every 5th gets a partner at a chosen strength (some straddling 0.9),
    one an exp() of its partner (Spearman 1, Pearson lower), one integer-valued with ties, one
    far from zero and one tiny (scaling)."""
    rng = np.random.default_rng(seed)
    values = rng.standard_normal((rows, cols))
    for left, rho in zip(range(0, cols - 1, 5), np.linspace(0.85, 0.999, cols // 5),
                         strict=False):
        values[:, left + 1] = rho * values[:, left] + np.sqrt(1 - rho**2) * values[:, left + 1]
    frame = pd.DataFrame(values, columns=[f"c{i:03d}" for i in range(cols)])
    frame["exp_c000"] = np.exp(frame["c000"])
    frame["ties"] = np.round(frame["c005"] * 2)
    frame["offset"] = 1e12 + frame["c010"] * 1e-2
    frame["tiny"] = frame["c010"] * 1e-200
    return frame


def same_pairs(ours: list[CorrelatedPair], exact: list[CorrelatedPair]) -> None:
    assert [(p.a, p.b, p.n) for p in ours] == [(p.a, p.b, p.n) for p in exact]
    for mine, reference in zip(ours, exact, strict=True):
        for method in ("pearson", "spearman"):
            a, b = getattr(mine, method), getattr(reference, method)
            assert (a is None) == (b is None)
            if a is not None and b is not None:
                assert abs(a - b) <= 1e-12, (mine, reference)


@pytest.mark.parametrize("method", ["pearson", "spearman", "both"])
@pytest.mark.parametrize("threshold", [0.9, 0.97])
def test_screen_finds_the_exact_pairs_and_values(method: str, threshold: float) -> None:
    data = NumericColumns(planted(3000, 60), None)
    screened = pairs_among(data, threshold, method, screen=True)  # type: ignore[arg-type]
    exact = pairs_among(data, threshold, method, screen=False)  # type: ignore[arg-type]
    assert len(exact) >= 5
    same_pairs(screened, exact)


def test_screen_with_a_low_threshold_falls_back_to_the_exact_matrices() -> None:
    data = NumericColumns(planted(500, 80), None)
    assert len(pairs_among(data, 0.0, "pearson", screen=False)) > correlation_screen.max_candidates(
        len(data.usable))
    same_pairs(pairs_among(data, 0.0, "pearson", screen=True),
               pairs_among(data, 0.0, "pearson", screen=False))


def test_screen_keeps_every_pair_within_its_error_bound() -> None:
    data = NumericColumns(planted(20_000, 30).iloc[:, :30], None)
    approximate = correlation_screen.screen(correlation_screen.centred_scaled(data))
    exact = np.corrcoef(np.column_stack(data.values), rowvar=False)
    assert np.abs(approximate - exact).max() <= correlation_screen.MARGIN


def test_columns_with_missing_values_take_the_exact_path() -> None:
    frame = planted(2000, 20)
    frame.loc[::7, "c001"] = np.nan
    data = NumericColumns(frame, None)
    assert not correlation_screen.worth_screening(data)
    same_pairs(pairs_among(data, 0.9, "both", screen=True), correlated_pairs(frame, 0.9, "both"))


def test_parquet_columns_are_those_pandas_would_correlate(tmp_path: Path) -> None:
    frame = planted(400, 20)
    frame["ints"] = np.arange(400)
    frame["nullable_ints"] = pd.array([None if i % 9 == 0 else i % 13 for i in range(400)],
                                      dtype="Int64")
    frame["flag"] = frame["c000"] > 0
    frame["nullable_flag"] = pd.array([None if i % 5 == 0 else i % 3 == 0 for i in range(400)],
                                      dtype="boolean")
    frame["text"] = [f"t{i}" for i in range(400)]
    frame["when"] = pd.date_range("2026-01-01", periods=400, freq="h")
    frame["category"] = pd.Categorical(["a", "b"] * 200)
    frame.index = pd.Index([f"r{i}" for i in range(400)], name="row")
    path = tmp_path / "sample.parquet"
    frame.to_parquet(path)
    names, arrays = read_numeric_columns(path)
    expected = NumericColumns(pd.read_parquet(path), None)
    assert names == expected.names
    for name, array in zip(names, arrays, strict=True):
        reference = expected.values[expected.usable[expected.names.index(name)]] \
            if expected.names.index(name) in expected.usable else None
        if reference is not None:
            np.testing.assert_array_equal(array, reference)
    assert correlated_pairs_in_file(path, 0.5) == correlated_pairs(pd.read_parquet(path), 0.5)


def test_a_boolean_column_with_nulls_from_outside_pandas_is_not_numeric(tmp_path: Path) -> None:
    table = pa.table({"x": [1.0, 2.0, 3.0, 4.0], "y": [2.0, 4.1, 6.0, 8.2],
                      "b": pa.array([True, None, False, True])})
    pq.write_table(table, tmp_path / "plain.parquet")
    names, _ = read_numeric_columns(tmp_path / "plain.parquet")
    assert names == ["x", "y"] == NumericColumns(pd.read_parquet(tmp_path / "plain.parquet"),
                                                 None).names


def test_an_unreadable_parquet_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"not parquet at all")
    with pytest.raises(ValueError, match="broken.parquet: cannot be read as Parquet"):
        read_numeric_columns(path)
    with pytest.raises(ValueError, match="no such file"):
        read_numeric_columns(tmp_path / "absent.parquet")
