"""The mail archive's tables: messages, their sources, attachments and links to records.

Until the split of issue 9 these were made by crm's 0003_mail; that revision is now empty.

Revision ID: m0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crm.models import UTCDateTime

revision = "m0001"
down_revision = None
branch_labels = ("mail_archive",)
depends_on = "0001"  # users, partners, persons and deals


def upgrade() -> None:
    # A database made before the split already has these tables (crm's 0003 created them):
    # each table is created only when it is missing, so such a database keeps its rows.
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "messages" not in existing:
        _create_messages()
    if "message_attachments" not in existing:
        _create_message_attachments()
    if "message_sources" not in existing:
        _create_message_sources()
    if "message_links" not in existing:
        _create_message_links()


def downgrade() -> None:
    op.drop_table("message_links")
    op.drop_table("message_sources")
    op.drop_table("message_attachments")
    op.drop_table("messages")


def _create_messages() -> None:
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("internet_id", sa.String(length=500), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("from_name", sa.String(length=300), nullable=False),
        sa.Column("from_addr", sa.String(length=320), nullable=False),
        sa.Column("to_addrs", sa.JSON(), nullable=False),
        sa.Column("cc_addrs", sa.JSON(), nullable=False),
        sa.Column("sent_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("archived_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("sort_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("in_reply_to", sa.String(length=500), nullable=False),
        sa.Column("references", sa.JSON(), nullable=False),
        sa.Column("thread_key", sa.String(length=500), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("remote_blocked", sa.Integer(), nullable=False),
        sa.Column("defects", sa.JSON(), nullable=False),
        sa.Column("auto", sa.Boolean(), nullable=False),
        sa.Column("has_attachments", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_messages_owner_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint("sha256", name=op.f("uq_messages_sha256")),
    )
    op.create_index(op.f("ix_messages_from_addr"), "messages", ["from_addr"], unique=False)
    op.create_index(op.f("ix_messages_internet_id"), "messages", ["internet_id"], unique=False)
    op.create_index(op.f("ix_messages_sort_at"), "messages", ["sort_at"], unique=False)
    op.create_index("ix_messages_status_owner", "messages", ["status", "owner_id"], unique=False)
    op.create_index(op.f("ix_messages_thread_key"), "messages", ["thread_key"], unique=False)


def _create_message_attachments() -> None:
    op.create_table(
        "message_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=127), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("inline", sa.Boolean(), nullable=False),
        sa.Column("content_id", sa.String(length=255), nullable=False),
        sa.Column("origin", sa.String(length=10), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_message_attachments_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_attachments")),
    )
    op.create_index(
        op.f("ix_message_attachments_message_id"),
        "message_attachments",
        ["message_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_message_attachments_sha256"), "message_attachments", ["sha256"], unique=False
    )


def _create_message_sources() -> None:
    op.create_table(
        "message_sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=700), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("folder", sa.String(length=500), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_message_sources_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_message_sources_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_sources")),
        sa.UniqueConstraint("message_id", "key", name="uq_message_sources_key"),
    )
    op.create_index(
        op.f("ix_message_sources_account_id"), "message_sources", ["account_id"], unique=False
    )


def _create_message_links() -> None:
    op.create_table(
        "message_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=40), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("deal_id", sa.Integer(), nullable=True),
        sa.Column("how", sa.String(length=10), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.Column("removed_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_message_links_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["deal_id"],
            ["deals.id"],
            name=op.f("fk_message_links_deal_id_deals"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_message_links_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_message_links_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_message_links_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["removed_by_id"],
            ["users.id"],
            name=op.f("fk_message_links_removed_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_links")),
        sa.UniqueConstraint("message_id", "target", name="uq_message_links_target"),
    )
    op.create_index("ix_message_links_deal", "message_links", ["deal_id", "removed"], unique=False)
    op.create_index(
        "ix_message_links_partner", "message_links", ["partner_id", "removed"], unique=False
    )
    op.create_index(
        "ix_message_links_person", "message_links", ["person_id", "removed"], unique=False
    )
