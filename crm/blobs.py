"""The blob store: content-addressed files under the data directory.

A blob is named by the SHA-256 of its bytes and lives at ``blobs/ab/cd/<sha256>``. Writing is
atomic (a temporary file in the same folder, fsync, rename, fsync of the folder), so a crash
leaves either the whole blob or none of it; writing the same bytes twice is a no-op. Blobs are
written before the database rows that name them are committed, so a committed row never points
at a missing blob (an orphan blob after a crash is harmless and is simply reused).

The interface (put/get/path) is what an S3-compatible store would implement later.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


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

    def put(self, data: bytes) -> str:
        """Store ``data``; return its SHA-256 (hex)."""
        sha = hashlib.sha256(data).hexdigest()
        target = self.path(sha)
        if target.exists():
            return sha
        folder = target.parent
        if folder not in self._dirs:
            folder.mkdir(parents=True, exist_ok=True)
            self._dirs.add(folder)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(folder)
        return sha

    def get(self, sha256: str) -> bytes:
        try:
            return self.path(sha256).read_bytes()
        except FileNotFoundError as exc:
            raise BlobNotFound(sha256) from exc


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
