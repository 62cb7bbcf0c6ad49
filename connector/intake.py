"""Explicit filing channels: ``dossier file`` (.eml and Outlook .msg files, maildirs, mbox files),
the web upload and the API. Each file is checked by its content (``mail_file``): RFC 822 as it
is, an Outlook .msg converted to RFC 822 with the original attached (mail_archive.outlook),
anything else refused with a reason a salesperson understands. Each message goes through
mail_archive's ingest with the rule filer; mail that matches nothing waits in the triage queue
of the user who filed it."""

from __future__ import annotations

import hashlib
import itertools
import mailbox
import multiprocessing
import os
import re
from collections import Counter, deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from crm.blobs import BlobStore
from crm.db import Database
from crm.errors import ValidationError
from crm.models import User
from crm.text import N_, Text
from mail_archive.filing import RuleFiler
from mail_archive.ingest import Archive, IngestResult, Source
from mail_archive.outlook import NotOutlookItem, Refused, convert, is_ole2
from mail_archive.parse import UTF8_BOM, ParsedMessage, parse
from mail_archive.service import check_choice

MAX_MESSAGE_BYTES = 100 * 1024 * 1024  # a larger "message" is refused, not truncated
# A header line: a name of printable characters without spaces or colons, then a colon
# ("Schůzka v 10:00" is a note, not a header).
HEADER_LINE = re.compile(rb"[!-9;-~]+[ \t]*:")


EMPTY_FILE = N_("The file is empty.")
NOT_MAIL = N_(
    "This file is not an e-mail. Save the message from your mail program and use that file: "
    "in Outlook drag the message into a folder or choose File > Save As (.msg); other mail "
    "programs save .eml files."
)


@dataclass(frozen=True)
class MailFile:
    """A file a user filed, as the archive keeps it."""

    raw: bytes  # RFC 822; an Outlook .msg converted, with the original attached
    # what converting an Outlook .msg could not carry over: the message's defects
    notes: tuple[str, ...] = ()


def refused(reason: str) -> ValidationError:
    """The refusal of a file, under the field ``message``; ``reason`` (marked for translation)
    is also the error's message, so the API and ``dossier file`` say it as it is."""
    return ValidationError({"message": reason}, reason)


