"""Correlation of snapshot columns: exactly pandas' DataFrame.corr(), with ±inf as missing."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.analysis.correlation import (
    CorrelatedPair,
    correlated_pairs,
    correlation_matrix,
)
from registry.analysis.frame_io import read_frame

TOLERANCE = 1e-9
METHODS = ["pearson", "spearman"]


def reference_matrix(frame: pd.DataFrame, names: list[str], method: str) -> pd.DataFrame:
    """pandas on the given columns as float, with ±inf turned into NaN (our documented rule)."""
    values = frame[names].astype("float64").replace([np.inf, -np.inf], np.nan)
    return values.corr(method=method)


def reference_pairs(frame: pd.DataFrame, names: list[str], method: str,
                    threshold: float) -> dict[tuple[str, str], float]:
    matrix = reference_matrix(frame, names, method).to_numpy()
    rows, cols = np.nonzero(np.triu(np.abs(matrix) >= threshold, 1))
    return {(names[i], names[j]): matrix[i, j] for i, j in zip(rows, cols, strict=True)}


def pairwise_counts(frame: pd.DataFrame, names: list[str]) -> np.ndarray:
    present = np.isfinite(frame[names].astype("float64").to_numpy()).astype(np.int64)
    return present.T @ present


def assert_matches_pandas(frame: pd.DataFrame, names: list[str], method: str,
                          chunk_rows: int | None = None) -> None:
    ours = correlation_matrix(frame, method, chunk_rows=chunk_rows)  # type: ignore[arg-type]
    reference = reference_matrix(frame, names, method).to_numpy()
    assert list(ours.columns) == names
    np.testing.assert_array_equal(np.isnan(ours.values), np.isnan(reference))
    np.testing.assert_allclose(ours.values, reference, rtol=0, atol=TOLERANCE)
    defined = ~np.isnan(reference)
    np.testing.assert_array_equal(ours.n[defined], pairwise_counts(frame, names)[defined])
    assert (ours.n[~defined] == 0).all()


def messy_frame(rows: int = 400, seed: int = 3) -> tuple[pd.DataFrame, list[str]]:
    """Planted correlations, NaNs, ±inf, ties, booleans, nullable dtypes, constant and
    all-null columns, plus columns that must be ignored. Returns the frame and the names of
    the columns that take part."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(rows)

    def holes(values: np.ndarray, share: float) -> np.ndarray:
        return np.where(rng.random(rows) < share, np.nan, values)

    frame = pd.DataFrame({
        "x": x,
        "label": rng.choice(["a", "b"], rows),
        "near_x": x + 0.05 * rng.standard_normal(rows),
        "minus_x": -x,
        "exp_x": holes(np.exp(x), 0.2),
        "ties": rng.integers(0, 4, rows),
        "ties_holes": holes(rng.integers(0, 3, rows).astype(float), 0.3),
        "flag": x > 0.3,
        "nullable_int": pd.array(np.where(rng.random(rows) < 0.1, None, rng.integers(0, 9, rows)),
                                 dtype="Int64"),
        "nullable_bool": pd.array(np.where(rng.random(rows) < 0.1, None, x > 0), dtype="boolean"),
        "noise": holes(rng.standard_normal(rows), 0.1),
        "noise_2": holes(rng.standard_normal(rows), 0.5),
        "constant": 2.5,
        "all_null": np.nan,
        "single_value": np.r_[1.0, np.full(rows - 1, np.nan)],
        "category": pd.Categorical(rng.choice(["u", "v", "w"], rows)),
        "when": pd.date_range("2026-01-01", periods=rows, freq="h"),
    })
    frame.loc[rng.choice(rows, 5, replace=False), "near_x"] = np.inf
    frame.loc[rng.choice(rows, 5, replace=False), "noise"] = -np.inf
    frame.loc[rng.choice(rows, 5, replace=False), "minus_x"] = -np.inf
    names = ["x", "near_x", "minus_x", "exp_x", "ties", "ties_holes", "flag", "nullable_int",
             "nullable_bool", "noise", "noise_2", "constant", "all_null", "single_value"]
    return frame, names


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("chunk_rows", [None, 1, 7, 64])
def test_matrix_equals_pandas_on_messy_data(method: str, chunk_rows: int | None) -> None:
    frame, names = messy_frame()
    assert_matches_pandas(frame, names, method, chunk_rows)


@pytest.mark.parametrize("method", ["pearson", "spearman", "both"])
@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.8])
def test_pairs_equal_pandas_pairs(method: str, threshold: float) -> None:
    frame, names = messy_frame()
    pairs = correlated_pairs(frame, threshold, method)  # type: ignore[arg-type]
    methods = METHODS if method == "both" else [method]
    expected = {m: reference_pairs(frame, names, m, threshold) for m in methods}
    assert {(p.a, p.b) for p in pairs} == set().union(*expected.values())
    counts = pairwise_counts(frame, names)
    matrices = {m: reference_matrix(frame, names, m) for m in methods}
    for pair in pairs:
        assert pair.n == counts[names.index(pair.a), names.index(pair.b)]
        for m in METHODS:
            value = getattr(pair, m)
            if m not in methods:
                assert value is None
                continue
            assert value == pytest.approx(matrices[m].loc[pair.a, pair.b], abs=TOLERANCE)
    # constant, all-null and single-value columns never appear; no NaN leaks out
    involved = {p.a for p in pairs} | {p.b for p in pairs}
    assert not {"constant", "all_null", "single_value"} & involved
    assert all(v is None or np.isfinite(v) for p in pairs for v in (p.pearson, p.spearman))


