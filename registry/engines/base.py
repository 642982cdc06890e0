"""What an analysis engine does, and the values it hands back to the services.

An engine only computes: it reads usage logs or a snapshot where they lie (a local path, or
any URI its file system reads) and returns values. It never touches the catalog database; the
one usage service and the one snapshot service store what it returns, so every way in keeps
one validator and one writer.

* `UsageAggregate` (`registry.engines.usage_logs`): daily read cells, rejected lines, counts.
* `SnapshotProfile`: per-feature statistics (`registry.analysis.column_stats.ColumnStats`),
  profiles (`registry.analysis.stability.profile_column`, with the exact check against each
  feature's ``expect`` and the correlations of tracked pairs) and the correlated pairs
  (`registry.analysis.correlation.CorrelatedPair`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from registry.analysis.column_stats import ColumnStats
    from registry.analysis.correlation import CorrelatedPair, Method
    from registry.engines.usage_logs import UsageAggregate

__all__ = ["ENGINES", "Engine", "EngineName", "ProfileRequest", "SnapshotProfile"]

EngineName = Literal["local", "spark"]
ENGINES: tuple[EngineName, ...] = ("local", "spark")


@dataclass(frozen=True)
class ProfileRequest:
    """What to compute for a snapshot: the feature columns, each feature's ``expect``, the
    pairs whose correlation is tracked (strong in an earlier snapshot), and the smallest
    |correlation| of a reported pair."""

    features: Sequence[str]
    expects: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    tracked: Sequence[tuple[str, str]] = ()
    threshold: float = 0.8


@dataclass
class SnapshotProfile:
    rows: int
    stats: dict[str, ColumnStats]
    profiles: dict[str, dict[str, Any]]
    pairs: list[CorrelatedPair]


class Engine(Protocol):
    """An analysis engine: `registry.engines.local.LocalEngine` (in this process) or
    `registry.engines.spark.SparkEngine`."""

    name: EngineName

    def aggregate_usage(self, uris: Sequence[str]) -> UsageAggregate:
        """Daily read counts of usage logs (JSON Lines or Parquet files, or folders)."""
        ...

    def columns(self, uri: str) -> list[str]:
        """The column names of a snapshot, as the file has them."""
        ...

    def profile_snapshot(self, uri: str, request: ProfileRequest) -> SnapshotProfile:
        """Statistics, profiles and correlated pairs of a snapshot's feature columns."""
        ...

    def correlate(self, uri: str, threshold: float, method: Method,
                  columns: Sequence[str] | None = None) -> list[CorrelatedPair]:
        """Pairs of numeric columns with |r| >= threshold (`featreg snapshot correlate`)."""
        ...
