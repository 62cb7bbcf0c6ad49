"""Mail sources: what the connector reads mail from, behind one interface.

A kind of mail account (``imap`` today; Exchange's EWS and Microsoft Graph fit the same shape) is
a subclass of ``MailSource``, registered under the entry point group ``dossier.mail_sources``
with the kind as its name (pyproject.toml: ``imap = "connector.imap:ImapSource"``); a package
outside Dossier can add a kind the same way. ``load_source(kind)`` finds the class, and an
unknown kind is an error that lists the known ones. ``MailAccount.kind`` names the kind.

Everything that reads mail goes through this interface (the sync pass in connector.sync, which
``dossier sync``, the background scheduler, "Sync now" and the connection test call; ``dossier
account add <kind>``): none of them knows a protocol. A source

- connects (``connect``: a session with the server, an ``AccountError`` worded for the user
  when that fails),
- lists the folders a pass reads (``folders``: each says whether mail in it is an explicit
  choice, ours, or filed to a partner by its name),
- reads a folder's changes since a checkpoint (``changes``): the checkpoint is opaque text that
  only the source reads (IMAP: UIDVALIDITY, last UID, HIGHESTMODSEQ; an EWS sync state or a
  Graph deltaLink fit as they are), and every batch of new mail comes with the checkpoint that
  is true once the batch is stored. The sync pass stores the batch and that checkpoint in one
  transaction, so a crash re-reads a batch and never skips one; dedupe absorbs the re-read.
- says what it can do as data (``capabilities``), for the pages and the scheduler.

Modelled on Radicale's storage plugins (a documented base class whose methods a plugin fills,
and ``load_plugin``), with entry points instead of module paths.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    import click

    from connector.models import MailAccount
    from crm.db import Database

ENTRY_POINTS = "dossier.mail_sources"


@dataclass(frozen=True)
class Capabilities:
    """What a kind of source can do."""

    push: bool = False  # can announce new mail as it arrives (IMAP IDLE), besides the passes
    folders: bool = True  # has folders the account chooses from (else: one stream of mail)
    filing_folder: bool = False  # a server-side folder users drag mail into (CRM/<partner>)
    sending: bool = False  # can send the CRM's mail (an IMAP account's SMTP server)
    files_sent: bool = False  # the server puts what its SMTP takes into Sent (no APPEND)
    checkpoint: str = ""  # what its checkpoint holds, for people reading the state


@dataclass(frozen=True)
class Folder:
    """A folder one pass reads, and what its mail means for filing."""

    name: str
    explicit: bool = False  # users put mail here on purpose: unmatched mail waits in triage
    outgoing: bool = False  # mail we sent (a Sent folder)
    partner_name: str = ""  # files to the partner of this name (CRM/<partner name>)


@dataclass(frozen=True)
class Item:
    """One copy of a message: its key is unique per copy and the same when it is read again
    (``MessageSource.key``, e.g. ``imap:<account>:<folder>:<uidvalidity>:<uid>``)."""

    key: str
    raw: bytes


@dataclass(frozen=True)
class Batch:
    """New mail of a folder, and the folder's checkpoint once it is stored. ``seen``: how many
    of the server's messages the batch covers (some may have vanished before they were read)."""

    items: list[Item] = field(default_factory=list)
    checkpoint: str = ""
    seen: int = 0


class UnknownKind(LookupError):
    """No mail source of that kind is installed."""

    def __init__(self, kind: str, known: list[str]) -> None:
        self.kind = kind
        self.known = known
        listed = ", ".join(known) or "none"
        super().__init__(f"unknown kind of mail account {kind!r}; the kinds are: {listed}")


class MailSource:
    """The base of every kind of mail source: one object per account and sync pass.

    ``connect`` opens the session with the server; ``folders`` and ``changes`` are called
    inside it, one folder after the other. The sync pass catches ``AccountError`` (shown to the
    user as it is) and ``network_errors`` (the connection broke off: logged, retried by the
    next pass)."""

    kind: ClassVar[str] = ""
    # The kind of source mail_archive records for the copies (mail_archive.ingest.SOURCE_KINDS).
    archive_kind: ClassVar[str] = ""
    capabilities: ClassVar[Capabilities] = Capabilities()
    network_errors: ClassVar[tuple[type[BaseException], ...]] = (OSError,)

    def __init__(self, db: Database, account: MailAccount) -> None:
        """``account``: detached from any session (it is read once per pass)."""
        self.db = db
        self.account = account

    def connect(self, *, read_timeout: float | None = None) -> AbstractContextManager[object]:
        """A logged-in session with the server for the ``with`` block; ``read_timeout``: how
        long one answer may take (a connection test waits less than a sync)."""
        raise NotImplementedError

    def folders(self) -> list[Folder]:
        """The folders this pass reads, in the order it reads them."""
        raise NotImplementedError

    def changes(self, folder: Folder, checkpoint: str) -> Iterator[Batch]:
        """The folder's mail since ``checkpoint`` ("" the first time, or what a batch of this
        source handed back before), in batches. Nothing new: no batch, or an empty one when
        the checkpoint itself changed (a folder seen for the first time, renumbered)."""
        raise NotImplementedError

    @classmethod
    def add_command(cls) -> click.Command:
        """``dossier account add <kind>``: the command that adds an account of this kind."""
        raise NotImplementedError


def source_kinds() -> list[str]:
    """The kinds installed, sorted."""
    return sorted({ep.name for ep in importlib.metadata.entry_points(group=ENTRY_POINTS)})


def load_source(kind: str) -> type[MailSource]:
    """The class of the kind; ``UnknownKind`` (which lists the kinds) when none is installed.
    Entry points are read at each call (once per account and pass): a kind installed while the
    server runs is found."""
    found = importlib.metadata.entry_points(group=ENTRY_POINTS, name=kind)
    for entry_point in found:
        cls = entry_point.load()
        if not (isinstance(cls, type) and issubclass(cls, MailSource)):
            raise TypeError(f"{entry_point.value} ({ENTRY_POINTS} {kind}) is not a MailSource")
        return cls
    raise UnknownKind(kind, source_kinds())


def open_source(db: Database, account: MailAccount) -> MailSource:
    """The source of the account, by its kind."""
    return load_source(account.kind)(db, account)
