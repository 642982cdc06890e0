"""The one schema: SQLAlchemy 2 typed ORM models. Alembic migrations are generated from this.

The catalog's models (teams, change sets, sources, features, consumers, edges, audit events)
and the declarative base live in `registry.store.catalog_models`, which plan and apply import
alone; they are re-exported here with the rest, so `models.Feature` names every model.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    Double,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    Unicode,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.core.names import NAME_LENGTH
from registry.store.catalog_models import AuditEvent as AuditEvent
from registry.store.catalog_models import Base as Base
from registry.store.catalog_models import ChangeSet as ChangeSet
from registry.store.catalog_models import Consumer as Consumer
from registry.store.catalog_models import ConsumerFeature as ConsumerFeature
from registry.store.catalog_models import Feature as Feature
from registry.store.catalog_models import FeatureDependency as FeatureDependency
from registry.store.catalog_models import FeatureSource as FeatureSource
from registry.store.catalog_models import FeatureTag as FeatureTag
from registry.store.catalog_models import Source as Source
from registry.store.catalog_models import Team as Team
from registry.store.catalog_models import UTCDateTime as UTCDateTime
from registry.store.catalog_models import naming_convention as naming_convention
from registry.store.catalog_models import utcnow as utcnow

# --- Findings ---


class AnalysisRun(Base):
    """One `featreg analyze` (or scheduled analysis): all its findings are written at once."""

    __tablename__ = "analysis_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    analysis_time: Mapped[datetime] = mapped_column(index=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Finding(Base):
    """A piece of technical debt; its identity across runs is `fingerprint`."""

    __tablename__ = "findings"

    id: Mapped[int] = mapped_column(primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    subject_type: Mapped[str] = mapped_column(String(16))
    subject_name: Mapped[str] = mapped_column(String(255))
    owner: Mapped[str | None] = mapped_column(String(NAME_LENGTH), index=True)
    related: Mapped[list[Any]] = mapped_column(JSON)
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    summary: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    first_seen: Mapped[datetime] = mapped_column()
    last_seen: Mapped[datetime] = mapped_column()
    resolved_at: Mapped[datetime | None] = mapped_column()
    status_reason: Mapped[str | None] = mapped_column(Text)
    suppressed_until: Mapped[datetime | None] = mapped_column()
    last_run_id: Mapped[int | None] = mapped_column(ForeignKey("analysis_runs.id"))

    __table_args__ = (Index("ix_findings_subject", "subject_type", "subject_name"),)


# --- Evidence ---
# Usage, importance and snapshots (registry/evidence/). Features and principals are kept by
# name, not by foreign key: reads of features outside the catalog and reads by principals that
# are not registered consumers are evidence too, and history survives renames and pruning.


class UsageIngest(Base):
    """One ingested usage file (or stdin, or SDK batch): what it contributed, for idempotency.

    ``sha256`` and ``byte_count`` cover the whole content read so far, so a later file that
    starts with exactly these bytes is taken from ``byte_count`` on (see evidence/usage.py).
    """

    __tablename__ = "usage_ingests"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(1024))
    sha256: Mapped[str] = mapped_column(String(64))
    byte_count: Mapped[int] = mapped_column(BigInteger)
    line_count: Mapped[int] = mapped_column(BigInteger)
    first_line: Mapped[int] = mapped_column(BigInteger, default=1)
    events: Mapped[int] = mapped_column(BigInteger, default=0)
    reads: Mapped[int] = mapped_column(BigInteger, default=0)
    rejected: Mapped[int] = mapped_column(BigInteger, default=0)
    unknown_feature_reads: Mapped[int] = mapped_column(BigInteger, default=0)
    actor: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    ingested_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_usage_ingests_content", "byte_count", "sha256"),)


class UsageRejection(Base):
    """A usage line that could not be taken: where it was, what it said, why."""

    __tablename__ = "usage_rejections"

    id: Mapped[int] = mapped_column(primary_key=True)
    ingest_id: Mapped[int] = mapped_column(
        ForeignKey("usage_ingests.id", ondelete="CASCADE"), index=True
    )
    line_number: Mapped[int] = mapped_column(BigInteger)
    raw: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(String(255))


class UsageDaily(Base):
    """Reads of a feature by a principal on one UTC day, with the first and last read time."""

    __tablename__ = "usage_daily"

    feature: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    principal: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    reads: Mapped[int] = mapped_column(BigInteger)
    first_read: Mapped[datetime] = mapped_column()
    last_read: Mapped[datetime] = mapped_column()

    __table_args__ = (Index("ix_usage_daily_principal_feature", "principal", "feature"),)


class Snapshot(Base):
    """A registered sample of feature values (a Parquet or CSV file, optionally labelled)."""

    __tablename__ = "snapshots"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), index=True)
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    byte_count: Mapped[int] = mapped_column(BigInteger)
    row_count: Mapped[int] = mapped_column(BigInteger)
    columns: Mapped[list[str]] = mapped_column(JSON)
    features: Mapped[list[str]] = mapped_column(JSON)
    unknown_columns: Mapped[list[str]] = mapped_column(JSON)
    label: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    consumer: Mapped[str | None] = mapped_column(String(NAME_LENGTH), index=True)
    correlation_threshold: Mapped[float] = mapped_column(Float)
    actor: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    taken_at: Mapped[datetime | None] = mapped_column(index=True)
    """When the sample was taken (``--taken-at``); None for snapshots registered before it
    existed, which count as taken when they were registered (``created_at``)."""


class SnapshotFeatureStats(Base):
    """Statistics of one feature's column in a snapshot (column_stats' JSON-safe dict)."""

    __tablename__ = "snapshot_feature_stats"

    snapshot_id: Mapped[int] = mapped_column(
        ForeignKey("snapshots.id", ondelete="CASCADE"), primary_key=True
    )
    feature: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True, index=True)
    stats: Mapped[dict[str, Any]] = mapped_column(JSON)
    profile: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """What comparisons between snapshots need (registry.analysis.stability.profile_column):
    deciles, null fraction, scale (std, median |x|), top categories with shares, and the
    correlations with the features it was strongly correlated with before."""


class SnapshotCorrelation(Base):
    """A pair of features correlated at or above the snapshot's reporting threshold."""

    __tablename__ = "snapshot_correlations"

    snapshot_id: Mapped[int] = mapped_column(
        ForeignKey("snapshots.id", ondelete="CASCADE"), primary_key=True
    )
    a: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True, index=True)
    b: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True, index=True)
    pearson: Mapped[float | None] = mapped_column(Float)
    spearman: Mapped[float | None] = mapped_column(Float)
    n: Mapped[int] = mapped_column(BigInteger)


