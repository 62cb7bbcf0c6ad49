"""Workers' state seen across processes, and requests for workers (issue 9 §2).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crm.models import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "worker_status",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("started_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_run_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_worker_status")),
        sa.UniqueConstraint("name", "host", "pid", name=op.f("uq_worker_status_name")),
    )
    op.create_table(
        "worker_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(length=60), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("requested_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_worker_requests")),
    )
    op.create_index(op.f("ix_worker_requests_worker"), "worker_requests", ["worker"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_worker_requests_worker"), table_name="worker_requests")
    op.drop_table("worker_requests")
    op.drop_table("worker_status")
