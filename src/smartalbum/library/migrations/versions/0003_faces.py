"""Faces and people (smartalbum.faces): faces, people and corrections.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "people",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_people")),
    )
    op.create_index(op.f("ix_people_name"), "people", ["name"])

    op.create_table(
        "face_scans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "photo_id",
            sa.Integer(),
            sa.ForeignKey("photos.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("detector", sa.String(length=32), nullable=False),
        sa.Column("faces", sa.Integer(), nullable=False),
        sa.Column("scanned_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_face_scans")),
        sa.UniqueConstraint("photo_id", name=op.f("uq_face_scans_photo_id")),
    )

    op.create_table(
        "faces",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "photo_id",
            sa.Integer(),
            sa.ForeignKey("photos.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("x", sa.Float(), nullable=False),
        sa.Column("y", sa.Float(), nullable=False),
        sa.Column("w", sa.Float(), nullable=False),
        sa.Column("h", sa.Float(), nullable=False),
        sa.Column("landmarks", sa.JSON(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=False),
        sa.Column(
            "person_id",
            sa.Integer(),
            sa.ForeignKey("people.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("assigned_by", sa.String(length=8), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_faces")),
    )
    op.create_index(op.f("ix_faces_photo_id"), "faces", ["photo_id"])
    op.create_index(op.f("ix_faces_person_id"), "faces", ["person_id"])

    op.create_table(
        "face_rejections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "face_id",
            sa.Integer(),
            sa.ForeignKey("faces.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "person_id",
            sa.Integer(),
            sa.ForeignKey("people.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_face_rejections")),
        sa.UniqueConstraint(
            "face_id", "person_id", name=op.f("uq_face_rejections_face_id_person_id")
        ),
    )
    op.create_index(op.f("ix_face_rejections_face_id"), "face_rejections", ["face_id"])
    op.create_index(op.f("ix_face_rejections_person_id"), "face_rejections", ["person_id"])


def downgrade() -> None:
    for table in ("face_rejections", "faces", "face_scans", "people"):
        op.drop_table(table)