cells = st.one_of(
    st.integers(-8, 8).map(lambda v: v / 4),
    st.integers(-1000, 1000).map(lambda v: v / 7),
    st.sampled_from([np.nan, np.nan, np.inf, -np.inf]),
)


@st.composite
def small_frames(draw: st.DrawFn) -> pd.DataFrame:
    rows = draw(st.integers(0, 30))
    width = draw(st.integers(1, 6))
    columns = {f"c{k}": draw(st.lists(cells, min_size=rows, max_size=rows)) for k in range(width)}
    return pd.DataFrame(columns, dtype="float64")


@settings(max_examples=150, deadline=None)
@given(frame=small_frames(), chunk_rows=st.sampled_from([None, 1, 4]))
def test_any_small_frame_equals_pandas(frame: pd.DataFrame, chunk_rows: int | None) -> None:
    for method in METHODS:
        assert_matches_pandas(frame, list(frame.columns), method, chunk_rows)


@pytest.mark.parametrize("method", METHODS)
def test_badly_conditioned_missing_pattern_is_still_exact(method: str) -> None:
    """x is huge exactly where y is missing: on the common rows its masked sums cancel."""
    rng = np.random.default_rng(5)
    rows = 2000
    y = rng.standard_normal(rows)
    x = y + 1e-3 * rng.standard_normal(rows)
    gone = rng.random(rows) < 0.5
    x[gone] = 1e9 + rng.standard_normal(gone.sum())
    y[gone] = np.nan
    frame = pd.DataFrame({"x": x, "y": y, "z": rng.standard_normal(rows)})
    assert_matches_pandas(frame, ["x", "y", "z"], method)


@pytest.mark.parametrize("method", METHODS)
def test_column_constant_on_common_rows_is_never_a_pair(method: str) -> None:
    frame = pd.DataFrame({
        "x": [1.0, 1.0, 1.0, 5.0, 9.0],
        "y": [1.0, 2.0, 3.0, np.nan, np.nan],
    })
    assert np.isnan(correlation_matrix(frame, method).values[0, 1])  # type: ignore[arg-type]
    assert correlated_pairs(frame, 0.0, method) == []  # type: ignore[arg-type]


def test_two_common_rows_correlate_perfectly_like_pandas() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, np.nan, 4.0], "y": [3.0, 1.0, 7.0, np.nan]})
    assert_matches_pandas(frame, ["x", "y"], "pearson")
    (pair,) = correlated_pairs(frame, 0.99)
    assert (pair.pearson, pair.spearman, pair.n) == (pytest.approx(-1.0), -1.0, 2)


def test_negative_infinity_is_missing_even_where_pandas_ranks_it() -> None:
    """pandas' Spearman ranks -inf when both columns miss the same rows; we treat it as NaN."""
    frame = pd.DataFrame({"x": [1.0, -np.inf, 2.0, 3.0], "y": [3.0, np.nan, 4.0, 5.0]})
    (pair,) = correlated_pairs(frame, 0.9, "spearman")
    assert pair.spearman == pytest.approx(1.0)
    assert pair.n == 3


def test_threshold_is_inclusive() -> None:
    frame, _ = messy_frame()
    matrix = correlation_matrix(frame, "pearson")
    i, j = matrix.columns.index("x"), matrix.columns.index("near_x")
    strength = abs(float(matrix.values[i, j]))
    at = {(p.a, p.b) for p in correlated_pairs(frame, strength, "pearson")}
    above = {(p.a, p.b) for p in correlated_pairs(frame, np.nextafter(strength, 2.0), "pearson")}
    assert ("x", "near_x") in at
    assert ("x", "near_x") not in above


def test_order_is_by_strength_then_column_order_and_repeatable() -> None:
    rng = np.random.default_rng(11)
    base = rng.standard_normal(300)
    frame = pd.DataFrame({
        "d": base, "c": base * 2 + 1, "b": base + 0.3 * rng.standard_normal(300), "a": -base,
        "e": base + rng.standard_normal(300), "f": rng.standard_normal(300),
    })
    pairs = correlated_pairs(frame, 0.5, "pearson")
    order = list(frame.columns)
    assert all(order.index(p.a) < order.index(p.b) for p in pairs)
    keys = [(-round(p.strength, 12), order.index(p.a), order.index(p.b)) for p in pairs]
    assert keys == sorted(keys)
    reference = reference_pairs(frame, order, "pearson", 0.5)
    expected = sorted(reference, key=lambda k: (-round(abs(reference[k]), 12), order.index(k[0]),
                                                order.index(k[1])))
    assert expected[:3] == [("d", "c"), ("d", "a"), ("c", "a")]  # exact ties: column order
    assert [(p.a, p.b) for p in pairs] == expected
    assert correlated_pairs(frame, 0.5, "pearson") == pairs


