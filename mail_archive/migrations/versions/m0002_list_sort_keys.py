"""Lists at an archive's real size: sort keys stored and indexed, a record's mail by date.

- messages get sort_subject and sort_from (the subject and the sender as lists sort them:
  lower-cased, their first 200 characters), filled from each existing row, and an index per sort
  (status, key, id) so that a page is read from the index, from either end or from a given row;
- message_links get sort_at, their message's, and indexes (record, removed, sort_at, message)
  so that a dossier reads its newest mail from the top of an index; a covering index answers
  the permission rule's look-up of a message's links.

Existing rows keep every value; the new columns are filled before they become required.

Revision ID: m0002
Revises: m0001
Create Date: 2027-03-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crm.models import UTCDateTime

revision = "m0002"
down_revision = "m0001"
branch_labels = None
depends_on = None

KEY_LENGTH = 200
BATCH = 2000
OLD_LINK_INDEXES = {
    "ix_message_links_partner": "partner_id",
    "ix_message_links_deal": "deal_id",
    "ix_message_links_person": "person_id",
}


def _sort_text(text: str) -> str:
    # as mail_archive.models.sort_text did when this revision was written
    return " ".join(text.split()).lower()[:KEY_LENGTH]


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        # SQLite adds a NOT NULL column only with a default; every row is filled below
        batch.add_column(
            sa.Column("sort_subject", sa.String(KEY_LENGTH), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column("sort_from", sa.String(KEY_LENGTH), nullable=False, server_default="")
        )
    _fill_sort_keys()
    op.create_index("ix_messages_status_date", "messages", ["status", "sort_at", "id"])
    op.create_index("ix_messages_status_subject", "messages", ["status", "sort_subject", "id"])
    op.create_index("ix_messages_status_from", "messages", ["status", "sort_from", "id"])

    op.add_column("message_links", sa.Column("sort_at", UTCDateTime(timezone=True)))
    op.execute(
        "UPDATE message_links SET sort_at ="
        " (SELECT messages.sort_at FROM messages WHERE messages.id = message_links.message_id)"
    )
    with op.batch_alter_table("message_links") as batch:
        batch.alter_column("sort_at", existing_type=UTCDateTime(timezone=True), nullable=False)
    for name, column in OLD_LINK_INDEXES.items():
        op.drop_index(name, table_name="message_links")
        op.create_index(
            f"{name}_date", "message_links", [column, "removed", "sort_at", "message_id"]
        )
    op.create_index(
        "ix_message_links_message",
        "message_links",
        ["message_id", "removed", "partner_id", "deal_id", "person_id"],
    )


def _fill_sort_keys() -> None:
    """In batches by id, in Python: the same lower-casing as new rows get (SQLite's lower()
    knows only ASCII)."""
    messages = sa.table(
        "messages",
        sa.column("id", sa.Integer),
        sa.column("subject", sa.Text),
        sa.column("from_name", sa.String),
        sa.column("from_addr", sa.String),
        sa.column("sort_subject", sa.String),
        sa.column("sort_from", sa.String),
    )
    conn = op.get_bind()
    update = (
        messages.update()
        .where(messages.c.id == sa.bindparam("row_id"))
        .values(sort_subject=sa.bindparam("subject_key"), sort_from=sa.bindparam("from_key"))
    )
    last = 0
    while True:
        rows = conn.execute(
            sa.select(messages.c.id, messages.c.subject, messages.c.from_name, messages.c.from_addr)
            .where(messages.c.id > last)
            .order_by(messages.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        conn.execute(
            update,
            [
                {
                    "row_id": r.id,
                    "subject_key": _sort_text(r.subject or ""),
                    "from_key": _sort_text(r.from_name or r.from_addr or ""),
                }
                for r in rows
            ],
        )
        last = rows[-1].id


def downgrade() -> None:
    op.drop_index("ix_message_links_message", table_name="message_links")
    for name, column in OLD_LINK_INDEXES.items():
        op.drop_index(f"{name}_date", table_name="message_links")
        op.create_index(name, "message_links", [column, "removed"])
    with op.batch_alter_table("message_links") as batch:
        batch.drop_column("sort_at")
    op.drop_index("ix_messages_status_from", table_name="messages")
    op.drop_index("ix_messages_status_subject", table_name="messages")
    op.drop_index("ix_messages_status_date", table_name="messages")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("sort_from")
        batch.drop_column("sort_subject")
