"""OpenLineage: received run events (idempotency keys) and the datasets jobs read and write.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 02:39:40.291115
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "openlineage_datasets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_key", sa.String(length=64), nullable=False),
        sa.Column("principal", sa.String(length=128), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("namespace", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=128), nullable=True),
        sa.Column("first_seen", sa.DateTime(), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_openlineage_datasets")),
        sa.UniqueConstraint("dataset_key", name=op.f("uq_openlineage_datasets_dataset_key")),
    )
    with op.batch_alter_table("openlineage_datasets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_openlineage_datasets_principal"), ["principal"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_openlineage_datasets_source"), ["source"], unique=False
        )

    op.create_table(
        "openlineage_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_key", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.String(length=255), nullable=False),
        sa.Column("event_type", sa.String(length=16), nullable=False),
        sa.Column("event_time", sa.DateTime(), nullable=False),
        sa.Column("job_namespace", sa.Text(), nullable=False),
        sa.Column("job_name", sa.Text(), nullable=False),
        sa.Column("principal", sa.String(length=128), nullable=False),
        sa.Column("features", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_openlineage_events")),
        sa.UniqueConstraint("event_key", name=op.f("uq_openlineage_events_event_key")),
    )
    with op.batch_alter_table("openlineage_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_openlineage_events_principal"), ["principal"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_openlineage_events_run_id"), ["run_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("openlineage_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_openlineage_events_run_id"))
        batch_op.drop_index(batch_op.f("ix_openlineage_events_principal"))

    op.drop_table("openlineage_events")
    with op.batch_alter_table("openlineage_datasets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_openlineage_datasets_source"))
        batch_op.drop_index(batch_op.f("ix_openlineage_datasets_principal"))

    op.drop_table("openlineage_datasets")