class ImportanceReport(Base):
    """One importance report of a consumer: reported by it, or computed from a snapshot."""

    __tablename__ = "importance_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    consumer: Mapped[str] = mapped_column(String(NAME_LENGTH))
    reported_at: Mapped[datetime] = mapped_column()
    method: Mapped[str] = mapped_column(String(64))
    metric: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16))  # reported | computed
    snapshot_id: Mapped[int | None] = mapped_column(
        ForeignKey("snapshots.id", ondelete="SET NULL"), index=True
    )
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    actor: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_importance_reports_consumer", "consumer", "reported_at"),)


class ImportanceReportValue(Base):
    """Importance of one feature in a report; std and repeats come with computed importance."""

    __tablename__ = "importance_values"

    report_id: Mapped[int] = mapped_column(
        ForeignKey("importance_reports.id", ondelete="CASCADE"), primary_key=True
    )
    feature: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True, index=True)
    value: Mapped[float] = mapped_column(Float)
    std: Mapped[float | None] = mapped_column(Float)
    repeats: Mapped[int | None] = mapped_column(Integer)


class ImportanceReportGroup(Base):
    """Importance of a correlated group of features taken away together (computed reports)."""

    __tablename__ = "importance_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(
        ForeignKey("importance_reports.id", ondelete="CASCADE"), index=True
    )
    members: Mapped[list[str]] = mapped_column(JSON)
    value: Mapped[float] = mapped_column(Float)
    std: Mapped[float | None] = mapped_column(Float)
    repeats: Mapped[int | None] = mapped_column(Integer)


