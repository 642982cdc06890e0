"""openlineage runs, dataset facts, jobs, column stats, source aliases

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 12:24:30.542995
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "openlineage_column_stats",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("namespace", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=128), nullable=True),
        sa.Column("field", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("run_id", sa.String(length=255), nullable=True),
        sa.Column("facet", sa.String(length=32), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_openlineage_column_stats")),
    )
    with op.batch_alter_table("openlineage_column_stats", schema=None) as batch_op:
        batch_op.create_index(
            "ix_openlineage_column_stats_source_at", ["source", "at"], unique=False
        )

    op.create_table(
        "openlineage_dataset_facts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_key", sa.String(length=64), nullable=False),
        sa.Column("namespace", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("owners", sa.JSON(), nullable=False),
        sa.Column("symlinks", sa.JSON(), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_openlineage_dataset_facts")),
        sa.UniqueConstraint("dataset_key", name=op.f("uq_openlineage_dataset_facts_dataset_key")),
    )
    op.create_table(
        "openlineage_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_key", sa.String(length=64), nullable=False),
        sa.Column("namespace", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("owners", sa.JSON(), nullable=False),
        sa.Column("declared_inputs", sa.JSON(), nullable=False),
        sa.Column("declared_outputs", sa.JSON(), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_openlineage_jobs")),
        sa.UniqueConstraint("job_key", name=op.f("uq_openlineage_jobs_job_key")),
    )
    op.create_table(
        "openlineage_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=255), nullable=False),
        sa.Column("job_namespace", sa.Text(), nullable=False),
        sa.Column("job_name", sa.Text(), nullable=False),
        sa.Column("principal", sa.String(length=128), nullable=False),
        sa.Column("parent_run_id", sa.String(length=255), nullable=True),
        sa.Column("parent_namespace", sa.Text(), nullable=True),
        sa.Column("parent_name", sa.Text(), nullable=True),
        sa.Column("root_namespace", sa.Text(), nullable=True),
        sa.Column("root_name", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("first_seen", sa.DateTime(), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
        sa.Column("reads", sa.JSON(), nullable=False),
        sa.Column("outputs", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_openlineage_runs")),
        sa.UniqueConstraint("run_id", name=op.f("uq_openlineage_runs_run_id")),
    )
    with op.batch_alter_table("openlineage_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_openlineage_runs_parent_run_id"), ["parent_run_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_openlineage_runs_principal"), ["principal"], unique=False
        )

    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.add_column(sa.Column("openlineage", sa.JSON(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.drop_column("openlineage")

    with op.batch_alter_table("openlineage_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_openlineage_runs_principal"))
        batch_op.drop_index(batch_op.f("ix_openlineage_runs_parent_run_id"))

    op.drop_table("openlineage_runs")
    op.drop_table("openlineage_jobs")
    op.drop_table("openlineage_dataset_facts")
    with op.batch_alter_table("openlineage_column_stats", schema=None) as batch_op:
        batch_op.drop_index("ix_openlineage_column_stats_source_at")

    op.drop_table("openlineage_column_stats")
