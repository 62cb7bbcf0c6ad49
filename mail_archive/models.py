"""Tables of the message store. Migrations live with the others in crm/migrations (0003).

A message is stored once however many mailboxes or folders it arrives from; each arrival is a
``MessageSource``. Links say which partner, person or deal a message belongs to, how the link was
made (explicit choice, filing folder, subject tag, thread, address, domain, manual) and by whom.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
    exists,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from crm.blobs import register_blob_column
from crm.models import Base, Deal, Partner, Person, User, UTCDateTime, utcnow
from crm.outbox import register_dependents
from crm.permissions import register_rule, visible

DIRECTIONS = ("in", "out")
# filed: linked to at least one record; triage: came through an explicit channel and matched
# nothing, waits for a user; dismissed: a user said it is not CRM mail (kept, hidden).
STATUSES = ("filed", "triage", "dismissed")
LINK_HOWS = ("explicit", "folder", "tag", "thread", "address", "domain", "manual")
LINK_TYPES = ("partner", "person", "deal")
# Characters of the subject and the sender that lists sort by (sort_subject, sort_from): enough
# to order, short enough for an index entry on every backend.
SORT_KEY_LENGTH = 200


def sort_text(text: str) -> str:
    """A subject or sender as lists sort it: lower-cased, its start only."""
    return " ".join(text.split()).lower()[:SORT_KEY_LENGTH]


def _sort_subject(context: Any) -> str:
    return sort_text(context.get_current_parameters().get("subject") or "")


def _sort_from(context: Any) -> str:
    row = context.get_current_parameters()
    return sort_text(row.get("from_name") or row.get("from_addr") or "")


class Message(Base):
    __tablename__ = "messages"
    # A list reads a page in the order of one of these, from either end or from a row it
    # names (keyset paging): the filed status, the sort key, the id for ties.
    __table_args__ = (
        Index("ix_messages_status_owner", "status", "owner_id"),
        Index("ix_messages_status_date", "status", "sort_at", "id"),
        Index("ix_messages_status_subject", "status", "sort_subject", "id"),
        Index("ix_messages_status_from", "status", "sort_from", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    # The Message-ID header without angle brackets; empty when the message has none.
    internet_id: Mapped[str] = mapped_column(String(500), index=True, default="")
    size: Mapped[int] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(Text, default="")
    from_name: Mapped[str] = mapped_column(String(300), default="")
    from_addr: Mapped[str] = mapped_column(String(320), default="", index=True)
    # [[display name, address], ...]
    to_addrs: Mapped[list[list[str]]] = mapped_column(JSON, default=list)
    cc_addrs: Mapped[list[list[str]]] = mapped_column(JSON, default=list)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    archived_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The Date header when it is valid, else the time of archiving: what lists sort by.
    sort_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    # What the subject and sender columns sort by (sort_text), set on insert from those.
    sort_subject: Mapped[str] = mapped_column(String(SORT_KEY_LENGTH), default=_sort_subject)
    sort_from: Mapped[str] = mapped_column(String(SORT_KEY_LENGTH), default=_sort_from)
    direction: Mapped[str] = mapped_column(String(3), default="in")
    in_reply_to: Mapped[str] = mapped_column(String(500), default="")
    references: Mapped[list[str]] = mapped_column(JSON, default=list)
    thread_key: Mapped[str] = mapped_column(String(500), index=True)
    body_text: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")  # sanitized (nh3)
    remote_blocked: Mapped[int] = mapped_column(Integer, default=0)
    defects: Mapped[list[str]] = mapped_column(JSON, default=list)
    auto: Mapped[bool] = mapped_column(Boolean, default=False)  # auto-reply, bounce, DSN
    has_attachments: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(10), default="filed")
    # The user whose mailbox or upload brought it first: sees it while it waits in their triage
    # queue (or they set it aside); afterwards the rule of its links decides (_visible_message).
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    attachments: Mapped[list[Attachment]] = relationship(
        cascade="all, delete-orphan", order_by="Attachment.position", back_populates="message"
    )
    links: Mapped[list[MessageLink]] = relationship(
        cascade="all, delete-orphan", order_by="MessageLink.id", back_populates="message"
    )
    sources: Mapped[list[MessageSource]] = relationship(
        cascade="all, delete-orphan", order_by="MessageSource.id", back_populates="message"
    )
    owner: Mapped[User | None] = relationship()

    @property
    def active_links(self) -> list[MessageLink]:
        return [link for link in self.links if not link.removed]


class MessageSource(Base):
    """One arrival of a message: an IMAP folder copy, a file, an upload, an API call."""

    __tablename__ = "message_sources"
    __table_args__ = (UniqueConstraint("message_id", "key", name="uq_message_sources_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    # Where this copy lives, e.g. "imap:3:INBOX:1700000000:42"; unique per message.
    key: Mapped[str] = mapped_column(String(700))
    account_id: Mapped[int | None] = mapped_column(Integer, index=True)
    folder: Mapped[str] = mapped_column(String(500), default="")
    # This copy's own bytes (a copy from another mailbox differs in its Received headers).
    sha256: Mapped[str] = mapped_column(String(64), default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    message: Mapped[Message] = relationship(back_populates="sources")
    user: Mapped[User | None] = relationship()


class Attachment(Base):
    __tablename__ = "message_attachments"
    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(127))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    inline: Mapped[bool] = mapped_column(Boolean, default=False)
    content_id: Mapped[str] = mapped_column(String(255), default="")
    # mime: a MIME part; tnef: unpacked from winmail.dat; rfc822: a forwarded message
    origin: Mapped[str] = mapped_column(String(10), default="mime")
    text: Mapped[str] = mapped_column(Text, default="")  # extracted for search
    message: Mapped[Message] = relationship(back_populates="attachments")


def _message_sort_at(context: Any) -> dt.datetime:
    """A link made without its message's date (ingest and add_link pass it) reads it."""
    message_id = context.get_current_parameters()["message_id"]
    found: dt.datetime = context.connection.scalar(
        select(Message.sort_at).where(Message.id == message_id)
    )
    return found