# --- Scheduler and reports ---
# The scheduler's job store, its executions and leases (registry/scheduler.py, jobs.py,
# leases.py), and the stored weekly reports with their e-mail deliveries (registry/reports/).


class SchedulerJob(Base):
    """APScheduler's SQLAlchemyJobStore table, declared here so the ORM stays the one schema.

    The column definitions match what APScheduler 3 would create; it finds the table present
    and leaves it alone. ``next_run_time`` is a UTC POSIX timestamp.
    """

    __tablename__ = "apscheduler_jobs"

    id: Mapped[str] = mapped_column(Unicode(191), primary_key=True)
    next_run_time: Mapped[float | None] = mapped_column(Double, index=True)
    job_state: Mapped[bytes] = mapped_column(LargeBinary)


class JobRun(Base):
    """One execution of a scheduled job (or of `featreg jobs run`), claimed once across all
    scheduler instances: (job, scheduled_for) is unique."""

    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(64))
    scheduled_for: Mapped[datetime] = mapped_column()
    trigger: Mapped[str] = mapped_column(String(16))  # schedule | manual
    status: Mapped[str] = mapped_column(String(16), index=True)
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    error: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    holder: Mapped[str] = mapped_column(String(255))
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)

    __table_args__ = (UniqueConstraint("job", "scheduled_for"),)


