"""``Archive.ingest(raw, source)``: the one way a message enters the archive.

Steps: sha256 of the raw bytes; dedupe (the same bytes, or the same Message-ID with the same
sender and date: one record however many mailboxes it came from, every source kept); parse
(mail_archive.parse); ask the filer (connector.filing) which records it belongs to; decide:
linked -> filed; no link from an explicit channel -> triage; no link from an automatic source ->
not archived at all (private mail stays private). Blobs (the raw bytes, each attachment) are
written before the rows that name them, in the caller's transaction; the caller commits, and only
then advances its checkpoint.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm.blobs import BlobStore
from crm.models import User, utcnow
from crm.services.maildomains import public_mail_domains
from crm.services.records import write_outbox
from mail_archive.html import sanitize_html
from mail_archive.models import Attachment, Message, MessageLink, MessageSource, target_of
from mail_archive.parse import Address, ParsedMessage, parse

SOURCE_KINDS = ("imap", "exchange", "graph", "file", "api", "upload", "addin", "dropbox", "sent")
# A message dated further ahead than this is taken to have a wrong clock.
FUTURE_SLACK = dt.timedelta(days=2)


@dataclass(frozen=True)
class Source:
    """Where one copy of a message came from, and what its channel says about filing it."""

    kind: str
    key: str  # where this copy lives, unique per message, e.g. "imap:3:INBOX:1700000000:42"
    user_id: int | None = None
    account_id: int | None = None
    folder: str = ""
    # An explicit filing channel (CRM folder, dossier file, upload, API): unmatched mail waits in
    # the triage queue instead of being left out.
    explicit: bool = False
    partner_id: int | None = None  # the explicit choice, if any
    deal_id: int | None = None
    how: str = "explicit"  # how an explicit choice links: explicit | folder
    outgoing: bool = False  # a Sent folder or the CRM's own sending: the message is ours


@dataclass(frozen=True)
class LinkSpec:
    record_type: str  # partner | person | deal
    record_id: int
    how: str


@dataclass(frozen=True)
class Identity:
    """Who "we" are: every user's address, the account's own login, and their domains (public
    mail domains excepted). Mail from us is outgoing; we are never a counterpart."""

    addresses: frozenset[str]
    domains: frozenset[str]

    @classmethod
    def load(cls, session: Session, extra: Iterable[str] = ()) -> Identity:
        addresses = frozenset([*(e.lower() for e in session.scalars(select(User.email))), *extra])
        domains = frozenset(a.rpartition("@")[2] for a in addresses if "@" in a)
        return cls(addresses, domains - public_mail_domains(session))

    def owns(self, address: Address) -> bool:
        return address.addr in self.addresses or address.domain in self.domains


class Filer(Protocol):
    def __call__(
        self,
        session: Session,
        parsed: ParsedMessage,
        source: Source,
        outgoing: bool,
        ours: Identity,
    ) -> list[LinkSpec]: ...


@dataclass
class IngestResult:
    status: str  # archived | triaged | duplicate | skipped
    message_id: int | None = None
    links: list[LinkSpec] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)

    @property
    def duplicate(self) -> bool:
        return self.status == "duplicate"

    @property
    def stored(self) -> bool:
        return self.message_id is not None


class Archive:
    """The message store bound to a session; one per unit of work (sync batch, request)."""

    def __init__(
        self,
        session: Session,
        blobs: BlobStore,
        filer: Filer,
        *,
        extra_own: Iterable[str] = (),
    ) -> None:
        """``extra_own``: addresses that are ours besides the users' (a mailbox's login)."""
        self.session = session
        self.blobs = blobs
        self.filer = filer
        self._extra_own = tuple(a.lower() for a in extra_own)
        self._identity: Identity | None = None

    @property
    def identity(self) -> Identity:
        if self._identity is None:
            self._identity = Identity.load(self.session, self._extra_own)
        return self._identity

    def ingest(
        self, raw: bytes, source: Source, parsed: ParsedMessage | None = None
    ) -> IngestResult:
        """``parsed``: ``parse(raw)`` done beforehand (bulk ingest parses in worker processes)."""
        if source.kind not in SOURCE_KINDS:
            raise ValueError(f"unknown source kind {source.kind}")
        sha = hashlib.sha256(raw).hexdigest()
        existing = self.session.scalars(select(Message).where(Message.sha256 == sha)).first()
        chosen = source.partner_id is not None or source.deal_id is not None
        if (
            existing is not None
            and not chosen
            and any(s.key == source.key for s in existing.sources)
        ):
            # The same copy read again (a re-read after a crash): nothing to do.
            return self._result("duplicate", existing)
        if parsed is None:
            parsed = parse(raw)
        if existing is None and parsed.internet_id:
            existing = self._same_message(parsed)
        outgoing = source.outgoing or (
            parsed.from_ is not None and self.identity.owns(parsed.from_)
        )
        links = self.filer(self.session, parsed, source, outgoing, self.identity)
        if existing is not None:
            self._add_source(existing, source, raw, sha)
            self._link(existing, links, source)
            return self._result("duplicate", existing)
        if not links and not source.explicit:
            return IngestResult("skipped", defects=parsed.defects)
        try:
            with self.session.begin_nested():
                message = self._store(raw, sha, parsed, source, outgoing)
                self._link(message, links, source)
        except IntegrityError:
            # Another worker stored the same bytes a moment ago: it is a duplicate.
            existing = self.session.scalars(select(Message).where(Message.sha256 == sha)).one()
            self._add_source(existing, source, raw, sha)
            self._link(existing, links, source)
            return self._result("duplicate", existing)
        write_outbox(self.session, "message", message.id, "create")
        return self._result("archived" if message.status == "filed" else "triaged", message)

    # -- steps -------------------------------------------------------------------------------

    def _same_message(self, parsed: ParsedMessage) -> Message | None:
        """The same Message-ID from the same sender at the same time: another copy of one
        message (a Sent copy and the received one differ in their Received headers)."""
        candidates = self.session.scalars(
            select(Message).where(Message.internet_id == parsed.internet_id)
        )
        sender = parsed.from_.addr if parsed.from_ else ""
        for candidate in candidates:
            if candidate.from_addr == sender and candidate.sent_at == parsed.sent_at:
                return candidate
        return None

    def _store(
        self, raw: bytes, sha: str, parsed: ParsedMessage, source: Source, outgoing: bool
    ) -> Message:
        self.blobs.put(raw)
        now = utcnow()
        sent_at = parsed.sent_at
        sort_at = sent_at if sent_at and sent_at <= now + FUTURE_SLACK else now
        cids = {a.content_id for a in parsed.attachments if a.content_id}
        sanitized = sanitize_html(
            parsed.body_html, lambda cid: "cid/" + quote(cid, safe="") if cid in cids else None
        )
        thread_key = self._thread_key(parsed, sha)
        message = Message(
            sha256=sha,
            internet_id=parsed.internet_id,
            size=len(raw),
            subject=parsed.subject,
            from_name=parsed.from_.name if parsed.from_ else "",
            from_addr=parsed.from_.addr if parsed.from_ else "",
            to_addrs=[a.as_pair() for a in parsed.to],
            cc_addrs=[a.as_pair() for a in parsed.cc],
            sent_at=sent_at,
            archived_at=now,
            sort_at=sort_at,
            direction="out" if outgoing else "in",
            in_reply_to=parsed.in_reply_to,
            references=parsed.references,
            thread_key=thread_key,
            body_text=parsed.body_text,
            body_html=sanitized.html,
            remote_blocked=sanitized.blocked_remote,
            defects=parsed.defects,
            auto=parsed.auto,
            has_attachments=any(not a.inline for a in parsed.attachments),
            status="triage",
            owner_id=source.user_id,
        )
        for position, part in enumerate(parsed.attachments):
            message.attachments.append(
                Attachment(
                    position=position,
                    filename=part.filename,
                    content_type=part.content_type,
                    size=len(part.data),
                    sha256=self.blobs.put(part.data),
                    inline=part.inline,
                    content_id=part.content_id,
                    origin=part.origin,
                    text=part.text,
                )
            )
        message.sources.append(self._source_row(source, sha))
        self.session.add(message)
        self.session.flush()
        return message

    def _thread_key(self, parsed: ParsedMessage, sha: str) -> str:
        if parsed.in_reply_to:
            parent_key = self.session.scalar(
                select(Message.thread_key).where(Message.internet_id == parsed.in_reply_to)
            )
            if parent_key:
                return parent_key
        return parsed.thread_key or f"sha256:{sha}"

    def _source_row(self, source: Source, sha: str) -> MessageSource:
        return MessageSource(
            kind=source.kind,
            sha256=sha,
            key=source.key[:700],
            account_id=source.account_id,
            folder=source.folder,
            user_id=source.user_id,
        )

    def _add_source(self, message: Message, source: Source, raw: bytes, sha: str) -> None:
        if all(s.key != source.key[:700] for s in message.sources):
            if sha != message.sha256:
                self.blobs.put(raw)  # this copy's own bytes, kept too
            message.sources.append(self._source_row(source, sha))
        if message.status == "dismissed" and source.explicit:
            message.status = "triage"  # filed again on purpose: show it again
        self.session.flush()

    def _link(self, message: Message, links: list[LinkSpec], source: Source) -> None:
        """Add links that are new and that no user removed; a message with a link is filed."""
        known = {link.target: link for link in message.links}
        for spec in links:
            target = target_of(spec.record_type, spec.record_id)
            if target in known:
                continue
            link = MessageLink(
                target=target,
                how=spec.how,
                created_by_id=source.user_id if spec.how in ("explicit", "folder") else None,
                **{f"{spec.record_type}_id": spec.record_id},
            )
            message.links.append(link)
            known[target] = link
        if message.status == "triage" and message.active_links:
            message.status = "filed"
        self.session.flush()

    def _result(self, status: str, message: Message) -> IngestResult:
        return IngestResult(
            status,
            message.id,
            [LinkSpec(link.record_type, link.record_id, link.how) for link in message.active_links],
            list(message.defects),
        )
