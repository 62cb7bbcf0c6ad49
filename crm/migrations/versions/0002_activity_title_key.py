"""Activities get title_key (accent-free, lower-case) so their search ignores accents.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crm.text import fold

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("activities") as batch:
        batch.add_column(sa.Column("title_key", sa.String(250), nullable=False, server_default=""))
        batch.create_index("ix_activities_title_key", ["title_key"])
    activities = sa.table(
        "activities",
        sa.column("id", sa.Integer),
        sa.column("title", sa.String),
        sa.column("title_key", sa.String),
    )
    conn = op.get_bind()
    rows = conn.execute(sa.select(activities.c.id, activities.c.title)).all()
    for row in rows:
        conn.execute(
            activities.update().where(activities.c.id == row.id).values(title_key=fold(row.title))
        )


def downgrade() -> None:
    with op.batch_alter_table("activities") as batch:
        batch.drop_index("ix_activities_title_key")
        batch.drop_column("title_key")
