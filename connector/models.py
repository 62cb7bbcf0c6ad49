"""Mail accounts and their per-folder sync state (the connector's chain, connector/migrations)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.models import Base, User, UTCDateTime, utcnow
from crm.text import Text as UserText  # a translatable message (Text here is the column type)

SECURITIES = ("tls", "starttls", "none")  # tls: SSL/TLS from the first byte (993, 465)
QUEUED, RUNNING = "queued", "running"  # MailAccount.sync_state; "" when no pass is under way


class MailAccount(Base):
    """A user's mailbox that the connector reads (and sends through, when SMTP is set)."""

    __tablename__ = "mail_accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(20), default="imap")
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer)
    security: Mapped[str] = mapped_column(String(10), default="tls")
    username: Mapped[str] = mapped_column(String(320))
    # Exactly one way to the secret: an environment variable's name, an encrypted password
    # (Fernet, key in the data directory) or a command printing an OAuth2 access token (XOAUTH2).
    password_env: Mapped[str] = mapped_column(String(100), default="")
    password_encrypted: Mapped[str] = mapped_column(Text, default="")
    oauth_command: Mapped[str] = mapped_column(Text, default="")
    # Folders read automatically; empty means INBOX and the folder marked \Sent.
    folders: Mapped[list[str]] = mapped_column(JSON, default=list)
    filing_folder: Mapped[str] = mapped_column(String(200), default="CRM")
    smtp_host: Mapped[str] = mapped_column(String(255), default="")
    smtp_port: Mapped[int | None] = mapped_column(Integer)
    smtp_security: Mapped[str] = mapped_column(String(10), default="starttls")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_sync_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")  # as English text (logs, CLI)
    # the same as a message template and its values, for the UI to translate (set_error)
    last_error_text: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    last_error_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The sync pass as its page follows it, whichever process runs it (connector.sync):
    # queued ("Sync now" asked a worker), running (with the messages read and filed so far,
    # written with each batch), "" once done; the counts then are the last pass's (None:
    # synced before they were kept).
    sync_state: Mapped[str] = mapped_column(String(10), default="")
    sync_state_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    sync_read: Mapped[int | None] = mapped_column(Integer)
    sync_filed: Mapped[int | None] = mapped_column(Integer)

    def set_error(self, message: str) -> None:
        """Store the last error ("" when the last attempt went well); a crm ``Text`` keeps its
        template and values so that each user reads it in their own language."""
        self.last_error = str(message)
        self.last_error_text = (
            {"template": message.template, "values": message.params}
            if isinstance(message, UserText) and message
            else None
        )

    def error(self) -> str:
        """The last error as the UI translates it: a ``Text`` when it was stored as one."""
        stored = self.last_error_text
        if stored and self.last_error:
            return UserText(stored["template"], **stored.get("values", {}))
        return self.last_error

    user: Mapped[User] = relationship()
    folder_states: Mapped[list[FolderState]] = relationship(
        cascade="all, delete-orphan", order_by="FolderState.folder"
    )


class FolderState(Base):
    """The checkpoint of one folder: advanced only after the batch it covers is committed.
    Opaque text that only the account's kind of source reads (connector.sources; IMAP keeps
    UIDVALIDITY, last UID and HIGHESTMODSEQ in it)."""

    __tablename__ = "mail_folder_states"
    __table_args__ = (UniqueConstraint("account_id", "folder", name="uq_mail_folder_states"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("mail_accounts.id", ondelete="CASCADE"))
    folder: Mapped[str] = mapped_column(String(500))
    checkpoint: Mapped[str] = mapped_column(Text, default="")
    messages_seen: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
