"""Record versions for conditional writes (issue 9 §6): every partner, person, deal and
activity gets ``version`` (existing rows start at 1) and ``updated_by_id``, the user who saved
it last (kept NULL for rows saved before this revision; SET NULL when that user is deleted).
On SQLite the tables are rebuilt with foreign keys off (crm/migrations/env.py).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TABLES = ("partners", "persons", "deals", "activities")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))
            batch.add_column(sa.Column("updated_by_id", sa.Integer(), nullable=True))
            batch.create_foreign_key(
                f"fk_{table}_updated_by_id_users",
                "users",
                ["updated_by_id"],
                ["id"],
                ondelete="SET NULL",
            )


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"fk_{table}_updated_by_id_users", type_="foreignkey")
            batch.drop_column("updated_by_id")
            batch.drop_column("version")