class Lease(Base):
    """Mutual exclusion with expiry: held by one scheduler instance at a time, renewed while
    its job runs; a holder that dies stops renewing and the lease expires."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    holder: Mapped[str] = mapped_column(String(255))
    acquired_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    job_run_id: Mapped[int | None] = mapped_column(Integer)


class WeeklyReport(Base):
    """A weekly deprecation report: one per team per week, plus the org-wide one."""

    __tablename__ = "weekly_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    week_start: Mapped[date] = mapped_column(Date, index=True)
    scope: Mapped[str] = mapped_column(String(8))  # org | team
    team: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")  # "" for the org report
    generated_at: Mapped[datetime] = mapped_column()
    period_start: Mapped[datetime] = mapped_column()
    timezone: Mapped[str] = mapped_column(String(64))
    analysis_run_id: Mapped[int | None] = mapped_column(ForeignKey("analysis_runs.id"))
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    markdown: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("week_start", "scope", "team"),)


class ReportDelivery(Base):
    """An e-mail of a report to one recipient: attempts, the last error, when it was sent."""

    __tablename__ = "report_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(
        ForeignKey("weekly_reports.id", ondelete="CASCADE"), index=True
    )
    recipient: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(16))  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_attempt_at: Mapped[datetime | None] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (UniqueConstraint("report_id", "recipient"),)


# --- OpenLineage ---
# Run events received at /api/v1/lineage (registry/evidence/openlineage.py): one row per event
# (its key makes client retries harmless) and the datasets each job was seen reading and writing.


class OpenLineageEvent(Base):
    """A received OpenLineage RunEvent, keyed by run, event type, event time and job.

    ``features`` are the features whose read this event counted (each feature counts once per
    run, at the time of the first event of the run that names it).
    """

    __tablename__ = "openlineage_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_key: Mapped[str] = mapped_column(String(64), unique=True)
    run_id: Mapped[str] = mapped_column(String(255), index=True)
    event_type: Mapped[str] = mapped_column(String(16))
    event_time: Mapped[datetime] = mapped_column()
    job_namespace: Mapped[str] = mapped_column(Text)
    job_name: Mapped[str] = mapped_column(Text)
    principal: Mapped[str] = mapped_column(String(NAME_LENGTH), index=True)
    features: Mapped[list[str]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class OpenLineageDataset(Base):
    """A dataset a job (principal) was seen reading (input) or writing (output), with the source
    its name matched (if any) and when it was first and last seen. ``dataset_key`` is the
    SHA-256 of (principal, direction, namespace, name): dataset names can be long URLs."""

    __tablename__ = "openlineage_datasets"

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_key: Mapped[str] = mapped_column(String(64), unique=True)
    principal: Mapped[str] = mapped_column(String(NAME_LENGTH), index=True)
    direction: Mapped[str] = mapped_column(String(8))  # input | output
    namespace: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(String(NAME_LENGTH), index=True)
    first_seen: Mapped[datetime] = mapped_column()
    last_seen: Mapped[datetime] = mapped_column()
    events: Mapped[int] = mapped_column(BigInteger, default=1)


class OpenLineageRun(Base):
    """One OpenLineage run: its job, parent and root jobs, the principal
    its reads count for (one per run), its latest state, and ``reads``: each feature counted
    for the run with the time it was counted (ISO 8601)."""

    __tablename__ = "openlineage_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[str] = mapped_column(String(255), unique=True)
    job_namespace: Mapped[str] = mapped_column(Text)
    job_name: Mapped[str] = mapped_column(Text)
    principal: Mapped[str] = mapped_column(String(NAME_LENGTH), index=True)
    parent_run_id: Mapped[str | None] = mapped_column(String(255), index=True)
    parent_namespace: Mapped[str | None] = mapped_column(Text)
    parent_name: Mapped[str | None] = mapped_column(Text)
    root_namespace: Mapped[str | None] = mapped_column(Text)
    root_name: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    first_seen: Mapped[datetime] = mapped_column()
    last_seen: Mapped[datetime] = mapped_column()
    reads: Mapped[dict[str, str]] = mapped_column(JSON)
    outputs: Mapped[list[str]] = mapped_column(JSON)
    """The sources any event of the run named as outputs (its COMPLETE updates them all)."""


class OpenLineageDatasetFacts(Base):
    """What events said about one dataset (namespace, name): the schema's fields (``name``,
    ``type``, ``description``; nested fields by dotted path), the documentation and ownership
    facets, symlinks. ``dataset_key`` is the SHA-256 of (namespace, name)."""

    __tablename__ = "openlineage_dataset_facts"

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_key: Mapped[str] = mapped_column(String(64), unique=True)
    namespace: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    fields: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    description: Mapped[str | None] = mapped_column(Text)
    owners: Mapped[list[str]] = mapped_column(JSON)
    symlinks: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    last_seen: Mapped[datetime] = mapped_column()


class OpenLineageJob(Base):
    """What events said about one job (namespace, name): documentation, ownership, and the
    static lineage of its JobEvents (``declared_inputs``/``declared_outputs``: namespace and
    name of each dataset). ``job_key`` is the SHA-256 of (namespace, name)."""

    __tablename__ = "openlineage_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_key: Mapped[str] = mapped_column(String(64), unique=True)
    namespace: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    owners: Mapped[list[str]] = mapped_column(JSON)
    declared_inputs: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    declared_outputs: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    last_seen: Mapped[datetime] = mapped_column()


class OpenLineageColumnStat(Base):
    """Statistics an input facet reported for a dataset at a time: ``inputStatistics`` or
    ``dataQualityMetrics`` (``field`` None: the dataset's own, such as its row count)."""

    __tablename__ = "openlineage_column_stats"

    id: Mapped[int] = mapped_column(primary_key=True)
    namespace: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    field: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column()
    run_id: Mapped[str | None] = mapped_column(String(255))
    facet: Mapped[str] = mapped_column(String(32))
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (Index("ix_openlineage_column_stats_source_at", "source", "at"),)


class SourceUpdate(Base):
    """An observed update of a source: a COMPLETE OpenLineage run that wrote it, or a report
    (`featreg source refreshed`). Kept by source name, like other evidence."""

    __tablename__ = "source_updates"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(NAME_LENGTH))
    at: Mapped[datetime] = mapped_column()
    how: Mapped[str] = mapped_column(String(16))  # openlineage | reported
    run_id: Mapped[str | None] = mapped_column(String(255))
    actor: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_source_updates_source_at", "source", "at"),)


# --- Access ---


class ApiToken(Base):
    """An API credential of a team, or an admin's (with or without a team). Only the SHA-256
    of the secret is kept; ``prefix`` (its first characters) tells tokens apart."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"),
                                                index=True)  # None: an admin of no team
    admin: Mapped[bool] = mapped_column(default=False)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(NAME_LENGTH))
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()

    team: Mapped[Team | None] = relationship()
