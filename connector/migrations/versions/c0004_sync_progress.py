"""A sync pass as its page follows it (issue: "Sync now" shows progress and the result without a
reload): ``sync_state`` (queued, running, or empty), when it last changed, and the messages read
and filed by the pass under way or the last one. Passes made before this revision have no
counts (NULL): the page then shows only when the account was last synced.

Accounts whose SMTP port is 465 but whose security says STARTTLS become SSL/TLS: port 465 is
implicit TLS (RFC 8314 §3.3), so such an account never sent a message. The account form had no
choice of SMTP security before this work and saved STARTTLS whatever port was typed.

Revision ID: c0004
Revises: c0003
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crm.models import UTCDateTime

revision = "c0004"
down_revision = "c0003"
branch_labels = None
depends_on = None

_ACCOUNTS = sa.table(
    "mail_accounts",
    sa.column("smtp_port", sa.Integer()),
    sa.column("smtp_security", sa.String(10)),
)


def upgrade() -> None:
    with op.batch_alter_table("mail_accounts") as batch:
        batch.add_column(
            sa.Column("sync_state", sa.String(length=10), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("sync_state_at", UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("sync_read", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("sync_filed", sa.Integer(), nullable=True))
    with op.batch_alter_table("mail_accounts") as batch:
        batch.alter_column("sync_state", server_default=None)
    op.execute(
        _ACCOUNTS.update()
        .where(_ACCOUNTS.c.smtp_port == 465, _ACCOUNTS.c.smtp_security == "starttls")
        .values(smtp_security="tls")
    )


def downgrade() -> None:
    with op.batch_alter_table("mail_accounts") as batch:
        batch.drop_column("sync_filed")
        batch.drop_column("sync_read")
        batch.drop_column("sync_state_at")
        batch.drop_column("sync_state")