class MessageLink(Base):
    """A message belongs to a partner, a person or a deal (one of the three per link)."""

    __tablename__ = "message_links"
    __table_args__ = (
        UniqueConstraint("message_id", "target", name="uq_message_links_target"),
        # a record's mail newest first, read from the top of the index (a dossier's timeline)
        Index("ix_message_links_partner_date", "partner_id", "removed", "sort_at", "message_id"),
        Index("ix_message_links_deal_date", "deal_id", "removed", "sort_at", "message_id"),
        Index("ix_message_links_person_date", "person_id", "removed", "sort_at", "message_id"),
        # the permission rule's lookup of a message's links, answered from the index alone
        Index(
            "ix_message_links_message",
            "message_id",
            "removed",
            "partner_id",
            "deal_id",
            "person_id",
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    target: Mapped[str] = mapped_column(String(40))  # "partner:12", "deal:7", "person:3"
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"))
    how: Mapped[str] = mapped_column(String(10))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The message's sort_at, copied so that a record's mail is read newest first from the
    # link's index, never by sorting every message of the record.
    sort_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_message_sort_at)
    # A user removed the link: kept as a tombstone so that no rule adds it again.
    removed: Mapped[bool] = mapped_column(Boolean, default=False)
    removed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    message: Mapped[Message] = relationship(back_populates="links")
    partner: Mapped[Partner | None] = relationship()
    person: Mapped[Person | None] = relationship()
    deal: Mapped[Deal | None] = relationship()
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])

    @property
    def record_type(self) -> str:
        return split_target(self.target)[0]

    @property
    def record_id(self) -> int:
        return split_target(self.target)[1]

    def as_dict(self) -> dict[str, Any]:
        return {
            "record_type": self.record_type,
            "record_id": self.record_id,
            "how": self.how,
            "by": self.created_by.email if self.created_by else None,
            "at": self.created_at.isoformat(),
        }


def target_of(record_type: str, record_id: int) -> str:
    if record_type not in LINK_TYPES:
        raise ValueError(f"unknown record type {record_type}")
    return f"{record_type}:{record_id}"


def split_target(target: str) -> tuple[str, int]:
    """``"partner:12"`` -> ``("partner", 12)``: the inverse of target_of."""
    kind, _, record_id = target.partition(":")
    return kind, int(record_id)


