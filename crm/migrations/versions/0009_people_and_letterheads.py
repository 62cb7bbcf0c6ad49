"""Persons' name parts and salutation, owner companies' letterhead, users' phone, title, signature and time zone (issue 9 §8).

Existing persons' ``name`` is split into its parts by crm.person_names.split_name (titles at
either end, the last word the last name); a name it cannot split goes whole into the last
name. ``name`` itself is kept as the display name, so nothing is lost and downgrading only
drops the new columns.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""  # noqa: E501

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crm.person_names import split_name
from crm.text import fold

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

PERSON_COLUMNS = (
    ("title_before", 50),
    ("first_name", 100),
    ("last_name", 200),
    ("title_after", 50),
    ("last_name_key", 300),
    ("salutation", 200),
)
OWNER_COLUMNS = (
    ("street", 200),
    ("city", 100),
    ("postal_code", 20),
    ("country", 2),
    ("company_id", 20),
    ("vat_id", 20),
    ("bank_account", 40),
    ("iban", 42),
    ("register_entry", 300),
    ("phone", 30),
    ("web", 300),
    ("logo_type", 20),
)
USER_COLUMNS = (("phone", 30), ("job_title", 200))


def _text_column(name: str, length: int) -> sa.Column[str]:
    return sa.Column(name, sa.String(length), nullable=False, server_default="")


def upgrade() -> None:
    with op.batch_alter_table("persons") as batch:
        for name, length in PERSON_COLUMNS:
            batch.add_column(_text_column(name, length))
        batch.create_index("ix_persons_last_name_key", ["last_name_key"])
        # the display name holds the parts whole: titles, first and last name (404 at most)
        for name in ("name", "name_key"):
            batch.alter_column(name, type_=sa.String(420), existing_type=sa.String(200))
    with op.batch_alter_table("owner_companies") as batch:
        for name, length in OWNER_COLUMNS:
            batch.add_column(_text_column(name, length))
        batch.add_column(sa.Column("logo_sha256", sa.String(64), nullable=True))
    with op.batch_alter_table("users") as batch:
        for name, length in USER_COLUMNS:
            batch.add_column(_text_column(name, length))
        batch.add_column(sa.Column("signature", sa.Text(), nullable=False, server_default=""))
        batch.add_column(
            sa.Column("time_zone", sa.String(64), nullable=False, server_default="Europe/Prague")
        )
    persons = sa.table(
        "persons",
        sa.column("id", sa.Integer),
        sa.column("name", sa.String),
        *(sa.column(name, sa.String) for name, _ in PERSON_COLUMNS),
    )
    conn = op.get_bind()
    for row in conn.execute(sa.select(persons.c.id, persons.c.name)).all():
        parts = split_name(row.name or "")
        conn.execute(
            persons.update()
            .where(persons.c.id == row.id)
            .values(
                title_before=parts.title_before,
                first_name=parts.first_name,
                last_name=parts.last_name,
                title_after=parts.title_after,
                last_name_key=fold(f"{parts.last_name} {parts.first_name}"),
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        for name in ("time_zone", "signature", *(n for n, _ in reversed(USER_COLUMNS))):
            batch.drop_column(name)
    with op.batch_alter_table("owner_companies") as batch:
        batch.drop_column("logo_sha256")
        for name, _ in reversed(OWNER_COLUMNS):
            batch.drop_column(name)
    with op.batch_alter_table("persons") as batch:
        batch.drop_index("ix_persons_last_name_key")
        for name, _ in reversed(PERSON_COLUMNS):
            batch.drop_column(name)
