"""The catalog's part of the one schema (teams, change sets, sources, features, consumers, their
edges and the audit trail), and the declarative base every model derives from.

`registry.store.models` re-exports these with the rest of the schema; plan and apply import
only this module: mapping all forty models costs about 60 ms of every `featreg apply`.

Every edge of the dependency graph is a real row (feature→source, feature→feature,
consumer→feature, source→producing consumer) so lineage and impact are queries, not parsing.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from registry.core.names import NAME_LENGTH

naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive UTC)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: Featreg stores timezone-aware times")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=naming_convention)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON}


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    contact: Mapped[str | None] = mapped_column(String(320))
    description: Mapped[str] = mapped_column(Text, default="")
    registered_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChangeSet(Base):
    """One apply, one SDK batch or one CLI command: the unit that first registers objects."""

    __tablename__ = "change_sets"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # apply | sdk | cli | scheduler
    actor: Mapped[str] = mapped_column(String(NAME_LENGTH))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    label: Mapped[str | None] = mapped_column(String(255))
    features_added: Mapped[int] = mapped_column(Integer, default=0)


class Source(Base):
    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    owner_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    produced_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("consumers.id"), index=True
    )
    freshness: Mapped[str | None] = mapped_column(String(64))
    readiness: Mapped[str | None] = mapped_column(String(1))  # C | B | A; None: not assessed
    openlineage: Mapped[list[dict[str, str]] | None] = mapped_column(JSON)
    """OpenLineage datasets ({namespace, name}) that are this source (aliases for matching)."""
    registered_at: Mapped[datetime] = mapped_column(default=utcnow)

    owner: Mapped[Team] = relationship(lazy="joined")
    produced_by: Mapped[Consumer | None] = relationship(foreign_keys=[produced_by_id])


class FeatureSource(Base):
    """Edge: a feature is computed from a source."""

    __tablename__ = "feature_sources"

    feature_id: Mapped[int] = mapped_column(
        ForeignKey("features.id", ondelete="CASCADE"), primary_key=True
    )
    source_id: Mapped[int] = mapped_column(
        ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class FeatureDependency(Base):
    """Edge: `feature` is derived from `depends_on` (another feature)."""

    __tablename__ = "feature_dependencies"

    feature_id: Mapped[int] = mapped_column(
        ForeignKey("features.id", ondelete="CASCADE"), primary_key=True
    )
    depends_on_id: Mapped[int] = mapped_column(
        ForeignKey("features.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class FeatureTag(Base):
    __tablename__ = "feature_tags"

    feature_id: Mapped[int] = mapped_column(
        ForeignKey("features.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class Feature(Base):
    __tablename__ = "features"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    dtype: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text, default="")
    bundle: Mapped[str | None] = mapped_column(String(NAME_LENGTH), index=True)
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)
    sunset: Mapped[date | None] = mapped_column(Date)
    replacement_id: Mapped[int | None] = mapped_column(ForeignKey("features.id"), index=True)
    deprecation_reason: Mapped[str | None] = mapped_column(Text)
    cost: Mapped[float | None] = mapped_column(Float)
    created: Mapped[datetime] = mapped_column(default=utcnow)
    expect: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    registered_at: Mapped[datetime] = mapped_column(default=utcnow)
    changeset_id: Mapped[int | None] = mapped_column(ForeignKey("change_sets.id"), index=True)

    owner: Mapped[Team] = relationship(lazy="joined")
    replacement: Mapped[Feature | None] = relationship(remote_side=[id])


class Consumer(Base):
    __tablename__ = "consumers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    owner_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[str | None] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(16), default="development",
                                       server_default="development")
    registered_at: Mapped[datetime] = mapped_column(default=utcnow)

    owner: Mapped[Team] = relationship(lazy="joined")


class ConsumerFeature(Base):
    """Edge: a consumer declares that it reads a feature."""

    __tablename__ = "consumer_features"

    consumer_id: Mapped[int] = mapped_column(
        ForeignKey("consumers.id", ondelete="CASCADE"), primary_key=True
    )
    feature_id: Mapped[int] = mapped_column(
        ForeignKey("features.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class AuditEvent(Base):
    """Who changed what, when, with the before/after of each field."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    changeset_id: Mapped[int | None] = mapped_column(ForeignKey("change_sets.id"), index=True)
    ts: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(NAME_LENGTH))
    action: Mapped[str] = mapped_column(String(32))
    object_type: Mapped[str] = mapped_column(String(16))
    object_name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (Index("ix_audit_events_object", "object_type", "object_name"),)
