"""Computed importance on synthetic labelled snapshots with planted signal, copies and noise."""

from __future__ import annotations

import itertools
import json

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from scipy.stats import t as student_t

from registry.analysis.computed_importance import (
    MIN_ROWS,
    ImportanceResult,
    compute_importance,
    is_noise,
)

SIGNALS = ["signal_a", "signal_b", "signal_c"]
COPIES = ["copy_1", "copy_2"]
NOISE = [f"noise_{i}" for i in range(10)]


def planted_snapshot(rows: int, seed: int, n_noise: int = len(NOISE)) -> pd.DataFrame:
    """Binary label driven by three signals and one strong hidden feature seen through two
    near-copies (correlation ~0.9999); noise features are independent of everything."""
    rng = np.random.default_rng(seed)
    columns = {name: rng.normal(size=rows) for name in SIGNALS}
    strong = rng.normal(size=rows)
    for name in COPIES:
        columns[name] = strong + rng.normal(scale=0.01, size=rows)
    for name in NOISE[:n_noise]:
        columns[name] = rng.normal(size=rows)
    logit = 1.5 * columns["signal_a"] + 1.0 * columns["signal_b"] + 0.7 * columns["signal_c"]
    logit += 2.5 * strong
    columns["clicked"] = rng.random(rows) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame(columns)


@pytest.fixture(scope="module")
def snapshot() -> pd.DataFrame:
    return planted_snapshot(rows=10000, seed=7)


@pytest.fixture(scope="module")
def result(snapshot: pd.DataFrame) -> ImportanceResult:
    return compute_importance(snapshot, "clicked", SIGNALS + COPIES + NOISE)


def test_signal_features_rank_above_every_noise_feature(result: ImportanceResult) -> None:
    assert result.method == "permutation-computed"
    assert result.metric == "roc_auc" and result.task == "binary"
    assert 0.8 < result.baseline_score <= 1.0
    assert (result.n_train, result.n_test) == (7500, 2500)
    weakest_signal = min(result.features[name].value for name in SIGNALS)
    strongest_noise = max(result.features[name].value for name in NOISE)
    assert weakest_signal > strongest_noise
    assert all(result.features[name].repeats == 5 for name in SIGNALS + COPIES + NOISE)


def test_near_copies_are_small_alone_but_large_as_a_group(result: ImportanceResult) -> None:
    assert [group.members for group in result.groups] == [tuple(COPIES)]
    group = result.group_of("copy_1")
    assert group is not None and group is result.group_of("copy_2")
    alone = [result.features[name].value for name in COPIES]
    # shuffled alone, each copy is replaced by the other; shuffled together, both are lost
    assert group.value > sum(alone)
    assert group.value > 1.5 * max(alone)
    assert group.value > max(result.features[name].value for name in SIGNALS)
    assert not is_noise(group.value, group.std, group.repeats)
    assert result.group_of("signal_a") is None


def test_groups_are_the_components_of_pandas_correlations() -> None:
    snapshot = planted_snapshot(rows=2000, seed=5)
    features = SIGNALS + COPIES + NOISE
    pearson = snapshot[features].corr().abs()
    spearman = snapshot[features].corr(method="spearman").abs()
    strongest = {
        (a, b): max(pearson.loc[a, b], spearman.loc[a, b])
        for a, b in itertools.combinations(features, 2)
    }
    chance = sorted(value for pair, value in strongest.items() if pair != tuple(COPIES))
    # the planted threshold, and one low enough to link the four strongest chance correlations
    for threshold in (0.95, chance[-4]):
        links = nx.Graph(pair for pair, value in strongest.items() if value >= threshold)
        expected = {frozenset(component) for component in nx.connected_components(links)}
        result = compute_importance(
            snapshot, "clicked", features, repeats=1, cluster_threshold=threshold
        )
        assert {frozenset(group.members) for group in result.groups} == expected
        for group in result.groups:  # members in the order the features were given
            assert list(group.members) == [name for name in features if name in group.members]
    assert sum(len(component) for component in expected) > len(COPIES)  # chance links too


def test_noise_is_within_noise_and_signal_is_not(result: ImportanceResult) -> None:
    for name in NOISE:
        imp = result.features[name]
        assert is_noise(imp.value, imp.std, imp.repeats), (name, imp)
    for name in SIGNALS:
        imp = result.features[name]
        assert not is_noise(imp.value, imp.std, imp.repeats), (name, imp)
    denoised = result.denoised_values()
    assert all(denoised[name] == 0.0 for name in NOISE)
    assert all(denoised[name] == result.features[name].value for name in SIGNALS)


