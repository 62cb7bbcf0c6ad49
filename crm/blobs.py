"""The blob store: content-addressed files under the data directory.

A blob is named by the SHA-256 of its bytes and lives at ``blobs/ab/cd/<sha256>``. Writing is
atomic (a temporary file in the same folder, renamed into place), so a crash leaves either the
whole blob or none of it; writing the same bytes twice is a no-op.

Blobs are written through a ``BlobBatch`` bound to one transaction: ``put`` writes at once,
``sync()`` makes every blob of the batch durable just before the transaction naming them
commits (one ``syncfs`` of the blob file system on Linux, else an fsync of each file and
folder). So a committed row never points at a missing blob; an orphan blob after a crash is
harmless and simply reused.

Only the account running Dossier may read blobs (mail, attachments): folders are made 0700 and
files 0600 whatever the umask. Writing bytes that are already stored touches the blob, so
``dossier check`` (crm.blob_check) takes it for young and never removes a blob an upload still
in progress counts on; ``register_blob_column`` names the columns whose rows keep blobs.

The interface (batch().put, get, path) is what an S3-compatible store would implement later.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
BLOB_COLUMNS: list[Any] = []


def register_blob_column(column: Any) -> None:
    """Name a mapped column that holds blob SHA-256s (a package's own tables, as
    ``mail_archive.models`` does): ``dossier check`` keeps every blob such a row names and
    reports those it names but the store lacks. An empty value names no blob."""
    if not any(known is column for known in BLOB_COLUMNS):
        BLOB_COLUMNS.append(column)


def make_private_dir(path: Path) -> None:
    """Create ``path`` and its missing parents as 0700 (umask or not); an existing one is
    left as it is (``secure_data_dir`` fixes those)."""
    missing = []
    here = path
    while not here.exists():
        missing.append(here)
        here = here.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:
            continue  # another writer made it a moment ago
        os.chmod(folder, PRIVATE_DIR)


class BlobNotFound(KeyError):
    pass


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._dirs: set[Path] = set()

    def path(self, sha256: str) -> Path:
        if not SHA256_RE.match(sha256):
            raise BlobNotFound(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def batch(self) -> BlobBatch:
        return BlobBatch(self)

    def _write(self, data: bytes) -> tuple[str, Path | None]:
        """Write ``data`` unless present (atomically: a temporary file renamed into place);
        return its SHA-256 and the path written, if it was."""
        sha = hashlib.sha256(data).hexdigest()
        target = self.path(sha)
        try:
            os.utime(target)  # present: young again, so `dossier check` leaves it be
            return sha, None
        except FileNotFoundError:
            pass
        except OSError:  # present but not ours to touch (a read-only store)
            return sha, None
        folder = target.parent
        if folder not in self._dirs:
            make_private_dir(folder)
            self._dirs.add(folder)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                os.fchmod(fh.fileno(), PRIVATE_FILE)
                fh.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return sha, target

    def get(self, sha256: str) -> bytes:
        try:
            return self.path(sha256).read_bytes()
        except FileNotFoundError as exc:
            raise BlobNotFound(sha256) from exc


class BlobBatch:
    """Blobs written for one transaction. ``put`` does not wait for the disk; ``sync`` makes
    every blob written so far durable and must run before the rows naming them commit
    (mail_archive ties it to the session's commit)."""

    def __init__(self, store: BlobStore) -> None:
        self.store = store
        self._pending: list[Path] = []

    def put(self, data: bytes) -> str:
        sha, written = self.store._write(data)
        if written is not None:
            self._pending.append(written)
        return sha

    def sync(self) -> None:
        pending, self._pending = self._pending, []
        if not pending:
            return
        if _syncfs(self.store.root):
            return
        for path in pending:
            fsync_path(path)
        for folder in dict.fromkeys(p.parent for p in pending):
            fsync_path(folder)


def fsync_path(path: Path) -> None:
    """fsync a file or a folder (a folder: so that a rename into it is durable)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_libc: ctypes.CDLL | None = None
if sys.platform.startswith("linux"):
    try:
        _libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        _libc.syncfs  # noqa: B018  (present since glibc 2.14)
    except (OSError, AttributeError):
        _libc = None


def _syncfs(root: Path) -> bool:
    """Flush the whole file system holding ``root`` (data, renames, folders) to disk in one
    call; False where there is no syncfs, and the caller fsyncs file by file."""
    if _libc is None:
        return False
    fd = os.open(root, os.O_RDONLY)
    try:
        return bool(_libc.syncfs(fd) == 0)
    finally:
        os.close(fd)
