"""Feature importance computed from a labelled data snapshot (pure: no database).

`compute_importance` fits a scikit-learn HistGradientBoosting model on a training split of the
snapshot and measures, on the held-out split, how much the score drops when a feature is taken
away from the model:

* ``method="permutation"`` (default): the feature's column is shuffled ``repeats`` times in the
  held-out rows; the model is fitted once. Cost: one fit, plus ``repeats`` predictions of the
  held-out rows per feature and per correlated group.
* ``method="leave-one-out"``: the model is refitted without the feature (Sculley et al.'s
  leave-one-feature-out). Each repeat draws a new train/test split and refits the full model and
  every reduced model on it: ``repeats * (1 + n_features + n_groups)`` fits, so it is meant for
  small feature sets (about 20 features or fewer).

Correlated features are also measured as groups: features whose absolute Pearson or Spearman
correlation is at least ``cluster_threshold`` are linked, and each connected component of two or
more features is permuted jointly (one row permutation for all its columns) or left out jointly.
Two near-copies of a strong feature each look worthless alone, because the model still sees the
other copy; their group value shows that they are redundant, not useless.

Scores are oriented so that higher is better (ROC AUC for a binary label, negated log-loss for a
multiclass label, R² for a numeric label), so an importance is a drop in score, positive when
the feature helps. `is_noise` tells a value that cannot be told apart from zero.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import networkx as nx
import numpy as np
import pandas as pd
from scipy.stats import t as student_t
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.inspection import permutation_importance
from sklearn.metrics import get_scorer, log_loss, make_scorer
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from registry.analysis.importance_data import MIN_ROWS, EncodedSnapshot, prepare

__all__ = [
    "MIN_ROWS",
    "FeatureImportance",
    "GroupImportance",
    "ImportanceResult",
    "compute_importance",
    "is_noise",
]

NOISE_CONFIDENCE = 0.95
"""One-sided confidence that a value above zero is more than noise (see `is_noise`)."""
NOISE_TOLERANCE = 0.002
"""Smallest score drop that counts at all: 0.002 of AUC, R² or log-loss."""
TEST_FRACTION = 0.25
MAX_ITER = 200
EARLY_STOPPING_MIN_ROWS = 1000
MIN_CORRELATION_ROWS = 20
OPENMP_THREADS = 1
_METRICS = {"binary": "roc_auc", "multiclass": "neg_log_loss", "regression": "r2"}


@dataclass(frozen=True)
class FeatureImportance:
    """Mean score drop over ``repeats`` and its sample standard deviation (ddof=1)."""

    value: float
    std: float
    repeats: int


@dataclass(frozen=True)
class GroupImportance:
    """Score drop when all ``members`` (a correlated cluster) are taken away together."""

    members: tuple[str, ...]
    value: float
    std: float
    repeats: int = 1


@dataclass
class ImportanceResult:
    metric: str
    baseline_score: float
    method: str  # "permutation-computed" or "leave-one-out-computed"
    features: dict[str, FeatureImportance]
    groups: list[GroupImportance]
    missing_features: list[str]
    n_train: int
    n_test: int
    task: str = ""  # "binary", "multiclass" or "regression"
    unusable_features: list[str] = field(default_factory=list)  # constant or all missing

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict (lists, floats, ints, strings)."""
        data = asdict(self)
        data["groups"] = [{**group, "members": list(group["members"])} for group in data["groups"]]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImportanceResult:
        """The inverse of `to_dict`."""
        features = {name: FeatureImportance(**imp) for name, imp in data["features"].items()}
        groups = [GroupImportance(**{**g, "members": tuple(g["members"])}) for g in data["groups"]]
        return cls(**{**data, "features": features, "groups": groups})

    def group_of(self, feature: str) -> GroupImportance | None:
        """The correlated group that contains ``feature``, if any."""
        return next((group for group in self.groups if feature in group.members), None)

    def denoised_values(self) -> dict[str, float]:
        """Feature values, with every value within noise of zero (`is_noise`) set to 0."""
        return {
            name: 0.0
            if is_noise(imp.value, imp.std, imp.repeats, method=self.method)
            else imp.value
            for name, imp in self.features.items()
        }