def mail_file(data: bytes) -> MailFile:
    """``data`` as the archive keeps mail, told by content (not by a file name): an RFC 822
    message as it is (it must begin with a header line), an Outlook .msg (an OLE2 file)
    converted. ValidationError with a reason a salesperson understands for anything else."""
    if not data.strip():
        raise refused(EMPTY_FILE)
    if len(data) > MAX_MESSAGE_BYTES:
        raise refused(Text("The file is larger than %(mb)d MB.", mb=MAX_MESSAGE_BYTES // 2**20))
    if is_ole2(data):
        try:
            converted = convert(data)
        except Refused as exc:
            raise refused(exc.reason) from exc
        except NotOutlookItem as exc:  # a Word or Excel document of old, say
            raise refused(NOT_MAIL) from exc
        return MailFile(converted.raw, tuple(converted.notes))
    lines = data.removeprefix(UTF8_BOM).lstrip()[:4096].split(b"\n", 2)
    first = lines[0]
    if first.startswith(b"From ") and len(lines) > 1:  # an mbox "From " line before the headers
        first = lines[1]
    if not HEADER_LINE.match(first):
        raise refused(NOT_MAIL)
    return MailFile(data)


def filing_archive(session: Session, blobs: BlobStore) -> Archive:
    """The archive with the filing rules, for one request or batch (its directory of persons
    and domains is read once)."""
    return Archive(session, blobs, RuleFiler())


def explicit_source(
    kind: str, user_id: int, raw: bytes, partner_id: int | None, deal_id: int | None
) -> Source:
    """A copy filed on purpose by a user; the same bytes filed again are the same copy."""
    return Source(
        kind=kind,
        key=f"{kind}:{user_id}:{hashlib.sha256(raw).hexdigest()}",
        user_id=user_id,
        explicit=True,
        partner_id=partner_id,
        deal_id=deal_id,
    )


@dataclass(frozen=True)
class Upload:
    """A filed file read and parsed, before the unit of work that stores it."""

    raw: bytes  # as the archive keeps it (mail_file)
    parsed: ParsedMessage


def read_upload(data: bytes) -> Upload:
    """An uploaded file checked, converted when it is an Outlook .msg, and parsed: what a
    request does before its unit of work begins, so that parsing a large message never holds
    the database's write lock (on SQLite every other writer would wait for it).
    ValidationError if it is not mail."""
    mail = mail_file(data)
    return Upload(mail.raw, _parsed(mail))


def _parsed(mail: MailFile, parsed: ParsedMessage | None = None) -> ParsedMessage:
    parsed = parse(mail.raw) if parsed is None else parsed
    parsed.defects.extend(n for n in mail.notes if n not in parsed.defects)
    return parsed


def file_upload(
    archive: Archive,
    user: User,
    upload: Upload,
    *,
    kind: str,
    partner_id: int | None = None,
    deal_id: int | None = None,
) -> IngestResult:
    """One message filed by a user (upload, API); NotFound if the chosen partner or deal is not
    theirs to see. The result names no message when the bytes are those of a message the user
    may not see and they chose nothing of theirs to file it to: the caller says so without
    naming it."""
    check_choice(archive.session, user, partner_id, deal_id)
    source = explicit_source(kind, user.id, upload.raw, partner_id, deal_id)
    return archive.ingest(upload.raw, source, parsed=upload.parsed)


@dataclass
class FileReport:
    counts: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    message_ids: list[int] = field(default_factory=list)


def iter_messages(path: Path) -> Iterator[tuple[str, bytes]]:
    """(label, bytes) of every file or message at ``path``: a maildir (cur/new/tmp), a folder
    of files, an mbox file, or one file (.eml, .msg or anything else, told apart later)."""
    if path.is_dir():
        if (path / "cur").is_dir() or (path / "new").is_dir():
            for sub in ("new", "cur"):
                folder = path / sub
                if folder.is_dir():
                    for f in sorted(folder.iterdir()):
                        if f.is_file():
                            yield str(f), f.read_bytes()
            return
        for f in sorted(path.rglob("*")):
            hidden = any(part.startswith(".") for part in f.relative_to(path).parts)
            if f.is_file() and not hidden:  # .notmuch/, .git/, editors' .swp files
                yield from iter_messages(f)
        return
    with path.open("rb") as fh:
        head = fh.read(5)
    if head == b"From ":
        box = mailbox.mbox(path, create=False)
        try:
            for key in box.iterkeys():
                yield f"{path}#{key}", box.get_bytes(key)
        finally:
            box.close()
        return
    yield str(path), path.read_bytes()


def file_paths(
    db: Database,
    user_email: str,
    paths: list[Path],
    *,
    partner_id: int | None = None,
    deal_id: int | None = None,
    batch: int = 200,
    workers: int | None = None,
) -> FileReport:
    """``dossier file``: every message at the paths, committed in batches of ``batch``.

    A large import parses in ``workers`` processes (default: one per core, at most four) while
    this one stores what they parsed, in order."""
    from crm.services.users import find_user

    report = FileReport()
    blobs = BlobStore(db.settings.blob_dir)
    with db.session() as s:
        user = find_user(s, user_email)
        if user is None:
            raise ValidationError({"user": f"no user {user_email}"})
        check_choice(s, user, partner_id, deal_id)
        user_id = user.id
    filer = RuleFiler()
    pending: list[tuple[str, bytes, ParsedMessage]] = []
    notes: dict[str, tuple[str, ...]] = {}  # by label: what converting a .msg left out

    def flush() -> None:
        with db.session() as s:
            archive = Archive(s, blobs, filer)
            for label, raw, parsed in pending:
                _parsed(MailFile(raw, notes.pop(label, ())), parsed)
                source = explicit_source("file", user_id, raw, partner_id, deal_id)
                result = archive.ingest(raw, source, parsed=parsed)
                report.counts[result.status] += 1
                if result.message_id is not None:
                    report.message_ids.append(result.message_id)
        pending.clear()

    def acceptable() -> Iterator[tuple[str, bytes]]:
        for path in paths:
            if not path.exists():
                report.problems.append(f"{path}: no such file or folder")
                continue
            for label, data in iter_messages(path):
                try:
                    mail = mail_file(data)
                except ValidationError as exc:
                    report.counts["refused"] += 1
                    report.problems.append(f"{label}: {exc.message}")
                    continue
                if mail.notes:
                    notes[label] = mail.notes
                yield label, mail.raw

    for item in parse_ahead(acceptable(), workers):
        pending.append(item)
        if len(pending) >= batch:
            flush()
    if pending:
        flush()
    return report


PARSE_CHUNK = 32  # messages per task sent to a parsing process
AHEAD = 8  # chunks in flight per parsing process


def parse_ahead(
    messages: Iterator[tuple[str, bytes]], workers: int | None = None
) -> Iterator[tuple[str, bytes, ParsedMessage]]:
    """(label, raw, parsed) in the order given. Fewer than a few chunks, or one worker: parsed
    here; more: parsed in a pool of processes, a bounded number of chunks ahead (a 10 GB mbox
    is never all in memory)."""
    if workers is None:
        workers = min(os.cpu_count() or 1, 4)
    head = list(itertools.islice(messages, 2 * PARSE_CHUNK))
    if workers <= 1 or len(head) < 2 * PARSE_CHUNK:
        for label, raw in itertools.chain(head, messages):
            yield label, raw, parse(raw)
        return
    context = multiprocessing.get_context("forkserver" if os.name == "posix" else "spawn")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        ahead: deque[tuple[list[tuple[str, bytes]], Future[list[ParsedMessage]]]] = deque()
        rest = itertools.chain(head, messages)
        while True:
            chunk = list(itertools.islice(rest, PARSE_CHUNK))
            if chunk:
                ahead.append((chunk, pool.submit(parse_all, [raw for _, raw in chunk])))
            if ahead and (len(ahead) > AHEAD * workers or not chunk):
                done, parsed = ahead.popleft()
                for (label, raw), message in zip(done, parsed.result(), strict=True):
                    yield label, raw, message
            elif not chunk:
                return


def parse_all(raws: list[bytes]) -> list[ParsedMessage]:
    return [parse(raw) for raw in raws]