@pytest.mark.parametrize(("repeats", "method"), [(5, "permutation"), (10, "leave-one-out")])
def test_noise_rule_is_a_five_percent_test_under_the_null(repeats: int, method: str) -> None:
    rng = np.random.default_rng(3)
    trials = 10000
    if method == "permutation":
        # null: the unpermuted score is one more draw from the permuted scores' distribution
        scores = rng.normal(0.8, 0.01, size=(trials, repeats + 1))
        drops = scores[:, :1] - scores[:, 1:]
    else:  # null: independent paired drops centred on zero
        drops = rng.normal(0.0, 0.01, size=(trials, repeats))
    alarms = sum(
        not is_noise(float(row.mean()), float(row.std(ddof=1)), repeats, method=method, tolerance=0)
        for row in drops
    )
    assert 0.04 < alarms / trials < 0.06  # NOISE_CONFIDENCE = 0.95: 5% false alarms
    naive = np.mean(drops.mean(axis=1) > 2 * drops.std(axis=1, ddof=1) / np.sqrt(repeats))
    if method == "permutation":  # std / sqrt(repeats) alone would flag far more noise
        assert naive > 0.1


def test_is_noise_rule() -> None:
    assert is_noise(-0.5, 0.0, 5)
    assert is_noise(float("nan"), 0.1, 5)
    assert is_noise(0.0015, 0.0, 5)  # below the absolute floor
    assert is_noise(0.5, 0.0, 1, tolerance=0.6) and not is_noise(0.5, 0.0, 1)
    # leave-one-out: standard error std / sqrt(repeats); permutation: std * sqrt(1 + 1/repeats)
    loo_bound = student_t.ppf(0.95, 15) * 0.01 / 4
    perm_bound = student_t.ppf(0.95, 15) * 0.01 * np.sqrt(1 + 1 / 16)
    for bound, method in ((loo_bound, "leave-one-out-computed"), (perm_bound, "permutation")):
        assert is_noise(bound * 0.99, 0.01, 16, method=method)
        assert not is_noise(bound * 1.01, 0.01, 16, method=method)
    # a fixed number of standard errors instead of the t quantile
    assert is_noise(0.007, 0.01, 16, k=3.0, method="leave-one-out")  # 3 * 0.01 / 4 = 0.0075
    assert not is_noise(0.008, 0.01, 16, k=3.0, method="leave-one-out")
    assert not is_noise(0.007, 0.01, 16, method="leave-one-out")


def test_result_is_deterministic_and_json_round_trips() -> None:
    snapshot = planted_snapshot(rows=1500, seed=3)
    features = SIGNALS + COPIES + NOISE[:2]
    first = compute_importance(snapshot, "clicked", features, repeats=3, random_state=5)
    second = compute_importance(snapshot, "clicked", features, repeats=3, random_state=5)
    assert first.to_dict() == second.to_dict()
    decoded = json.loads(json.dumps(first.to_dict()))
    assert ImportanceResult.from_dict(decoded) == first
    other_seed = compute_importance(snapshot, "clicked", features, repeats=3, random_state=6)
    assert other_seed.to_dict() != first.to_dict()


def test_missing_features_are_reported_and_the_label_is_never_a_feature(
    snapshot: pd.DataFrame,
) -> None:
    result = compute_importance(
        snapshot, "clicked", ["ghost", "signal_a", "clicked", "signal_a", "phantom"], repeats=2
    )
    assert result.missing_features == ["ghost", "phantom"]
    assert list(result.features) == ["signal_a"]


def test_max_rows_subsamples_deterministically(snapshot: pd.DataFrame) -> None:
    result = compute_importance(snapshot, "clicked", SIGNALS, repeats=2, max_rows=1000)
    assert result.n_train + result.n_test == 1000
    assert result.n_test == 250


def test_leave_one_out_tells_redundant_from_useless() -> None:
    frame = planted_snapshot(rows=1500, seed=11, n_noise=2)
    features = SIGNALS[:2] + COPIES + NOISE[:2]
    result = compute_importance(frame, "clicked", features, method="leave-one-out", repeats=3)
    assert result.method == "leave-one-out-computed"
    assert all(imp.repeats == 3 for imp in result.features.values())
    values = {name: imp.value for name, imp in result.features.items()}
    assert min(values[name] for name in SIGNALS[:2]) > 3 * max(values[name] for name in NOISE[:2])
    for name in SIGNALS[:2]:
        imp = result.features[name]
        assert not is_noise(imp.value, imp.std, imp.repeats, method=result.method)
    [group] = result.groups
    assert group.members == tuple(COPIES)
    # refitted without one copy, the model uses the other: the loss shows only for the group
    assert group.value > 5 * max(values[name] for name in COPIES)
    assert not is_noise(group.value, group.std, group.repeats, method=result.method)


def test_leave_one_out_of_a_single_feature_compares_with_the_class_prior() -> None:
    frame = planted_snapshot(rows=400, seed=2, n_noise=0)
    result = compute_importance(frame, "clicked", ["signal_a"], method="leave-one-out", repeats=2)
    # without any feature the model predicts the prior: an AUC of 0.5
    assert result.features["signal_a"].value == pytest.approx(result.baseline_score - 0.5)