def is_noise(
    value: float,
    std: float,
    repeats: int,
    *,
    method: str = "permutation-computed",
    k: float | None = None,
    confidence: float = NOISE_CONFIDENCE,
    tolerance: float = NOISE_TOLERANCE,
) -> bool:
    """True when an importance cannot be told apart from zero (or is negative).

    Rule: ``value <= max(k * standard_error, tolerance)``: ``k`` is Student's t quantile at
    ``confidence`` with ``repeats - 1`` degrees of freedom unless given (a one-sided test at 5%
    that the value exceeds zero) and ``tolerance`` an absolute floor in score units. Non-finite
    values are noise; with one repeat only the floor applies.

    * Permutation: ``standard_error = std * sqrt(1 + 1 / repeats)``. When the label does not
      depend on a feature, the unpermuted held-out score is one more draw from the distribution
      of the permuted scores, so the mean drop varies by the permuted mean's
      ``std / sqrt(repeats)`` and by the single unpermuted score's ``std``.
    * Leave-one-out: repeats are independent paired splits,
      ``standard_error = std / sqrt(repeats)``.

    The floor is needed because a few repeats of a feature the model barely uses understate its
    spread. The defaults lean towards "real": a useful feature called noise would be proposed
    for deletion, while noise taken as real is tiny anyway.
    """
    if not math.isfinite(value):
        return True
    if repeats < 2:
        return value <= tolerance
    spread = std if math.isfinite(std) else math.inf
    if method.startswith("leave-one-out"):
        standard_error = spread / math.sqrt(repeats)
    else:
        standard_error = spread * math.sqrt(1 + 1 / repeats)
    multiplier = _t_quantile(confidence, repeats - 1) if k is None else k
    return value <= max(multiplier * standard_error, tolerance)


@functools.lru_cache(maxsize=256)
def _t_quantile(confidence: float, degrees_of_freedom: int) -> float:
    return float(student_t.ppf(confidence, degrees_of_freedom))


def compute_importance(
    frame: pd.DataFrame,
    label: str,
    features: list[str],
    *,
    method: Literal["permutation", "leave-one-out"] = "permutation",
    repeats: int = 5,
    cluster_threshold: float = 0.95,
    random_state: int = 0,
    max_rows: int = 20000,
) -> ImportanceResult:
    """Importance of ``features`` for predicting ``label`` in ``frame``.

    Rows without a label are dropped and at most ``max_rows`` rows are used (a seeded sample).
    Features absent from the frame are listed in ``missing_features``; the label is never used
    as a feature. Strings, categories and booleans are handled (nominal columns as HGB
    categorical features), NaN is missing, ±inf becomes NaN. Features constant or entirely
    missing in the snapshot get value 0 and are listed in ``unusable_features``.
    Deterministic for a fixed ``random_state``.

    Raises ValueError (with a message for the user) when the snapshot cannot support a model:
    no such label column, fewer than `MIN_ROWS` labelled rows, a single class or a constant
    label, or no usable feature.
    """
    if method not in ("permutation", "leave-one-out"):
        raise ValueError(f"unknown importance method {method!r}: use permutation or leave-one-out")
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, not {repeats}")
    snapshot = prepare(frame, label, features, max_rows=max_rows, seed=random_state)
    groups = _correlated_groups(snapshot, cluster_threshold)
    # One OpenMP thread: HGB's many small predictions run several times slower on more threads
    # (thread start-up per tree), and the analysis shares the machine with the web server.
    with threadpool_limits(limits=OPENMP_THREADS, user_api="openmp"):
        if method == "permutation":
            return _permutation(snapshot, groups, repeats, random_state)
        return _leave_one_out(snapshot, groups, repeats, random_state)


def _correlated_groups(snapshot: EncodedSnapshot, threshold: float) -> list[tuple[str, ...]]:
    """Connected components of features linked by |Pearson| or |Spearman| >= threshold.

    Only numeric and boolean features are clustered (codes of nominal categories have no
    order). Both use pairwise-complete rows (at least `MIN_CORRELATION_ROWS`); Spearman ranks
    each column once over its non-missing values. Members and groups follow feature order.
    """
    names = [name for name in snapshot.usable if name not in snapshot.categorical]
    if len(names) < 2:
        return []
    values = pd.DataFrame(snapshot.matrix[:, snapshot.columns(names)], columns=names)
    pearson = values.corr(min_periods=MIN_CORRELATION_ROWS).abs().to_numpy()
    spearman = values.rank().corr(min_periods=MIN_CORRELATION_ROWS).abs().to_numpy()
    linked = np.triu((pearson >= threshold) | (spearman >= threshold), k=1)
    graph = nx.Graph()
    graph.add_nodes_from(names)
    graph.add_edges_from((names[i], names[j]) for i, j in zip(*np.nonzero(linked), strict=True))
    order = {name: index for index, name in enumerate(names)}
    groups = [
        tuple(sorted(component, key=order.__getitem__))
        for component in nx.connected_components(graph)
        if len(component) > 1
    ]
    return sorted(groups, key=lambda members: order[members[0]])


def _scorer(snapshot: EncodedSnapshot) -> Any:
    if snapshot.task == "multiclass":  # every class, even one absent from the held-out rows
        labels = list(range(snapshot.n_classes))
        return make_scorer(
            log_loss, greater_is_better=False, response_method="predict_proba", labels=labels
        )
    return get_scorer(_METRICS[snapshot.task])


