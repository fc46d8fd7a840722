"""Actions where people expect them: dismissed faces, undoable merges, library settings.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("faces") as batch:
        batch.add_column(sa.Column("dismissed_at", sa.DateTime(), nullable=True))
        batch.create_index(batch.f("ix_faces_dismissed_at"), ["dismissed_at"])
    op.create_table(
        "person_merges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "keep_id",
            sa.Integer(),
            sa.ForeignKey("people.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("undone_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_merges")),
    )
    op.create_index(op.f("ix_person_merges_keep_id"), "person_merges", ["keep_id"])
    op.create_table(
        "library_settings",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_library_settings")),
    )


def downgrade() -> None:
    op.drop_table("library_settings")
    op.drop_table("person_merges")
    with op.batch_alter_table("faces") as batch:
        batch.drop_index(batch.f("ix_faces_dismissed_at"))
        batch.drop_column("dismissed_at")