def test_categorical_boolean_missing_and_infinite_columns_do_not_crash() -> None:
    rng = np.random.default_rng(5)
    rows = 3000
    country = rng.choice(["fr", "de", "us", "jp"], size=rows)
    effect = pd.Series(country).map({"fr": -1.5, "de": 0.0, "us": 1.5, "jp": 0.5}).to_numpy()
    amount = rng.normal(size=rows)
    label = rng.random(rows) < 1 / (1 + np.exp(-(2 * effect + amount)))
    with_gaps = amount.copy()
    with_gaps[rng.random(rows) < 0.2] = np.nan
    with_gaps[:5] = np.inf
    with_gaps[5:10] = -np.inf
    frame = pd.DataFrame(
        {
            "country": np.where(rng.random(rows) < 0.05, None, country),
            "device": pd.Categorical(rng.choice(["ios", "android", "web"], size=rows)),
            "is_member": pd.array(
                np.where(rng.random(rows) < 0.1, None, rng.random(rows) < 0.5), dtype="boolean"
            ),
            "visits": pd.array(np.where(rng.random(rows) < 0.1, None, rng.integers(0, 9, rows))),
            "amount": with_gaps,
            "seen_at": pd.Timestamp("2026-01-01", tz="UTC")
            + pd.to_timedelta(rng.integers(0, 10**6, rows), unit="s"),
            "session_id": [f"s{i}" for i in rng.integers(0, 2000, rows)],  # > 255 categories
            "always_na": np.full(rows, np.nan),
            "constant": np.ones(rows),
            "label": np.where(label, "yes", "no"),
        }
    )
    features = [c for c in frame.columns if c != "label"]
    result = compute_importance(frame, "label", features, repeats=3)
    assert set(result.features) == set(features)
    assert result.unusable_features == ["always_na", "constant"]
    assert result.features["always_na"].value == 0.0 == result.features["constant"].value
    for name in ("country", "amount"):
        imp = result.features[name]
        assert not is_noise(imp.value, imp.std, imp.repeats), name
    for name in ("device", "is_member", "visits", "seen_at"):
        assert result.features[name].value < result.features["amount"].value
    assert np.isfinite([imp.value for imp in result.features.values()]).all()


def test_regression_label_is_measured_by_r2() -> None:
    rng = np.random.default_rng(9)
    rows = 2000
    frame = pd.DataFrame({name: rng.normal(size=rows) for name in ["x", "y", *NOISE[:4]]})
    frame["price"] = 3 * frame["x"] + frame["y"] ** 2 + rng.normal(scale=0.5, size=rows)
    frame.loc[frame.index[:30], "price"] = np.nan  # rows without a label are dropped
    result = compute_importance(frame, "price", ["x", "y", *NOISE[:4]], repeats=3)
    assert result.metric == "r2" and result.task == "regression"
    assert result.n_train + result.n_test == rows - 30
    assert result.baseline_score > 0.8
    assert min(result.features["x"].value, result.features["y"].value) > max(
        result.features[name].value for name in NOISE[:4]
    )


def test_multiclass_label_is_measured_by_log_loss() -> None:
    rng = np.random.default_rng(4)
    rows = 1500
    frame = pd.DataFrame({"x": rng.normal(size=rows), "noise": rng.normal(size=rows)})
    frame["segment"] = pd.cut(frame["x"] + rng.normal(scale=0.3, size=rows), 3, labels=False)
    frame.loc[0, "segment"] = 7  # a class seen once is dropped, not fatal
    result = compute_importance(frame, "segment", ["x", "noise"], repeats=3)
    assert result.metric == "neg_log_loss" and result.task == "multiclass"
    assert result.baseline_score < 0
    assert result.features["x"].value > 0.1 > result.features["noise"].value


@pytest.mark.parametrize(
    ("frame", "label", "features", "message"),
    [
        (pd.DataFrame({"x": range(200), "y": [1] * 200}), "y", ["x"], "1 distinct value"),
        (pd.DataFrame({"x": range(200), "y": [None] * 200}), "y", ["x"], "0 distinct value"),
        (pd.DataFrame({"x": range(200), "y": ["a"] * 199 + ["b"]}), "y", ["x"], "1 distinct"),
        (pd.DataFrame({"x": range(40), "y": [0, 1] * 20}), "y", ["x"], f"{MIN_ROWS} are needed"),
        (pd.DataFrame({"x": range(200), "y": [0, 1] * 100}), "label", ["x"], "not in the snapshot"),
        (pd.DataFrame({"x": range(200), "y": [0, 1] * 100}), "y", ["ghost"], "no usable feature"),
        (pd.DataFrame({"x": [3.0] * 200, "y": [0, 1] * 100}), "y", ["x"], "no usable feature"),
        (pd.DataFrame({"x": [np.nan] * 200, "y": [0, 1] * 100}), "y", ["x"], "no usable feature"),
    ],
)
def test_degenerate_snapshots_raise_a_clear_value_error(
    frame: pd.DataFrame, label: str, features: list[str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        compute_importance(frame, label, features)


def test_invalid_arguments_raise_value_error(snapshot: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="repeats"):
        compute_importance(snapshot, "clicked", SIGNALS, repeats=0)
    with pytest.raises(ValueError, match="unknown importance method"):
        compute_importance(snapshot, "clicked", SIGNALS, method="shap")  # type: ignore[arg-type]
