"""A folder's checkpoint is opaque text that only its kind of mail source reads (issue 9).

IMAP's UIDVALIDITY, last UID and HIGHESTMODSEQ move from their own columns into ``checkpoint``
as the IMAP source writes it (connector.imap.ImapCheckpoint: compact JSON), row by row, so an
account goes on from where it was: nothing is read twice or skipped. An EWS sync state or a
Graph deltaLink fits the same column.

Revision ID: c0002
Revises: c0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "c0002"
down_revision = "c0001"
branch_labels = None
depends_on = None

_STATES = sa.table(
    "mail_folder_states",
    sa.column("id", sa.Integer()),
    sa.column("uidvalidity", sa.BigInteger()),
    sa.column("last_uid", sa.BigInteger()),
    sa.column("highest_modseq", sa.BigInteger()),
    sa.column("checkpoint", sa.Text()),
)


def _imap_checkpoint(uidvalidity: int, last_uid: int, modseq: int | None) -> str:
    # as connector.imap.ImapCheckpoint.encode writes it (frozen here: this is history)
    return json.dumps(
        {"uidvalidity": uidvalidity, "uid": last_uid, "modseq": modseq}, separators=(",", ":")
    )


def upgrade() -> None:
    with op.batch_alter_table("mail_folder_states") as batch:
        batch.add_column(sa.Column("checkpoint", sa.Text(), nullable=False, server_default=""))
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(_STATES.c.id, _STATES.c.uidvalidity, _STATES.c.last_uid, _STATES.c.highest_modseq)
    ).all()
    for state_id, uidvalidity, last_uid, modseq in rows:
        conn.execute(
            _STATES.update()
            .where(_STATES.c.id == state_id)
            .values(checkpoint=_imap_checkpoint(int(uidvalidity), int(last_uid or 0), modseq))
        )
    with op.batch_alter_table("mail_folder_states") as batch:
        batch.drop_column("highest_modseq")
        batch.drop_column("last_uid")
        batch.drop_column("uidvalidity")


def downgrade() -> None:
    with op.batch_alter_table("mail_folder_states") as batch:
        batch.add_column(
            sa.Column("uidvalidity", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("last_uid", sa.BigInteger(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("highest_modseq", sa.BigInteger(), nullable=True))
    conn = op.get_bind()
    for state_id, checkpoint in conn.execute(sa.select(_STATES.c.id, _STATES.c.checkpoint)).all():
        try:
            found = json.loads(checkpoint or "{}")
            values = {
                "uidvalidity": int(found["uidvalidity"]),
                "last_uid": int(found["uid"]),
                "highest_modseq": found.get("modseq"),
            }
        except (ValueError, KeyError, TypeError):
            # another kind's checkpoint: IMAP columns cannot hold it; the folder is read again
            # and dedupe absorbs the copies
            values = {"uidvalidity": 0, "last_uid": 0, "highest_modseq": None}
        conn.execute(_STATES.update().where(_STATES.c.id == state_id).values(**values))
    with op.batch_alter_table("mail_folder_states") as batch:
        batch.drop_column("checkpoint")
