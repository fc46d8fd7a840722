"""Taught categories (custom heads), head versions and members.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _category_fk() -> sa.ForeignKey:
    return sa.ForeignKey("categories.id", ondelete="CASCADE")


def _photo_fk() -> sa.ForeignKey:
    return sa.ForeignKey("photos.id", ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "categories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_categories")),
        sa.UniqueConstraint("name", name=op.f("uq_categories_name")),
    )
    op.create_table(
        "category_examples",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), _category_fk(), nullable=False),
        sa.Column("photo_id", sa.Integer(), _photo_fk(), nullable=False),
        sa.Column("positive", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_category_examples")),
        sa.UniqueConstraint(
            "category_id", "photo_id", name=op.f("uq_category_examples_category_id_photo_id")
        ),
    )
    op.create_index(op.f("ix_category_examples_category_id"), "category_examples", ["category_id"])
    op.create_index(op.f("ix_category_examples_photo_id"), "category_examples", ["photo_id"])
    op.create_table(
        "category_heads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), _category_fk(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("backbone_version", sa.String(length=32), nullable=False),
        sa.Column("head", sa.JSON(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_category_heads")),
        sa.UniqueConstraint(
            "category_id", "version", name=op.f("uq_category_heads_category_id_version")
        ),
    )
    op.create_index(op.f("ix_category_heads_category_id"), "category_heads", ["category_id"])
    op.create_table(
        "category_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), _category_fk(), nullable=False),
        sa.Column("photo_id", sa.Integer(), _photo_fk(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("head_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_category_members")),
        sa.UniqueConstraint(
            "category_id", "photo_id", name=op.f("uq_category_members_category_id_photo_id")
        ),
    )
    op.create_index(op.f("ix_category_members_category_id"), "category_members", ["category_id"])
    op.create_index(op.f("ix_category_members_photo_id"), "category_members", ["photo_id"])


def downgrade() -> None:
    for table in ("category_members", "category_heads", "category_examples", "categories"):
        op.drop_table(table)