# A copy from one of these came from the user's own mailbox (an account of theirs) or was sent
# by them from the CRM: their own mail. Uploads, the API, ``dossier file``, the add-in and the
# dropbox bring in mail that may be anyone's.
OWN_MAIL_KINDS = ("imap", "exchange", "graph", "sent")
# The statuses in which a message waits for (or was set aside by) the user who brought it in.
QUEUE_STATUSES = ("triage", "dismissed")


def _visible_message(user: User) -> ColumnElement[bool]:
    """Who sees a message. Admins see every message; anyone else sees it when
      - it is linked (a link no user removed) to a partner, deal or person they may see: the
        rule of those records decides, so a message follows its partner when the partner turns
        private or moves to another group;
      - it waits in their triage queue or they set it aside (status triage or dismissed, and
        they brought it in): nobody else can file it yet;
      - it is their own mail: a copy of it came from a mailbox of theirs (an IMAP, Exchange or
        Graph account whose user they are) or they sent it from the CRM.
    Having brought a message in is no lasting right: mail someone uploaded, filed through the
    API or ``dossier file`` and that is filed to records they cannot see is no longer theirs.

    Links and sources are looked up per message through their unique indexes on (message_id,
    ...), a linked deal or person by its key, and the partners the user sees are read once per
    statement: one message (dedupe, threading, a page) costs a few index lookups, a list a few
    per row.
    """
    if user.role == "admin":
        return true()

    def exists_in(*tables: type, where: list[ColumnElement[bool]]) -> ColumnElement[bool]:
        # ``tables`` stay in the subquery even when the query around it reads them too (the
        # thread rule joins message_links); only the rest correlates
        return exists(select(true()).where(*where).correlate_except(*tables))

    linked = exists_in(
        MessageLink,
        where=[
            MessageLink.message_id == Message.id,
            MessageLink.removed.is_(False),
            or_(
                # the partners the user sees, read once per statement: most links are theirs
                MessageLink.partner_id.in_(
                    select(Partner.id).where(visible(user, Partner)).correlate(None)
                ),
                exists_in(Deal, where=[Deal.id == MessageLink.deal_id, visible(user, Deal)]),
                # a person takes the rule of their partner (crm.permissions)
                exists_in(
                    Person,
                    Partner,
                    where=[
                        Person.id == MessageLink.person_id,
                        Partner.id == Person.partner_id,
                        visible(user, Partner),
                    ],
                ),
            ),
        ],
    )
    own = exists_in(
        MessageSource,
        where=[
            MessageSource.message_id == Message.id,
            MessageSource.user_id == user.id,
            MessageSource.kind.in_(OWN_MAIL_KINDS),
        ],
    )
    queue = and_(Message.owner_id == user.id, Message.status.in_(QUEUE_STATUSES))
    return or_(queue, linked, own)


def _visible_attachment(user: User) -> ColumnElement[bool]:
    return exists(
        select(Message.id)
        .where(Message.id == Attachment.message_id, _visible_message(user))
        .correlate_except(Message)
    )


def _messages_filed_to(
    session: Session, entity: str, ids: Collection[int]
) -> dict[str, Collection[int]]:
    """The messages whose visibility follows a partner's or deal's (crm.outbox): those filed to
    it and, for a partner, to its persons; links a user removed do not count."""
    if entity not in ("partner", "deal") or not ids:
        return {}
    filed_to: ColumnElement[bool]
    if entity == "deal":
        filed_to = MessageLink.deal_id.in_(ids)
    else:
        persons = select(Person.id).where(Person.partner_id.in_(ids))
        filed_to = or_(MessageLink.partner_id.in_(ids), MessageLink.person_id.in_(persons))
    found = session.scalars(
        select(MessageLink.message_id).where(filed_to, MessageLink.removed.is_(False)).distinct()
    )
    return {"message": list(found)}


register_rule(Message, _visible_message)
register_rule(Attachment, _visible_attachment)
register_dependents(_messages_filed_to)

# The blobs these rows keep: `dossier check` (crm.blob_check) reports those the store lacks and
# removes the others only when no row names them.
register_blob_column(Message.sha256)
register_blob_column(MessageSource.sha256)
register_blob_column(Attachment.sha256)
