"""A labelled data snapshot encoded for scikit-learn (pure: no database).

`prepare` checks the label, samples at most `max_rows` labelled rows, drops classes seen only
once, and encodes every feature as one float column (NaN = missing): numbers and booleans as
they are, datetimes as nanoseconds, timedeltas as seconds, anything else as category codes by
descending frequency. `registry.analysis.computed_importance` measures importance on the
result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

MIN_ROWS = 50
"""Fewest labelled rows a snapshot needs for a model worth measuring."""
MAX_CLASSES = 20
"""A numeric label of integral values with at most this many distinct values is a class label."""
MAX_CATEGORY_CODES = 255  # HistGradientBoosting's max_bins; rarer categories share the last code


@dataclass
class EncodedSnapshot:
    """A snapshot encoded for scikit-learn: one float column per present feature (NaN =
    missing) and the target (class codes 0..k-1, or numbers for regression)."""

    matrix: np.ndarray
    target: np.ndarray
    present: list[str]
    missing: list[str]
    usable: list[str]
    categorical: set[str]
    task: str
    n_classes: int

    def columns(self, names: list[str]) -> np.ndarray:
        return np.array([self.present.index(name) for name in names], dtype=np.intp)


def prepare(
    frame: pd.DataFrame, label: str, features: list[str], *, max_rows: int, seed: int
) -> EncodedSnapshot:
    if label not in frame.columns:
        raise ValueError(f"label column {label!r} is not in the snapshot")
    wanted = [name for name in dict.fromkeys(features) if name != label]
    present = [name for name in wanted if name in frame.columns]
    target, task = _encode_label(frame[label])
    labelled = frame.loc[target.notna().to_numpy(), present]
    target = target[target.notna()]
    if len(labelled) > max_rows:
        keep = np.sort(np.random.default_rng(seed).choice(len(labelled), max_rows, replace=False))
        labelled, target = labelled.iloc[keep], target.iloc[keep]
    if task != "regression":  # a class seen once can be learnt or tested, not both
        counts = target.value_counts()
        kept = target.isin(counts.index[counts >= 2]).to_numpy()
        labelled, target = labelled[kept], target[kept]
    if target.nunique() < 2:
        raise ValueError(
            f"label {label!r} has {target.nunique()} distinct value(s) in labelled rows"
            " (a class needs two or more rows): there is nothing to predict"
        )
    if len(labelled) < MIN_ROWS:
        raise ValueError(f"{len(labelled)} labelled rows in the snapshot; {MIN_ROWS} are needed")
    encoded = [_encode_feature(labelled[name]) for name in present]
    matrix = np.column_stack([v for v, _ in encoded]) if encoded else np.empty((len(target), 0))
    usable = [name for i, name in enumerate(present) if _varies(matrix[:, i])]
    if not usable:
        raise ValueError("no usable feature: none is in the snapshot with two or more values")
    if task == "regression":
        y, n_classes = target.to_numpy(dtype="float64"), 0
    else:
        classes, y = np.unique(target.to_numpy(), return_inverse=True)
        n_classes = len(classes)
    return EncodedSnapshot(
        matrix=matrix,
        target=y,
        present=present,
        missing=[name for name in wanted if name not in frame.columns],
        usable=usable,
        categorical={name for name, (_, nominal) in zip(present, encoded, strict=True) if nominal},
        task=task,
        n_classes=n_classes,
    )


def _encode_label(series: pd.Series) -> tuple[pd.Series, str]:
    """The label (None/NaN where missing) and its task: classes for booleans, strings,
    categories, two-valued numbers and integral numbers with few values; else regression."""
    kind = pd.api.types.infer_dtype(series, skipna=True)
    if kind not in ("integer", "floating", "mixed-integer-float", "decimal"):
        labels = _as_text(series)
        return labels, "binary" if labels.nunique() <= 2 else "multiclass"
    numbers = pd.to_numeric(series, errors="coerce").astype("float64")
    numbers = numbers.where(np.isfinite(numbers))
    distinct = numbers.dropna().unique()
    if len(distinct) <= 2:
        return numbers, "binary"
    if len(distinct) <= MAX_CLASSES and np.all(distinct == np.round(distinct)):
        return numbers, "multiclass"
    return numbers, "regression"


def _encode_feature(series: pd.Series) -> tuple[np.ndarray, bool]:
    """A feature as float64 (NaN and ±inf = missing) and whether it is nominal."""
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    if pd.api.types.is_datetime64_dtype(series):
        values = series.astype("datetime64[ns]").to_numpy().astype("int64").astype("float64")
        return np.where(series.isna().to_numpy(), np.nan, values), False
    if pd.api.types.is_timedelta64_dtype(series):
        return series.dt.total_seconds().to_numpy(dtype="float64", na_value=np.nan), False
    kind = pd.api.types.infer_dtype(series, skipna=True)
    numeric = ("integer", "floating", "mixed-integer-float", "decimal", "boolean", "empty")
    if isinstance(series.dtype, pd.CategoricalDtype) or kind not in numeric:
        return _category_codes(series), True
    if kind == "boolean":
        values = series.astype("boolean").to_numpy(dtype="float64", na_value=np.nan)
    else:
        values = pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    return np.where(np.isfinite(values), values, np.nan), False


def _category_codes(series: pd.Series) -> np.ndarray:
    """Codes by descending frequency (ties by text); categories beyond HGB's bins share one."""
    text = _as_text(series)
    frequency = text.value_counts(sort=False)
    ranked = sorted(frequency.index, key=lambda value: (-frequency[value], value))
    codes = {value: float(min(rank, MAX_CATEGORY_CODES - 1)) for rank, value in enumerate(ranked)}
    values: np.ndarray = text.map(codes).to_numpy(dtype="float64", na_value=np.nan)
    return values


def _as_text(series: pd.Series) -> pd.Series:
    text = series.astype(object).where(series.notna(), None)
    return text.map(lambda value: None if value is None else str(value))


def _varies(values: np.ndarray) -> bool:
    known = values[~np.isnan(values)]
    return len(known) > 1 and bool(np.any(known != known[0]))
