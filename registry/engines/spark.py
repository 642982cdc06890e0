"""The Spark engine: usage logs and snapshots too big for one machine, on Apache Spark.

``pip install 'featreg[spark]'`` brings PySpark; Java 17 must be on the machine. The session
is the one ``spark-submit`` started (its ``--master``, ``--conf`` and packages), or one built
from ``master`` / ``spark-defaults.conf`` (default ``local[*]``): see
`registry.engines.spark_session`. Inputs are paths or URIs that Spark reads (``s3a://``,
``gs://``, ``abfss://``, ``hdfs://``, local files). Results are plain values; the services
store them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from registry.engines.base import EngineName, ProfileRequest, SnapshotProfile
from registry.engines.usage_logs import UsageAggregate

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from registry.analysis.correlation import CorrelatedPair, Method

__all__ = ["SparkEngine"]


class SparkEngine:
    """Runs on the active Spark session, or on one it starts (lazily, at first use)."""

    name: EngineName = "spark"

    def __init__(self, master: str | None = None, conf: dict[str, str] | None = None,
                 session: SparkSession | None = None) -> None:
        self._master, self._conf, self._session = master, conf, session

    @property
    def spark(self) -> SparkSession:
        if self._session is None:
            from registry.engines.spark_session import spark_session

            self._session = spark_session(self._master, self._conf)
        return self._session

    def aggregate_usage(self, uris: Sequence[str]) -> UsageAggregate:
        from registry.engines.spark_usage import aggregate_on_spark

        return aggregate_on_spark(self.spark, [str(u) for u in uris])

    def _frame(self, uri: str) -> DataFrame:
        from registry.engines.spark_session import quiet

        with quiet():
            frame: Any = self.spark.read.parquet(str(uri))
        return frame  # type: ignore[no-any-return]

    def columns(self, uri: str) -> list[str]:
        return list(self._frame(uri).columns)

    def profile_snapshot(self, uri: str, request: ProfileRequest) -> SnapshotProfile:
        from registry.engines.spark_correlation import correlate_columns, tracked_pairs
        from registry.engines.spark_profile import profile_columns

        frame = self._frame(uri)
        features = [c for c in frame.columns if c in set(request.features)]
        rows, stats, profiles = profile_columns(frame, features, request.expects)
        tracked = tracked_pairs(frame, sorted(request.tracked))
        for (a, b), values in tracked.items():
            profiles[a].setdefault("tracked", {})[b] = values
            profiles[b].setdefault("tracked", {})[a] = values
        pairs = correlate_columns(frame, request.threshold, "both", features) if features \
            else []
        return SnapshotProfile(rows, stats, profiles, pairs)

    def correlate(self, uri: str, threshold: float, method: Method,
                  columns: Sequence[str] | None = None) -> list[CorrelatedPair]:
        from registry.engines.spark_correlation import correlate_columns

        return correlate_columns(self._frame(uri), threshold, method, columns)
