"""The outbox with a position per reader (issue 9 §1).

Entries get the writing transaction's id (``xid``, 0 for the existing rows and on SQLite) and a
JSON payload; the one shared ``processed_at`` goes: each reader keeps its own position in
``outbox_readers`` (see crm.outbox).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crm.models import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("xid", sa.BigInteger(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("payload", sa.JSON(), nullable=True))
        batch_op.drop_index(batch_op.f("ix_outbox_processed_at"))
        batch_op.drop_column("processed_at")
        batch_op.create_index("ix_outbox_xid_id", ["xid", "id"], unique=False)
    op.create_table(
        "outbox_readers",
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("position_xid", sa.BigInteger(), nullable=False),
        sa.Column("position_id", sa.Integer(), nullable=False),
        sa.Column("acknowledged_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("registered_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_outbox_readers")),
    )


def downgrade() -> None:
    op.drop_table("outbox_readers")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_xid_id")
        batch_op.add_column(sa.Column("processed_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_outbox_processed_at"), ["processed_at"], unique=False)
        batch_op.drop_column("payload")
        batch_op.drop_column("xid")
