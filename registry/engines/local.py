"""The in-process engine: the existing pandas and numpy analysis, behind the engine interface.

`profile_frame` is what the snapshot service computes for a snapshot read into memory
(`registry.evidence.snapshots.add_snapshot`): statistics, profiles with the exact ``expect``
check and the tracked correlations, and the correlated pairs. The Spark engine reproduces it
(`registry.engines.spark_profile`, `registry.engines.spark_correlation`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry.engines.base import EngineName, ProfileRequest, SnapshotProfile
from registry.engines.usage_logs import UsageAggregate, aggregate_locally

if TYPE_CHECKING:
    import pandas as pd

    from registry.analysis.correlation import CorrelatedPair, Method

__all__ = ["LocalEngine", "profile_frame", "tracked_correlation"]


def tracked_correlation(frame: pd.DataFrame, a: str, b: str) -> dict[str, float | None]:
    """Pearson and Spearman of two columns over the rows where both are numbers (values that
    are not numbers count as missing); None with fewer than 3 such rows or no variation."""
    import pandas as pd

    pair = frame[[a, b]].apply(pd.to_numeric, errors="coerce").dropna()
    values: dict[str, float | None] = {"pearson": None, "spearman": None}
    if len(pair) >= 3:
        for method in ("pearson", "spearman"):
            with warnings.catch_warnings():  # a constant column: no correlation (NaN)
                warnings.simplefilter("ignore", RuntimeWarning)
                r = pair[a].corr(pair[b], method=method)
            values[method] = float(r) if math.isfinite(r) else None
    return values


def profile_frame(frame: pd.DataFrame, request: ProfileRequest) -> SnapshotProfile:
    """Statistics, profiles and correlated pairs of ``request.features`` in a frame."""
    from registry.analysis.column_stats import compute_column_stats
    from registry.analysis.correlation import correlated_pairs
    from registry.analysis.stability import exact_expect_check, profile_column

    features = list(request.features)
    if not features:
        return SnapshotProfile(len(frame), {}, {}, [])
    stats = compute_column_stats(frame[features])
    profiles: dict[str, dict[str, Any]] = {}
    for feature in features:
        profile = profile_column(frame[feature])
        check = exact_expect_check(frame[feature], request.expects.get(feature))
        if check is not None:
            profile["expect_check"] = check
        profiles[feature] = profile
    for a, b in sorted(request.tracked):
        values = tracked_correlation(frame, a, b)
        profiles[a].setdefault("tracked", {})[b] = values
        profiles[b].setdefault("tracked", {})[a] = values
    pairs = correlated_pairs(frame, request.threshold, "both", columns=features)
    return SnapshotProfile(len(frame), stats, profiles, pairs)


class LocalEngine:
    """Everything in this process: usage logs streamed from local files, snapshots read into
    memory with pandas (`registry.analysis.frame_io`)."""

    name: EngineName = "local"

    def aggregate_usage(self, uris: Sequence[str]) -> UsageAggregate:
        return aggregate_locally(uris)

    def _frame(self, uri: str) -> pd.DataFrame:
        from registry.analysis.frame_io import read_frame

        frame = read_frame(Path(uri))
        frame.columns = [str(c) for c in frame.columns]
        return frame

    def columns(self, uri: str) -> list[str]:
        from registry.analysis.frame_io import column_names

        return column_names(Path(uri))

    def profile_snapshot(self, uri: str, request: ProfileRequest) -> SnapshotProfile:
        return profile_frame(self._frame(uri), request)

    def correlate(self, uri: str, threshold: float, method: Method,
                  columns: Sequence[str] | None = None) -> list[CorrelatedPair]:
        from registry.analysis.correlation import correlated_pairs
        from registry.analysis.file_correlation import correlated_pairs_in_file

        if columns is None:  # straight from the file, as `featreg snapshot correlate` reads it
            return correlated_pairs_in_file(Path(uri), threshold, method)
        return correlated_pairs(self._frame(uri), threshold, method, list(columns))
