"""``dossier check``: is every blob whole, and does every blob belong to a record?

- Damaged: a blob whose bytes no longer hash to its name (the disk, or someone, changed it).
  Nothing can repair it here; restore it from a backup.
- Missing: a row names a blob the store lacks (the columns come from ``register_blob_column``;
  packages fill that list, so crm needs to know none of them).
- Orphans: blobs no row names, left by an upload killed between writing its blobs and
  committing its rows (crm.blobs writes blobs first), and leftover temporary files of a killed
  write. They are removed only when asked (``remove_orphans``) and only when older than
  ``min_age``: a younger one may belong to an upload still in progress, and writing bytes
  already stored touches the blob (crm.blobs), so one an upload counts on again looks young.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from crm.blobs import BLOB_COLUMNS, SHA256_RE, BlobStore
from crm.db import Database, load_models

DEFAULT_MIN_AGE = dt.timedelta(minutes=60)


@dataclass
class CheckReport:
    checked: int = 0
    damaged: list[str] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)  # sha -> the column naming it
    orphans: list[Path] = field(default_factory=list)  # old enough to remove
    removed: list[Path] = field(default_factory=list)
    young: int = 0  # orphans kept: perhaps an upload in progress
    strays: list[Path] = field(default_factory=list)  # files that are not ours

    @property
    def problems_left(self) -> bool:
        """Something is still wrong: what to exit non-zero for."""
        left = [p for p in self.orphans if p not in self.removed]
        return bool(self.damaged or self.missing or left or self.strays)


def check_blobs(
    db: Database,
    *,
    remove_orphans: bool = False,
    min_age: dt.timedelta = DEFAULT_MIN_AGE,
) -> CheckReport:
    """Walk the blob store once against the rows that name blobs."""
    store = BlobStore(db.settings.blob_dir)
    report = CheckReport()
    named = _named_blobs(db)  # read first: a blob written after this is young
    oldest = time.time() - min_age.total_seconds()
    seen: set[str] = set()
    for path in _files(store.root):
        name = path.name
        if SHA256_RE.match(name) and path == store.path(name):
            seen.add(name)
            report.checked += 1
            if _sha256(path) != name:
                report.damaged.append(name)
            if name in named:
                continue
        elif not name.startswith(".tmp-"):
            report.strays.append(path)
            continue
        if _mtime(path) > oldest:
            report.young += 1
            continue
        report.orphans.append(path)
        if remove_orphans and _mtime(path) <= oldest:  # touched meanwhile: kept
            path.unlink(missing_ok=True)
            report.removed.append(path)
    report.missing = {sha: column for sha, column in named.items() if sha not in seen}
    return report


def _named_blobs(db: Database) -> dict[str, str]:
    load_models()  # the packages' tables register their blob columns as they load
    named: dict[str, str] = {}
    with db.session(write=False) as s:
        for column in BLOB_COLUMNS:
            label = f"{column.class_.__tablename__}.{column.key}"
            for sha in s.scalars(select(column).where(column != "").distinct()):
                named.setdefault(sha, label)
    return named


def _files(root: Path) -> Iterator[Path]:
    """Every regular file under ``root``, walked as it goes (millions fit)."""
    for current, _dirs, names in os.walk(root):
        for name in names:
            path = Path(current, name)
            if path.is_file() and not path.is_symlink():
                yield path


def _sha256(path: Path) -> str:
    try:
        with path.open("rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except FileNotFoundError:
        return path.name  # removed while we walked: nothing to say about its bytes


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0
