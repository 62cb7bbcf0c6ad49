"""Codebook entries get a label per UI language (issue 10, "their language, everywhere").

The shipped entries of an existing database (matched by codebook and label, as ``seed_codebooks``
made them) get their Czech, Slovak, Polish and English labels; entries an admin added or renamed
keep what they have and read the same in every language until an admin translates them.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crm.services.codebooks import shipped_entries

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("codebook_entries") as batch:
        batch.add_column(sa.Column("labels", sa.JSON(), nullable=False, server_default="{}"))
    entries = sa.table(
        "codebook_entries",
        sa.column("codebook", sa.String),
        sa.column("label", sa.String),
        sa.column("labels", sa.JSON),
    )
    conn = op.get_bind()
    for codebook, shipped in shipped_entries().items():
        for item in shipped:
            if item.labels:
                conn.execute(
                    entries.update()
                    .where(entries.c.codebook == codebook, entries.c.label == item.label)
                    .values(labels=item.labels)
                )


def downgrade() -> None:
    with op.batch_alter_table("codebook_entries") as batch:
        batch.drop_column("labels")
