"""source updates, readiness, expect, stage, snapshot history

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 10:27:40.872303
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "source_updates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("how", sa.String(length=16), nullable=False),
        sa.Column("run_id", sa.String(length=255), nullable=True),
        sa.Column("actor", sa.String(length=128), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_source_updates")),
    )
    with op.batch_alter_table("source_updates", schema=None) as batch_op:
        batch_op.create_index("ix_source_updates_source_at", ["source", "at"], unique=False)
    with op.batch_alter_table("consumers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stage", sa.String(length=16),
                                      server_default="development", nullable=False))
    with op.batch_alter_table("features", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expect", sa.JSON(), nullable=True))
    with op.batch_alter_table("snapshot_feature_stats", schema=None) as batch_op:
        batch_op.add_column(sa.Column("profile", sa.JSON(), nullable=True))
    with op.batch_alter_table("snapshots", schema=None) as batch_op:
        batch_op.add_column(sa.Column("taken_at", sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f("ix_snapshots_taken_at"), ["taken_at"], unique=False)
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.add_column(sa.Column("readiness", sa.String(length=1), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.drop_column("readiness")
    with op.batch_alter_table("snapshots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_snapshots_taken_at"))
        batch_op.drop_column("taken_at")
    with op.batch_alter_table("snapshot_feature_stats", schema=None) as batch_op:
        batch_op.drop_column("profile")
    with op.batch_alter_table("features", schema=None) as batch_op:
        batch_op.drop_column("expect")
    with op.batch_alter_table("consumers", schema=None) as batch_op:
        batch_op.drop_column("stage")
    with op.batch_alter_table("source_updates", schema=None) as batch_op:
        batch_op.drop_index("ix_source_updates_source_at")
    op.drop_table("source_updates")
