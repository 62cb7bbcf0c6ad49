"""Empty since issue 9: the mail tables moved to the chains of the packages that own them.

Until then this revision created messages, message_sources, message_attachments and
message_links (now mail_archive's ``m0001``, mail_archive/migrations/versions) and mail_accounts
and mail_folder_states (now connector's ``c0001``, connector/migrations/versions). It stays in
the crm chain so that databases stamped with it, or with a later crm revision, still upgrade:
m0001 and c0001 create their tables only where they are missing, so such a database keeps its
rows. Downgrading it does nothing; the mail tables go with m0001 and c0001.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
