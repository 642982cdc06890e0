"""The read-only input of an analysis run, and the finding drafts detectors return.

Plain frozen dataclasses, no database: the loader converts ORM rows into these once, the
detectors read them, and tests build them by hand (`AnalysisInput.build` takes plain lists).
Times are timezone-aware UTC; naive datetimes are taken as UTC and dates as midnight UTC.

What a loader supplies: every feature, source and consumer (any status); one `ReadStat` per
(principal, feature) ever read up to ``now``, registered consumer or not; the importance rows
of each consumer's latest report (reported, or computed with std and repeats); computed group
importance; the correlated pairs of the latest snapshot; and how many features each change set
first registered. Derived facts several detectors share (importance shares, read totals, the
catalog graph) are computed once per input and cached on it.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from registry.analysis.correlation import CorrelatedPair
from registry.core.settings import Settings

if TYPE_CHECKING:
    import networkx as nx

__all__ = [
    "SEVERITIES",
    "AnalysisInput",
    "ConsumerInfo",
    "CorrelatedPair",
    "FeatureInfo",
    "FeatureSnapshot",
    "FindingDraft",
    "GroupImportanceValue",
    "ImportanceValue",
    "ObjectRef",
    "ReadStat",
    "Severity",
    "SourceInfo",
    "as_utc",
]

Severity = Literal["info", "warning", "critical"]
SEVERITIES: tuple[str, ...] = ("info", "warning", "critical")
ObjectRef = tuple[str, str]
"""(object type, name): ("feature" | "source" | "consumer", NAME)."""


def as_utc(value: datetime | date) -> datetime:
    """A timezone-aware UTC datetime: naive means UTC, a date means its midnight UTC."""
    if not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _set(obj: object, name: str, value: Any) -> None:
    object.__setattr__(obj, name, value)


@dataclass(frozen=True, kw_only=True)
class FeatureInfo:
    """A feature as the catalog declares it."""

    name: str
    owner: str = ""
    status: Literal["active", "deprecated", "retired"] = "active"
    created: datetime
    description: str = ""
    sources: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    bundle: str | None = None
    """The explicit ``bundle:`` name, if any."""
    changeset: int | None = None
    """The change set (apply or SDK batch) that first registered the feature."""
    sunset: date | None = None
    replacement: str | None = None
    expect: Mapping[str, Any] | None = field(default=None, hash=False)
    """What its values must satisfy: min, max, max_null_fraction, values (any of them)."""

    def __post_init__(self) -> None:
        _set(self, "created", as_utc(self.created))
        _set(self, "sources", tuple(self.sources))
        _set(self, "depends_on", tuple(self.depends_on))
        if self.status not in ("active", "deprecated", "retired"):
            raise ValueError(f"feature {self.name}: unknown status {self.status!r}")


@dataclass(frozen=True, kw_only=True)
class SourceInfo:
    name: str
    kind: str = "table"
    owner: str = ""
    produced_by: str | None = None
    """The consumer whose output this source is (model outputs)."""
    freshness: str | None = None
    """How old its latest update may be (``30m``, ``6h``, ``1d``, ``7d``)."""
    readiness: str | None = None
    """Declared data readiness level: ``C``, ``B`` or ``A``; None: not assessed."""
    registered: datetime | None = None
    """When it entered the catalog."""
    last_update: datetime | None = None
    """Its latest observed update at or before the analysis time (None: none observed)."""

    def __post_init__(self) -> None:
        for name in ("registered", "last_update"):
            value = getattr(self, name)
            if value is not None:
                _set(self, name, as_utc(value))


@dataclass(frozen=True, kw_only=True)
class ConsumerInfo:
    name: str
    kind: str = "model"
    owner: str = ""
    features: tuple[str, ...] = ()
    """Declared features."""
    produces: tuple[str, ...] = ()
    """Sources this consumer writes (model outputs)."""
    registered: bool = True
    stage: Literal["development", "staging", "production"] = "development"

    def __post_init__(self) -> None:
        _set(self, "features", tuple(self.features))
        _set(self, "produces", tuple(self.produces))


@dataclass(frozen=True, kw_only=True)
class ReadStat:
    """Observed reads of one feature by one principal (a consumer name or any other principal).

    ``last_read`` is the latest read at or before the analysis time (all history);
    ``count`` is the number of reads within the usage window ending at the analysis time
    (0 when every read is older).
    """

    principal: str
    feature: str
    count: int
    last_read: datetime

    def __post_init__(self) -> None:
        _set(self, "last_read", as_utc(self.last_read))


@dataclass(frozen=True, kw_only=True)
class ImportanceValue:
    """The latest importance of ``feature`` for ``consumer`` (reported or computed).

    ``std`` and ``repeats`` come with computed importance; with them, a value within noise of
    zero counts as zero.
    """

    consumer: str
    feature: str
    value: float
    std: float | None = None
    repeats: int | None = None
    method: str = "reported"
    reported_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class GroupImportanceValue:
    """Computed importance of a correlated group taken away together, for one consumer."""

    consumer: str
    members: tuple[str, ...]
    value: float
    std: float | None = None
    repeats: int | None = None
    method: str = "permutation"

    def __post_init__(self) -> None:
        _set(self, "members", tuple(sorted(self.members)))


@dataclass(frozen=True, kw_only=True)
class FeatureSnapshot:
    """One feature in one snapshot: its profile (`registry.analysis.stability`) and how
    strongly it correlates with other features there (stored strong pairs and the pairs
    tracked because they were strong before): partner -> max(|pearson|, |spearman|), None when
    the correlation could not be computed."""

    snapshot: int
    taken_at: datetime
    profile: Mapping[str, Any] = field(default_factory=dict, hash=False)
    partners: Mapping[str, float | None] = field(default_factory=dict, hash=False)
    name: str = ""

    def __post_init__(self) -> None:
        _set(self, "taken_at", as_utc(self.taken_at))


@dataclass(frozen=True, kw_only=True)
class AnalysisInput:
    """Everything the detectors may read. Build with `AnalysisInput.build`."""

    now: datetime
    settings: Settings = field(default_factory=Settings)
    features: Mapping[str, FeatureInfo] = field(default_factory=dict)
    sources: Mapping[str, SourceInfo] = field(default_factory=dict)
    consumers: Mapping[str, ConsumerInfo] = field(default_factory=dict)
    reads: tuple[ReadStat, ...] = ()
    importance: tuple[ImportanceValue, ...] = ()
    group_importance: tuple[GroupImportanceValue, ...] = ()
    correlations: tuple[CorrelatedPair, ...] = ()
    changeset_sizes: Mapping[int, int] = field(default_factory=dict)
    """How many features each change set first registered (all of them, bundled or not)."""
    snapshot_history: Mapping[str, tuple[FeatureSnapshot, ...]] = field(default_factory=dict)
    """Per feature, the snapshots that hold it, newest first (at least the latest two taken at
    or before ``now``; later ones are ignored)."""

    def __post_init__(self) -> None:
        _set(self, "now", as_utc(self.now))
        for name in ("reads", "importance", "group_importance", "correlations"):
            _set(self, name, tuple(getattr(self, name)))

    @classmethod
    def build(
        cls,
        *,
        now: datetime,
        settings: Settings | None = None,
        features: Iterable[FeatureInfo] = (),
        sources: Iterable[SourceInfo] = (),
        consumers: Iterable[ConsumerInfo] = (),
        reads: Iterable[ReadStat] = (),
        importance: Iterable[ImportanceValue] = (),
        group_importance: Iterable[GroupImportanceValue] = (),
        correlations: Iterable[CorrelatedPair] = (),
        changeset_sizes: Mapping[int, int] | None = None,
        snapshot_history: Mapping[str, Iterable[FeatureSnapshot]] | None = None,
    ) -> AnalysisInput:
        """An input from plain lists; change set sizes default to counts over ``features``."""
        feature_map = {f.name: f for f in sorted(features, key=lambda f: f.name)}
        if changeset_sizes is None:
            changeset_sizes = dict(Counter(
                f.changeset for f in feature_map.values() if f.changeset is not None))
        return cls(
            now=now,
            settings=settings or Settings(),
            features=feature_map,
            sources={s.name: s for s in sorted(sources, key=lambda s: s.name)},
            consumers={c.name: c for c in sorted(consumers, key=lambda c: c.name)},
            reads=tuple(reads),
            importance=tuple(importance),
            group_importance=tuple(group_importance),
            correlations=tuple(correlations),
            changeset_sizes=dict(changeset_sizes),
            snapshot_history={
                f: tuple(sorted(h, key=lambda s: (s.taken_at, s.snapshot), reverse=True))
                for f, h in (snapshot_history or {}).items()},
        )

    # ----- usage -----------------------------------------------------------------------------

    @cached_property
    def usage_window_start(self) -> datetime:
        return self.now - timedelta(days=self.settings.usage_window_days)

    @cached_property
    def reads_by_feature(self) -> dict[str, tuple[ReadStat, ...]]:
        """Read statistics per feature (reads after ``now`` are ignored), by principal name."""
        grouped: dict[str, list[ReadStat]] = defaultdict(list)
        for stat in self.reads:
            if stat.last_read <= self.now:
                grouped[stat.feature].append(stat)
        return {f: tuple(sorted(s, key=lambda r: r.principal)) for f, s in grouped.items()}

    def last_read(self, feature: str) -> datetime | None:
        """The latest observed read of ``feature`` by anyone, at or before ``now``."""
        return max((s.last_read for s in self.reads_by_feature.get(feature, ())), default=None)

    def is_current(self, stat: ReadStat) -> bool:
        """True when ``stat`` has reads within the usage window."""
        return stat.count > 0 and self.usage_window_start <= stat.last_read <= self.now

    def current_reads(self, feature: str) -> int:
        """Reads of ``feature`` within the usage window, over all principals."""
        return sum(s.count for s in self.reads_by_feature.get(feature, ()) if self.is_current(s))

    @cached_property
    def declared_by(self) -> dict[str, tuple[str, ...]]:
        """Consumers that declare each feature, sorted."""
        result: dict[str, list[str]] = defaultdict(list)
        for consumer in self.consumers.values():
            for feature in consumer.features:
                result[feature].append(consumer.name)
        return {f: tuple(sorted(set(c))) for f, c in result.items()}

    # ----- importance ------------------------------------------------------------------------

    def effective_value(
        self, value: float, std: float | None, repeats: int | None, method: str = "reported"
    ) -> float:
        """An importance as detectors use it: negative, non-finite and noise count as 0.

        Noise (only for computed values, which carry ``std``) follows
        `registry.analysis.computed_importance.is_noise` (the standard error depends on the
        ``method``) with the settings' k and floor.
        """
        if not math.isfinite(value) or value <= 0:
            return 0.0
        if std is not None:
            from registry.analysis.computed_importance import is_noise

            if is_noise(value, std, repeats or 1, method=method,
                        k=self.settings.importance_noise_k,
                        tolerance=self.settings.importance_noise_floor):
                return 0.0
        return float(value)

    @cached_property
    def latest_importance(self) -> dict[tuple[str, str], ImportanceValue]:
        """The latest importance row per (consumer, feature), sorted by key."""
        latest: dict[tuple[str, str], ImportanceValue] = {}
        for row in self.importance:
            key = (row.consumer, row.feature)
            held = latest.get(key)
            if held is None or _later(row.reported_at, held.reported_at):
                latest[key] = row
        return dict(sorted(latest.items()))

    @cached_property
    def importance_by_consumer(self) -> dict[str, dict[str, float]]:
        """Effective importance per consumer and feature (see `effective_value`)."""
        result: dict[str, dict[str, float]] = defaultdict(dict)
        for (consumer, feature), row in self.latest_importance.items():
            result[consumer][feature] = self.effective_value(
                row.value, row.std, row.repeats, row.method)
        return dict(result)

    @cached_property
    def importance_totals(self) -> dict[str, float]:
        """Sum of each consumer's effective importances."""
        return {c: sum(values.values()) for c, values in self.importance_by_consumer.items()}

    @cached_property
    def importance_shares(self) -> dict[str, dict[str, float]]:
        """Share of each feature in each consumer's total importance: feature -> consumer -> share.

        A consumer whose effective importances sum to zero gives no evidence (it is left out),
        so a feature with no entry here has no importance evidence.
        """
        shares: dict[str, dict[str, float]] = defaultdict(dict)
        for consumer, values in self.importance_by_consumer.items():
            total = self.importance_totals[consumer]
            if total > 0:
                for feature, value in values.items():
                    shares[feature][consumer] = value / total
        return dict(shares)

    def max_share(self, feature: str) -> float | None:
        """The largest importance share of ``feature`` over consumers; None without evidence."""
        shares = self.importance_shares.get(feature)
        return max(shares.values()) if shares else None

    def group_shares(self, members: Iterable[str]) -> dict[str, float]:
        """Share of a group of features per consumer, taken away together.

        For each consumer with evidence: the reported group importance of a computed group
        containing any of ``members`` (its share of group + the consumer's other features),
        and the sum of the members' individual shares; the larger counts.
        """
        wanted = sorted(set(members))
        result: dict[str, float] = {}
        for consumer, values in self.importance_by_consumer.items():
            total = self.importance_totals[consumer]
            if total > 0:
                result[consumer] = sum(values.get(f, 0.0) for f in wanted) / total
        for group in self.group_importance:
            if not set(wanted).intersection(group.members):
                continue
            value = self.effective_value(group.value, group.std, group.repeats, group.method)
            values = self.importance_by_consumer.get(group.consumer, {})
            rest = self.importance_totals.get(group.consumer, 0.0) - sum(
                values.get(f, 0.0) for f in group.members)
            rest = max(rest, 0.0)
            if value + rest > 0:
                share = value / (value + rest)
                result[group.consumer] = max(result.get(group.consumer, 0.0), share)
        return dict(sorted(result.items()))

    # ----- graph -----------------------------------------------------------------------------

    @cached_property
    def graph(self) -> nx.DiGraph:
        """The catalog graph (see `registry.analysis.graph.build_catalog_graph`)."""
        from registry.analysis.graph import build_catalog_graph

        return build_catalog_graph(self.features.values(), self.sources.values(),
                                   self.consumers.values())

    @cached_property
    def lineage_hops(self) -> dict[str, int]:
        """Fewest lineage hops from any source to each feature (features without one: absent)."""
        from registry.analysis.graph import lineage_hops

        return lineage_hops(self.graph)


