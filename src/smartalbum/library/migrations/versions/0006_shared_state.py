"""State that must be the same on every node: head versions, stored files, job uploads.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "head_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bundle_key", sa.String(length=160), nullable=False),
        sa.Column("head", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("head_version", sa.String(length=64), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_head_versions")),
        sa.UniqueConstraint(
            "bundle_key", "head", "version", name=op.f("uq_head_versions_bundle_key_head_version")
        ),
    )
    op.create_index(op.f("ix_head_versions_bundle_key"), "head_versions", ["bundle_key"])
    op.create_table(
        "stored_files",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_stored_files")),
    )
    op.create_table(
        "job_uploads",
        sa.Column("job_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_job_uploads_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("job_id", "position", name=op.f("pk_job_uploads")),
    )


def downgrade() -> None:
    op.drop_table("job_uploads")
    op.drop_table("stored_files")
    op.drop_index(op.f("ix_head_versions_bundle_key"), table_name="head_versions")
    op.drop_table("head_versions")