def test_only_numeric_and_boolean_columns_take_part() -> None:
    frame = pd.DataFrame({
        "text": ["a", "b", "c"], "category": pd.Categorical(["x", "y", "x"]),
        "when": pd.to_datetime(["2026-01-01", "2026-01-02", "2026-01-04"]),
        "complex": [1 + 1j, 2 + 0j, 3 - 1j],
    })
    assert correlated_pairs(frame, 0.0) == []
    assert correlation_matrix(frame).columns == ()
    frame["n"] = [1.0, 2.0, 4.0]
    frame["flag"] = [False, True, True]
    assert correlation_matrix(frame).columns == ("n", "flag")


@pytest.mark.parametrize("frame", [
    pd.DataFrame(),
    pd.DataFrame({"x": pd.Series([], dtype=float), "y": pd.Series([], dtype=float)}),
    pd.DataFrame({"x": [1.0], "y": [2.0]}),
    pd.DataFrame({"x": [np.nan, np.nan], "y": [np.inf, -np.inf]}),
])
def test_degenerate_frames_give_no_pairs(frame: pd.DataFrame) -> None:
    for method in ("pearson", "spearman", "both"):
        assert correlated_pairs(frame, 0.0, method) == []  # type: ignore[arg-type]


def test_columns_argument_restricts_and_validates() -> None:
    frame, _ = messy_frame()
    pairs = correlated_pairs(frame, 0.5, columns=["x", "minus_x", "label"])
    assert [(p.a, p.b) for p in pairs] == [("x", "minus_x")]
    with pytest.raises(ValueError, match="unknown columns: nope"):
        correlated_pairs(frame, columns=["x", "nope"])


def test_invalid_arguments_are_rejected() -> None:
    frame, _ = messy_frame()
    with pytest.raises(ValueError, match="threshold"):
        correlated_pairs(frame, 1.5)
    with pytest.raises(ValueError, match="kendall"):
        correlated_pairs(frame, method="kendall")  # type: ignore[arg-type]


def test_pairs_dump_to_json() -> None:
    frame, _ = messy_frame()
    dumped = json.dumps([p.to_dict() for p in correlated_pairs(frame, 0.8)], allow_nan=False)
    first = json.loads(dumped)[0]
    assert set(first) == {"a", "b", "pearson", "spearman", "n"}
    pair = CorrelatedPair("a", "b", None, -0.9, 10)
    assert pair.to_dict() == {"a": "a", "b": "b", "pearson": None, "spearman": -0.9, "n": 10}
    assert pair.strength == 0.9


# --- reading snapshot files ------------------------------------------------------------


@pytest.fixture
def sample() -> pd.DataFrame:
    return pd.DataFrame({"x": [1.5, np.nan, 3.0], "n": [1, 2, 3], "s": ["a", "b", "c"]})


@pytest.mark.parametrize("name", ["snap.parquet", "snap.pq", "snap.csv", "snap.csv.gz"])
def test_read_frame_round_trips(tmp_path: Path, sample: pd.DataFrame, name: str) -> None:
    path = tmp_path / name
    if "csv" in name:
        sample.to_csv(path, index=False)
    else:
        sample.to_parquet(path)
    frame = read_frame(path)
    pd.testing.assert_frame_equal(frame, sample, check_dtype=False)


def test_read_frame_rejects_other_extensions(tmp_path: Path) -> None:
    path = tmp_path / "snap.xlsx"
    path.write_text("x")
    with pytest.raises(ValueError, match=r"snap\.xlsx: unsupported file type"):
        read_frame(path)


def test_read_frame_names_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"absent\.csv: no such file"):
        read_frame(tmp_path / "absent.csv")


@pytest.mark.parametrize(("name", "content"), [
    ("broken.parquet", b"not parquet at all"),
    ("broken.csv.gz", b"not gzip"),
    ("empty.csv", b""),
    ("binary.csv", gzip.compress(b"a,b\n1,2\n", mtime=0)),
])
def test_read_frame_names_an_unreadable_file(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValueError, match=re.escape(name) + ": cannot be read as"):
        read_frame(path)


def test_read_frame_reads_wide_parquet_in_groups_and_keeps_the_index(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    wide = pd.DataFrame(rng.standard_normal((20, 150)), columns=[f"c{i}" for i in range(150)],
                        index=pd.Index([f"row{i}" for i in range(20)], name="key"))
    wide["text"] = "t"
    wide.to_parquet(tmp_path / "wide.parquet")
    pd.testing.assert_frame_equal(read_frame(tmp_path / "wide.parquet"), wide)
