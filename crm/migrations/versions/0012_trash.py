"""The trash (issue 10, "Delete"), and the deal list's sort indexes.

A deleted partner, person, deal or activity keeps its row with
``deleted_at`` and ``deleted_by_id`` set; crm.permissions.visible hides it from everyone until
an administrator restores it, and crm.trash removes it for good after 30 days. Existing rows are
not deleted (NULL). On SQLite the tables are rebuilt with foreign keys off (crm/migrations/env.py).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crm.models import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

TABLES = ("partners", "persons", "deals", "activities")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("deleted_at", UTCDateTime(timezone=True), nullable=True))
            batch.add_column(sa.Column("deleted_by_id", sa.Integer(), nullable=True))
            batch.create_foreign_key(
                f"fk_{table}_deleted_by_id_users",
                "users",
                ["deleted_by_id"],
                ["id"],
                ondelete="SET NULL",
            )
    for table in TABLES:  # the trash's rows only: "deleted_at IS NULL" must not pick it
        op.create_index(
            f"ix_{table}_in_trash",
            table,
            ["deleted_at"],
            sqlite_where=sa.text("deleted_at IS NOT NULL"),
            postgresql_where=sa.text("deleted_at IS NOT NULL"),
        )

    # the deal list's default order (at 30,000 deals, sorting every visible row took most of
    # the page's time)
    op.create_index("ix_deals_created_at", "deals", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_deals_created_at", table_name="deals")
    for table in TABLES:
        op.drop_index(f"ix_{table}_in_trash", table_name=table)
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"fk_{table}_deleted_by_id_users", type_="foreignkey")
            batch.drop_column("deleted_by_id")
            batch.drop_column("deleted_at")
