"""Threads: which archived message a new one replies to. Decided once per message, here, for
both things that follow it: the message's thread key (ingest) and the thread filing rule (its
links). The parent is the nearest message the reply refers to (In-Reply-To, else the
References from the newest back to the thread's root) among those the source's user sees: a
thread is never a way into a message that user may not see."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Select, bindparam, select

from crm.models import User
from crm.permissions import visible
from mail_archive.models import Message, MessageLink
from mail_archive.parse import ParsedMessage

# Every archived message of the thread with its links (removed ones too: they decide as well).
_THREAD = (
    select(Message.internet_id, Message.thread_key, MessageLink.target, MessageLink.removed)
    .outerjoin(MessageLink, MessageLink.message_id == Message.id)
    .where(Message.internet_id.in_(bindparam("references", expanding=True)))
    .order_by(Message.id, MessageLink.id)
)


@dataclass(frozen=True)
class Parent:
    """The archived message a reply refers to (every stored copy with its Message-ID that the
    user sees): its thread and the links no user removed there."""

    internet_id: str
    thread_key: str
    targets: tuple[str, ...]


class Threads:
    """The thread lookups of one unit of work: each user's query is built once (bulk ingest
    asks for every reply)."""

    def __init__(self) -> None:
        self._queries: dict[int, Select[str, str, str, bool]] = {}

    def query(self, actor: User) -> Select[str, str, str, bool]:
        if actor.id not in self._queries:
            self._queries[actor.id] = _THREAD.where(visible(actor, Message))
        return self._queries[actor.id]

    def parent(self, db: Connection, parsed: ParsedMessage, actor: User | None) -> Parent | None:
        """The nearest archived message ``parsed`` replies to that ``actor`` sees (None: none,
        or nobody's mail)."""
        if actor is None or not parsed.references:
            return None
        found: dict[str, tuple[str, list[str]]] = {}
        for internet_id, thread_key, target, removed in db.execute(
            self.query(actor), {"references": parsed.references}
        ):
            _key, targets = found.setdefault(internet_id, (thread_key, []))
            if target is not None and not removed and target not in targets:
                targets.append(target)
        order = [parsed.in_reply_to, *reversed(parsed.references)]
        nearest = next((r for r in order if r and r in found), None)
        if nearest is None:
            return None
        thread_key, targets = found[nearest]
        return Parent(nearest, thread_key, tuple(targets))


class Thread:
    """The parent of one message, looked up when first asked (by the thread rule or by
    ingest's thread key) and then known: one query per reply at most."""

    def __init__(
        self, threads: Threads, db: Connection, parsed: ParsedMessage, actor: User | None
    ) -> None:
        self._threads = threads
        self._db = db
        self._parsed = parsed
        self._actor = actor
        self._parent: Parent | None = None
        self._asked = False

    def parent(self) -> Parent | None:
        if not self._asked:
            self._parent = self._threads.parent(self._db, self._parsed, self._actor)
            self._asked = True
        return self._parent

    def key(self, sha: str) -> str:
        """The parent's thread, else the one the message's own headers give (a thread key can
        name a hidden thread's root or hash only when the headers say so themselves)."""
        parent = self.parent()
        if parent is not None and parent.thread_key:
            return parent.thread_key
        return self._parsed.thread_key or f"sha256:{sha}"