def _split(snapshot: EncodedSnapshot, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Held-out rows, stratified by class; at least one row per class on each side."""
    rows = np.arange(len(snapshot.target))
    stratify = None if snapshot.task == "regression" else snapshot.target
    n_test = max(round(TEST_FRACTION * len(rows)), snapshot.n_classes)
    train, test = train_test_split(rows, test_size=n_test, random_state=seed, stratify=stratify)
    return np.sort(train), np.sort(test)


def _fit_and_score(
    snapshot: EncodedSnapshot, names: list[str], train: np.ndarray, test: np.ndarray, seed: int
) -> tuple[Any, float]:
    """Fit on the ``train`` rows of the ``names`` columns; the score on the ``test`` rows."""
    regression = snapshot.task == "regression"
    model: Any = DummyRegressor() if regression else DummyClassifier()  # without any feature
    if names:
        early = len(train) >= EARLY_STOPPING_MIN_ROWS
        nominal = [name in snapshot.categorical for name in names]
        model = (HistGradientBoostingRegressor if regression else HistGradientBoostingClassifier)(
            max_iter=MAX_ITER if early else MAX_ITER // 2,
            early_stopping=early,
            categorical_features=nominal if any(nominal) else None,
            random_state=seed,
        )
    columns = snapshot.columns(names) if names else np.zeros(1, dtype=np.intp)
    model.fit(snapshot.matrix[np.ix_(train, columns)], snapshot.target[train])
    x_test, y_test = snapshot.matrix[np.ix_(test, columns)], snapshot.target[test]
    score = float(_scorer(snapshot)(model, x_test, y_test))
    if not math.isfinite(score):
        raise ValueError(f"{_METRICS[snapshot.task]} is undefined on this snapshot's held-out rows")
    return model, score


def _summary(drops: np.ndarray) -> tuple[float, float, int]:
    std = float(np.std(drops, ddof=1)) if len(drops) > 1 else 0.0
    return float(np.mean(drops)), std, len(drops)


def _result(
    snapshot: EncodedSnapshot,
    method: str,
    baseline: float,
    drops: dict[tuple[str, ...], np.ndarray],
    n_train: int,
    n_test: int,
) -> ImportanceResult:
    """``drops`` holds score drops per repeat, keyed by 1-tuples (features) and groups."""
    features = {}
    for name in snapshot.present:
        value, std, repeats = _summary(drops[(name,)]) if (name,) in drops else (0.0, 0.0, 0)
        features[name] = FeatureImportance(value, std, repeats)
    groups = [GroupImportance(key, *_summary(d)) for key, d in drops.items() if len(key) > 1]
    return ImportanceResult(
        metric=_METRICS[snapshot.task],
        baseline_score=baseline,
        method=method,
        features=features,
        groups=groups,
        missing_features=snapshot.missing,
        n_train=n_train,
        n_test=n_test,
        task=snapshot.task,
        unusable_features=[name for name in snapshot.present if name not in snapshot.usable],
    )


def _permutation(
    snapshot: EncodedSnapshot, groups: list[tuple[str, ...]], repeats: int, seed: int
) -> ImportanceResult:
    train, test = _split(snapshot, seed)
    model, baseline = _fit_and_score(snapshot, snapshot.usable, train, test, seed)
    x_test = snapshot.matrix[np.ix_(test, snapshot.columns(snapshot.usable))]
    y_test = snapshot.target[test]
    scorer = _scorer(snapshot)
    singles = permutation_importance(
        model, x_test, y_test, scoring=scorer, n_repeats=repeats, random_state=seed
    )
    drops: dict[tuple[str, ...], np.ndarray] = {
        (name,): singles.importances[i] for i, name in enumerate(snapshot.usable)
    }
    rng = np.random.default_rng(seed)
    for members in groups:  # one row permutation shared by all columns of the group
        group_columns = np.array([snapshot.usable.index(name) for name in members])
        permuted = x_test.copy()
        drops[members] = np.empty(repeats)
        for repeat in range(repeats):
            order = rng.permutation(len(test))
            permuted[:, group_columns] = x_test[np.ix_(order, group_columns)]
            drops[members][repeat] = baseline - scorer(model, permuted, y_test)
    return _result(snapshot, "permutation-computed", baseline, drops, len(train), len(test))


def _leave_one_out(
    snapshot: EncodedSnapshot, groups: list[tuple[str, ...]], repeats: int, seed: int
) -> ImportanceResult:
    left_out = [(name,) for name in snapshot.usable] + groups
    drops = {members: np.empty(repeats) for members in left_out}
    baselines = np.empty(repeats)
    for repeat in range(repeats):  # a new split per repeat; scores paired within a split
        train, test = _split(snapshot, seed + repeat)
        _, baselines[repeat] = _fit_and_score(snapshot, snapshot.usable, train, test, seed)
        for members in left_out:
            kept = [name for name in snapshot.usable if name not in members]
            _, score = _fit_and_score(snapshot, kept, train, test, seed)
            drops[members][repeat] = baselines[repeat] - score
    baseline = float(np.mean(baselines))
    return _result(snapshot, "leave-one-out-computed", baseline, drops, len(train), len(test))
