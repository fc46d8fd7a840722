"""Initial catalog: photos, files, embeddings, predictions, corrections, errors, runs.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _photo_fk() -> sa.ForeignKey:
    return sa.ForeignKey("photos.id", ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "photos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("taken_at", sa.DateTime(), nullable=True),
        sa.Column("taken_at_source", sa.String(length=8), nullable=True),
        sa.Column("tz_offset_min", sa.Integer(), nullable=True),
        sa.Column("camera_make", sa.String(length=128), nullable=True),
        sa.Column("camera_model", sa.String(length=128), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("altitude", sa.Float(), nullable=True),
        sa.Column("city", sa.String(length=200), nullable=True),
        sa.Column("region", sa.String(length=200), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("blur", sa.Float(), nullable=True),
        sa.Column("exposure_mean", sa.Float(), nullable=True),
        sa.Column("exposure_dark", sa.Float(), nullable=True),
        sa.Column("exposure_bright", sa.Float(), nullable=True),
        sa.Column("exposure_verdict", sa.String(length=8), nullable=True),
        sa.Column("phash", sa.BigInteger(), nullable=True),
        sa.Column("dhash", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_photos")),
        sa.UniqueConstraint("sha256", name=op.f("uq_photos_sha256")),
    )
    op.create_index(op.f("ix_photos_country"), "photos", ["country"])
    op.create_index(op.f("ix_photos_phash"), "photos", ["phash"])
    op.create_index(op.f("ix_photos_taken_at"), "photos", ["taken_at"])

    op.create_table(
        "files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("photo_id", sa.Integer(), _photo_fk(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("first_seen", sa.DateTime(), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_files")),
        sa.UniqueConstraint("path", name=op.f("uq_files_path")),
    )
    op.create_index(op.f("ix_files_photo_id"), "files", ["photo_id"])
    op.create_index(op.f("ix_files_status"), "files", ["status"])

    op.create_table(
        "embeddings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("photo_id", sa.Integer(), _photo_fk(), nullable=False),
        sa.Column("backbone_version", sa.String(length=32), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_embeddings")),
        sa.UniqueConstraint(
            "photo_id", "backbone_version", name=op.f("uq_embeddings_photo_id_backbone_version")
        ),
    )
    op.create_index(op.f("ix_embeddings_backbone_version"), "embeddings", ["backbone_version"])

    op.create_table(
        "predictions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("photo_id", sa.Integer(), _photo_fk(), nullable=False),
        sa.Column("head", sa.String(length=64), nullable=False),
        sa.Column("head_version", sa.String(length=32), nullable=False),
        sa.Column("backbone_version", sa.String(length=32), nullable=False),
        sa.Column("label", sa.String(length=128), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("uncertain", sa.Boolean(), nullable=False),
        sa.Column("probabilities", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_predictions")),
        sa.UniqueConstraint(
            "photo_id",
            "head",
            "head_version",
            "backbone_version",
            name=op.f("uq_predictions_photo_id_head_head_version_backbone_version"),
        ),
    )
    op.create_index("ix_predictions_head_label", "predictions", ["head", "head_version", "label"])

    op.create_table(
        "corrections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("photo_id", sa.Integer(), _photo_fk(), nullable=False),
        sa.Column("label", sa.String(length=128), nullable=False),
        sa.Column("head", sa.String(length=64), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_corrections")),
    )
    op.create_index(op.f("ix_corrections_photo_id"), "corrections", ["photo_id"])

    op.create_table(
        "index_errors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_index_errors")),
        sa.UniqueConstraint("path", name=op.f("uq_index_errors_path")),
    )

    op.create_table(
        "index_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("roots", sa.JSON(), nullable=False),
        sa.Column("backbone_version", sa.String(length=32), nullable=True),
        sa.Column("head", sa.String(length=64), nullable=True),
        sa.Column("head_version", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_index_runs")),
    )


def downgrade() -> None:
    for table in (
        "index_runs",
        "index_errors",
        "corrections",
        "predictions",
        "embeddings",
        "files",
        "photos",
    ):
        op.drop_table(table)
