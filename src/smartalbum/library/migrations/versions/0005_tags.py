"""Automatic tags and search: photo tags (automatic and the user's) and tagging state.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _photo_fk() -> sa.ForeignKey:
    return sa.ForeignKey("photos.id", ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "photo_tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("photo_id", sa.Integer(), _photo_fk(), nullable=False),
        sa.Column("tag", sa.String(length=64), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("vocabulary_version", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_photo_tags")),
        sa.UniqueConstraint("photo_id", "tag", name=op.f("uq_photo_tags_photo_id_tag")),
    )
    op.create_index(op.f("ix_photo_tags_photo_id"), "photo_tags", ["photo_id"])
    op.create_index(op.f("ix_photo_tags_tag"), "photo_tags", ["tag"])

    op.create_table(
        "photo_tag_state",
        sa.Column("photo_id", sa.Integer(), _photo_fk(), nullable=False),
        sa.Column("vocabulary_version", sa.String(length=16), nullable=False),
        sa.Column("backbone_version", sa.String(length=32), nullable=False),
        sa.Column("tagged_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("photo_id", name=op.f("pk_photo_tag_state")),
    )
    op.create_index(
        op.f("ix_photo_tag_state_vocabulary_version"), "photo_tag_state", ["vocabulary_version"]
    )


def downgrade() -> None:
    op.drop_table("photo_tag_state")
    op.drop_table("photo_tags")
