"""A mail account's last error also as a message template and its values (issue 10: "their
language, everywhere"), so each user reads "could not connect to the server …" in their own
language; ``last_error`` keeps the English text for the log and ``dossier account list``.
Errors stored before this revision stay as they were, in English.

Revision ID: c0003
Revises: c0002
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "c0003"
down_revision = "c0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mail_accounts") as batch:
        batch.add_column(sa.Column("last_error_text", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mail_accounts") as batch:
        batch.drop_column("last_error_text")
