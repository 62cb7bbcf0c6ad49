"""``Archive.ingest(raw, source)``: the one way a message enters the archive.

Steps: sha256 of the raw bytes; dedupe (the same bytes, or the same Message-ID with the same
sender and date: one record however many mailboxes it came from, every source kept); parse
(mail_archive.parse); thread it (mail_archive.threads); ask the filer (mail_archive.filing, the
filing rules, unless the caller brings its own) which records it belongs to; decide:
linked -> filed; no link from an explicit channel -> triage; no link from an automatic source ->
not archived at all (private mail stays private). Blobs (the raw bytes, each attachment) are
written before the rows that name them and made durable just before the caller's transaction
commits (one flush for the whole batch); the caller commits, and only then advances its
checkpoint.

Dedupe acts on behalf of the source's user (the account's owner, the uploader) and never becomes
a way into a message that user may not see (``crm.permissions.visible`` decides): a copy with
other bytes is merged into a stored message only when that user sees it already, else it is a
message of its own; a reply inherits a thread only from a message they see. A copy with the very
same bytes is the same message: it is merged, but when the user may still not see it afterwards
(it brought no link of theirs and is not from their own mailbox) nothing is written and the
result names no message.

Rows are written with Core statements, a handful per message, because bulk ingest spends its
time here; a message that another worker stores at the same moment is caught by
``INSERT ... ON CONFLICT DO NOTHING`` on its hash and taken as a duplicate.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, cast
from urllib.parse import quote

from sqlalchemy import Connection, Table, bindparam, event, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from crm import audit
from crm.blobs import BlobStore
from crm.models import AuditEntry, User, utcnow
from crm.permissions import visible
from crm.services.maildomains import public_mail_domains
from crm.services.records import write_outbox
from mail_archive.html import sanitize_html
from mail_archive.models import (
    OWN_MAIL_KINDS,
    Attachment,
    Message,
    MessageLink,
    MessageSource,
    target_of,
)
from mail_archive.parse import Address, ParsedMessage, parse
from mail_archive.threads import Thread, Threads

SOURCE_KINDS = ("imap", "exchange", "graph", "file", "api", "upload", "addin", "dropbox", "sent")
# The tables, for the Core statements bulk ingest is made of.
_MESSAGES = cast(Table, Message.__table__)
_ATTACHMENTS = cast(Table, Attachment.__table__)
_SOURCES = cast(Table, MessageSource.__table__)
_LINKS = cast(Table, MessageLink.__table__)
# Statements built once (building and cache-keying one per message costs more than running it).
_BY_SHA = select(Message.id).where(Message.sha256 == bindparam("sha"))
_SOURCE_KEY = select(MessageSource.id).where(
    MessageSource.message_id == bindparam("message_id"), MessageSource.key == bindparam("key")
)
_BY_INTERNET_ID = (
    select(Message.id, Message.from_addr, Message.sent_at)
    .where(Message.internet_id == bindparam("internet_id"))
    .order_by(Message.id)
)
_SORT_AT = select(Message.sort_at).where(Message.id == bindparam("message_id"))
_STATE = select(Message.sha256, Message.status, Message.defects).where(
    Message.id == bindparam("message_id")
)
_LINKS_OF = (
    select(MessageLink.target, MessageLink.how, MessageLink.removed)
    .where(MessageLink.message_id == bindparam("message_id"))
    .order_by(MessageLink.id)
)
_SET_STATUS = (
    update(_MESSAGES)
    .where(_MESSAGES.c.id == bindparam("message_id"))
    .values(status=bindparam("new_status"))
)
_INSERT_MESSAGE = {
    # a message whose bytes another worker stored a moment ago inserts nothing
    "postgresql": postgresql.insert(_MESSAGES)
    .on_conflict_do_nothing(index_elements=["sha256"])
    .returning(_MESSAGES.c.id),
    "sqlite": sqlite.insert(_MESSAGES)
    .on_conflict_do_nothing(index_elements=["sha256"])
    .returning(_MESSAGES.c.id),
}
_INSERT_ATTACHMENTS = insert(_ATTACHMENTS)
_INSERT_SOURCE = insert(_SOURCES)
_INSERT_LINKS = insert(_LINKS)
_INSERT_AUDIT = insert(cast(Table, AuditEntry.__table__))
# Who files mail that no user's source brought (audit log labels).
WORKER_LABELS = {
    "imap": "worker:mail-sync",
    "exchange": "worker:mail-sync",
    "graph": "worker:mail-sync",
    "file": "command:file",
}
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
        thread: Thread,
    ) -> list[LinkSpec]: ...


@dataclass
class IngestResult:
    """What became of one copy. ``message_id``: the message it is now part of, None when it was
    skipped, or when it has the bytes of a message its source's user may not see (a duplicate
    that names nothing). ``links``: the links this copy made."""

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
        filer: Filer | None = None,
        *,
        extra_own: Iterable[str] = (),
    ) -> None:
        """``filer``: the filing rules (mail_archive.filing) unless given; ``extra_own``:
        addresses that are ours besides the users' (a mailbox's login)."""
        if filer is None:
            from mail_archive.filing import RuleFiler  # it builds on this module's types

            filer = RuleFiler()
        self.session = session
        self.blobs = blobs.batch()
        self.filer = filer
        self._threads = Threads()
        self._extra_own = tuple(a.lower() for a in extra_own)
        self._identity: Identity | None = None
        self._actors: dict[int, User | None] = {}
        # Every blob this archive wrote is on disk before the rows naming them commit.
        event.listen(session, "before_commit", self._sync_blobs)

    def _sync_blobs(self, _session: Session) -> None:
        self.blobs.sync()

    @property
    def identity(self) -> Identity:
        if self._identity is None:
            self._identity = Identity.load(self.session, self._extra_own)
        return self._identity

    @property
    def _db(self) -> Connection:
        return self.session.connection()

    def ingest(
        self, raw: bytes, source: Source, parsed: ParsedMessage | None = None
    ) -> IngestResult:
        """``parsed``: ``parse(raw)`` done beforehand (bulk ingest parses in worker processes)."""
        if source.kind not in SOURCE_KINDS:
            raise ValueError(f"unknown source kind {source.kind}")
        sha = hashlib.sha256(raw).hexdigest()
        existing = self._id_by_sha(sha)
        chosen = source.partner_id is not None or source.deal_id is not None
        if existing is not None and not chosen and self._has_source(existing, source.key):
            # The same copy read again (a re-read after a crash): nothing to do.
            return self._merge(existing, source, raw, sha, [], reread=True)
        if parsed is None:
            parsed = parse(raw)
        actor = self._actor(source)
        if existing is None and parsed.internet_id and actor is not None:
            existing = self._same_message(parsed, actor)
        outgoing = source.outgoing or (
            parsed.from_ is not None and self.identity.owns(parsed.from_)
        )
        thread = Thread(self._threads, self._db, parsed, actor)
        links = self.filer(self.session, parsed, source, outgoing, self.identity, thread)
        if existing is not None:
            return self._merge(existing, source, raw, sha, links)
        if not links and not source.explicit and not parsed.incomplete:
            # Private mail stays out; a message that could not be read whole is kept (in its
            # owner's triage): what is in its unread part is not known to be private.
            return IngestResult("skipped", defects=parsed.defects)
        message_id = self._store(raw, sha, parsed, source, outgoing, bool(links), thread)
        if message_id is None:
            # Another worker stored the same bytes a moment ago: it is a duplicate.
            existing = self._id_by_sha(sha)
            assert existing is not None
            return self._merge(existing, source, raw, sha, links)
        added = self._link(message_id, links, source, known=set())
        filed = {"links": ["added"]} if added else {}
        write_outbox(self.session, "message", message_id, "create", payload=filed)
        return IngestResult("archived" if added else "triaged", message_id, added, parsed.defects)

    # -- steps -------------------------------------------------------------------------------

    def _id_by_sha(self, sha: str) -> int | None:
        return self._db.execute(_BY_SHA, {"sha": sha}).scalar()

    def _has_source(self, message_id: int, key: str) -> bool:
        found = self._db.execute(_SOURCE_KEY, {"message_id": message_id, "key": key[:700]})
        return found.first() is not None

    def _actor(self, source: Source) -> User | None:
        """The user on whose behalf the copy is archived (None: nobody's, it sees nothing)."""
        if source.user_id is None:
            return None
        if source.user_id not in self._actors:
            self._actors[source.user_id] = self.session.get(User, source.user_id)
        return self._actors[source.user_id]

    def _sees(self, actor: User | None, message_id: int) -> bool:
        if actor is None:
            return False
        query = select(Message.id).where(Message.id == message_id, visible(actor, Message))
        return self._db.execute(query).first() is not None

    def _same_message(self, parsed: ParsedMessage, actor: User) -> int | None:
        """The same Message-ID from the same sender at the same time: another copy of one
        message (a Sent copy and the received one differ in their Received headers), if the
        actor sees it already. Headers are easy to forge: a copy of a message the actor cannot
        see is a message of its own, never a way into that one."""
        rows = self._db.execute(_BY_INTERNET_ID, {"internet_id": parsed.internet_id})
        sender = parsed.from_.addr if parsed.from_ else ""
        candidates = [
            int(message_id)
            for message_id, from_addr, sent_at in rows
            if from_addr == sender and sent_at == parsed.sent_at
        ]
        if not candidates:
            return None
        seen = select(Message.id).where(Message.id.in_(candidates), visible(actor, Message))
        return self._db.execute(seen.order_by(Message.id).limit(1)).scalar()

    def _store(
        self,
        raw: bytes,
        sha: str,
        parsed: ParsedMessage,
        source: Source,
        outgoing: bool,
        filed: bool,
        thread: Thread,
    ) -> int | None:
        """Insert the message, its attachments and its source; None when a message with these
        bytes appeared meanwhile."""
        self.blobs.put(raw)
        now = utcnow()
        sent_at = parsed.sent_at
        sort_at = sent_at if sent_at and sent_at <= now + FUTURE_SLACK else now
        cids = {a.content_id for a in parsed.attachments if a.content_id}
        sanitized = sanitize_html(
            parsed.body_html, lambda cid: "cid/" + quote(cid, safe="") if cid in cids else None
        )
        values = {
            "sha256": sha,
            "internet_id": parsed.internet_id,
            "size": len(raw),
            "subject": parsed.subject,
            "from_name": parsed.from_.name if parsed.from_ else "",
            "from_addr": parsed.from_.addr if parsed.from_ else "",
            "to_addrs": [a.as_pair() for a in parsed.to],
            "cc_addrs": [a.as_pair() for a in parsed.cc],
            "sent_at": sent_at,
            "archived_at": now,
            "sort_at": sort_at,
            "direction": "out" if outgoing else "in",
            "in_reply_to": parsed.in_reply_to,
            "references": parsed.references,
            "thread_key": thread.key(sha),
            "body_text": parsed.body_text,
            "body_html": sanitized.html,
            "remote_blocked": sanitized.blocked_remote,
            "defects": parsed.defects,
            "auto": parsed.auto,
            "has_attachments": any(not a.inline for a in parsed.attachments),
            "status": "filed" if filed else "triage",
            "owner_id": source.user_id,
        }
        message_id = self._db.execute(_INSERT_MESSAGE[self._db.dialect.name], values).scalar()
        if message_id is None:
            return None
        if parsed.attachments:
            self._db.execute(
                _INSERT_ATTACHMENTS,
                [
                    {
                        "message_id": message_id,
                        "position": position,
                        "filename": part.filename,
                        "content_type": part.content_type,
                        "size": len(part.data),
                        "sha256": self.blobs.put(part.data),
                        "inline": part.inline,
                        "content_id": part.content_id,
                        "origin": part.origin,
                        "text": part.text,
                    }
                    for position, part in enumerate(parsed.attachments)
                ],
            )
        self._db.execute(_INSERT_SOURCE, self._source_row(message_id, source, sha))
        return int(message_id)

    def _source_row(self, message_id: int, source: Source, sha: str) -> dict[str, Any]:
        return {
            "message_id": message_id,
            "kind": source.kind,
            "sha256": sha,
            "key": source.key[:700],
            "account_id": source.account_id,
            "folder": source.folder[:500],  # MessageSource.folder is String(500)
            "user_id": source.user_id,
            "created_at": utcnow(),
        }

    def _merge(
        self,
        message_id: int,
        source: Source,
        raw: bytes,
        sha: str,
        links: list[LinkSpec],
        *,
        reread: bool = False,
    ) -> IngestResult:
        """Another copy of a stored message: keep its source (and its own bytes), add the links
        that are new; it shows again in triage when someone files a dismissed message on
        purpose. ``reread``: this very copy is known already (its source is there).

        The copy is kept when the actor sees the message, when it comes from the actor's own
        mailbox (then it is their own mail), or when it brings a link (the filer links only
        what the actor may see): then the actor sees the message afterwards. Otherwise (the
        same bytes as a message of records the actor cannot see) nothing is written and the
        result names no message."""
        stored_sha, status, defects = self._db.execute(_STATE, {"message_id": message_id}).one()
        known: dict[str, tuple[str, bool]] = {
            target: (how, removed)
            for target, how, removed in self._db.execute(_LINKS_OF, {"message_id": message_id})
        }
        actor = self._actor(source)
        own = actor is not None and source.kind in OWN_MAIL_KINDS
        brings = any(target_of(s.record_type, s.record_id) not in known for s in links)
        sees = own or brings or self._sees(actor, message_id)
        if not sees and not reread:
            return IngestResult("duplicate", None, [], list(defects or []))
        if not reread and not self._has_source(message_id, source.key):
            if sha != stored_sha:
                self.blobs.put(raw)  # this copy's own bytes, kept too
            self._db.execute(_INSERT_SOURCE, self._source_row(message_id, source, sha))
        added = self._link(message_id, links, source, known=set(known))
        active = added or any(not removed for _how, removed in known.values())
        new_status = status
        if status == "dismissed" and source.explicit and not reread:
            new_status = "triage"  # filed again on purpose: show it again
        if new_status == "triage" and active:
            new_status = "filed"
        if new_status != status:
            self._db.execute(_SET_STATUS, {"message_id": message_id, "new_status": new_status})
        if new_status != status or added:
            changed = {"fields": ["status"]} if new_status != status else {}
            if added:
                changed["links"] = ["added"]
            write_outbox(self.session, "message", message_id, "update", payload=changed)
            loaded = self.session.identity_map.get(identity_key(Message, message_id))
            if loaded is not None:
                self.session.expire(loaded)  # a page holding it sees the new links
        shown = message_id if sees else None  # a re-read copy of a message no longer theirs
        return IngestResult("duplicate", shown, added, list(defects or []))

    def _link(
        self, message_id: int, links: list[LinkSpec], source: Source, *, known: set[str]
    ) -> list[LinkSpec]:
        """Insert the links that are new and that no user removed (a removed link stays as a
        tombstone in ``known``); return those inserted."""
        rows = []
        added = []
        sort_at = None
        for spec in links:
            target = target_of(spec.record_type, spec.record_id)
            if target in known:
                continue
            known.add(target)
            if sort_at is None:  # the link carries its message's date (a dossier's order)
                sort_at = self._db.execute(_SORT_AT, {"message_id": message_id}).scalar_one()
            rows.append(
                {
                    "message_id": message_id,
                    "target": target,
                    "how": spec.how,
                    "created_by_id": source.user_id if spec.how in ("explicit", "folder") else None,
                    "partner_id": spec.record_id if spec.record_type == "partner" else None,
                    "person_id": spec.record_id if spec.record_type == "person" else None,
                    "deal_id": spec.record_id if spec.record_type == "deal" else None,
                    "created_at": utcnow(),
                    "sort_at": sort_at,
                    "removed": False,
                }
            )
            added.append(spec)
        if rows:
            self._db.execute(_INSERT_LINKS, rows)
            actor = self._actor(source) or WORKER_LABELS.get(source.kind, f"source:{source.kind}")
            self._db.execute(
                _INSERT_AUDIT,
                [
                    audit.row(
                        actor,
                        "file",
                        spec.record_type,
                        spec.record_id,
                        {"message_id": (None, message_id), "how": (None, spec.how)},
                    )
                    for spec in added
                ],
            )
        return added