def _later(candidate: datetime | None, held: datetime | None) -> bool:
    if candidate is None:
        return held is None
    return held is None or as_utc(candidate) >= as_utc(held)


@dataclass(frozen=True, kw_only=True)
class FindingDraft:
    """What a detector reports. Its identity across runs is `fingerprint`.

    ``related`` is kept sorted and without duplicates; ``evidence`` must be JSON-serialisable
    (no NaN) and never enters the fingerprint.
    """

    kind: str
    subject_type: str
    subject_name: str
    related: tuple[ObjectRef, ...] = ()
    severity: Severity = "warning"
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        _set(self, "related", tuple(sorted({(str(t), str(n)) for t, n in self.related})))
        if self.severity not in SEVERITIES:
            raise ValueError(f"{self.kind}: unknown severity {self.severity!r}")
        if "\n" in self.summary:
            raise ValueError(f"{self.kind}: a summary is one line, got {self.summary!r}")
        json.dumps(self.evidence, allow_nan=False)

    @property
    def subject(self) -> ObjectRef:
        return (self.subject_type, self.subject_name)

    @property
    def fingerprint(self) -> str:
        """sha256 (hex) of kind, subject and sorted related objects; stable across runs."""
        identity = [self.kind, self.subject_type, self.subject_name,
                    [list(ref) for ref in self.related]]
        encoded = json.dumps(identity, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(encoded.encode("utf-8")).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of DESIGN.md (without the lifecycle fields the store adds)."""
        return {
            "kind": self.kind,
            "subject": {"type": self.subject_type, "name": self.subject_name},
            "related": [{"type": t, "name": n} for t, n in self.related],
            "severity": self.severity,
            "summary": self.summary,
            "evidence": self.evidence,
            "fingerprint": self.fingerprint,
        }
