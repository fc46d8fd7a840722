"""Chunked jobs for every heavy kind: live workers (chunk sizes adapt to their number),
each job's last progress (a job without any for a while shows as stalled), and what each
chunk reports (a chunked kind's final step gathers it into the job's result).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("progress_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("job_chunks") as batch:
        batch.add_column(sa.Column("result", sa.JSON(), nullable=True))
    op.create_table(
        "job_workers",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_job_workers")),
    )
    op.create_index(op.f("ix_job_workers_heartbeat_at"), "job_workers", ["heartbeat_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_job_workers_heartbeat_at"), table_name="job_workers")
    op.drop_table("job_workers")
    with op.batch_alter_table("job_chunks") as batch:
        batch.drop_column("result")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("progress_at")
