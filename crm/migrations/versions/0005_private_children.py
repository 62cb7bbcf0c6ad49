"""What hangs on a private partner or deal is private too (issue 8: a shared deal of a private
partner named the partner to the whole team). From here on the record services keep it so
(crm.services.records.make_dependents_private); this brings existing rows in line.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

partners = sa.table("partners", sa.column("id"), sa.column("private", sa.Boolean))
deals = sa.table(
    "deals", sa.column("id"), sa.column("partner_id"), sa.column("private", sa.Boolean)
)
activities = sa.table(
    "activities",
    sa.column("partner_id"),
    sa.column("deal_id"),
    sa.column("private", sa.Boolean),
)


def upgrade() -> None:
    private_partners = sa.select(partners.c.id).where(partners.c.private.is_(True))
    op.execute(
        deals.update()
        .where(deals.c.private.is_(False), deals.c.partner_id.in_(private_partners))
        .values(private=True)
    )
    private_deals = sa.select(deals.c.id).where(deals.c.private.is_(True))
    op.execute(
        activities.update()
        .where(
            activities.c.private.is_(False),
            sa.or_(
                activities.c.partner_id.in_(private_partners),
                activities.c.deal_id.in_(private_deals),
            ),
        )
        .values(private=True)
    )


def downgrade() -> None:
    """Nothing to undo: which rows were shared before is not kept, and private is safe."""
