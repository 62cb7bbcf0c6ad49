"""The connector's tables: mail accounts and their folders' sync checkpoints.

Until the split of issue 9 these were made by crm's 0003_mail; that revision is now empty.

Revision ID: c0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crm.models import UTCDateTime

revision = "c0001"
down_revision = None
branch_labels = ("connector",)
depends_on = "0001"  # users


def upgrade() -> None:
    # A database made before the split already has these tables (crm's 0003 created them):
    # each table is created only when it is missing, so such a database keeps its rows.
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "mail_accounts" not in existing:
        _create_mail_accounts()
    if "mail_folder_states" not in existing:
        _create_mail_folder_states()


def downgrade() -> None:
    op.drop_table("mail_folder_states")
    op.drop_table("mail_accounts")


def _create_mail_accounts() -> None:
    op.create_table(
        "mail_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("security", sa.String(length=10), nullable=False),
        sa.Column("username", sa.String(length=320), nullable=False),
        sa.Column("password_env", sa.String(length=100), nullable=False),
        sa.Column("password_encrypted", sa.Text(), nullable=False),
        sa.Column("oauth_command", sa.Text(), nullable=False),
        sa.Column("folders", sa.JSON(), nullable=False),
        sa.Column("filing_folder", sa.String(length=200), nullable=False),
        sa.Column("smtp_host", sa.String(length=255), nullable=False),
        sa.Column("smtp_port", sa.Integer(), nullable=True),
        sa.Column("smtp_security", sa.String(length=10), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_sync_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("last_error_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_mail_accounts_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_accounts")),
        sa.UniqueConstraint("name", name=op.f("uq_mail_accounts_name")),
    )
    op.create_index(op.f("ix_mail_accounts_user_id"), "mail_accounts", ["user_id"], unique=False)


def _create_mail_folder_states() -> None:
    op.create_table(
        "mail_folder_states",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("folder", sa.String(length=500), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("last_uid", sa.BigInteger(), nullable=False),
        sa.Column("highest_modseq", sa.BigInteger(), nullable=True),
        sa.Column("messages_seen", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["mail_accounts.id"],
            name=op.f("fk_mail_folder_states_account_id_mail_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_folder_states")),
        sa.UniqueConstraint("account_id", "folder", name="uq_mail_folder_states"),
    )
