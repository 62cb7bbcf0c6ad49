"""Backing up and restoring the whole data directory (``dossier backup FILE | restore FILE``).

A backup is one ``.tar.gz``: ``manifest.json`` (format, version, when, which database, the schema
revisions - one head per package's migration chain - rows per table, files per tree), the
database, the ``blobs/`` and ``index/`` trees and the ``secret_key``. Both commands are safe while
the server runs:

- SQLite: the database is copied with SQLite's online backup API (``sqlite3.Connection.backup``),
  one consistent snapshot however busy the writers are, then checked (``integrity_check``).
- PostgreSQL (and any other server database): every table is dumped as JSON lines inside one
  REPEATABLE READ transaction, so all tables come from the same moment. Values are written so that
  they read back exactly (dates, aware datetimes, decimals, JSON, booleans, bytes).
- Files are copied after the database snapshot: blobs are written before the rows that name them
  are committed, so every blob the snapshot refers to is in the archive. The search index may be a
  little ahead or behind the database; ``dossier reindex`` rebuilds it from the database.

The archive is written to a temporary file beside the target and renamed into place, so a
failed backup never leaves a half-written FILE.

Web sessions and failed logins (EPHEMERAL_TABLES) are left out, their tables kept empty: a
restore must not bring back a session that was ended since, so everyone logs in again after a
restore. API tokens are kept (scripts keep working); a token revoked after the backup comes back
with a restore and must be revoked again.

Restore checks the whole archive before it touches anything: a known manifest, only regular
files and folders with safe relative paths (no absolute paths, no ``..``, no links or devices),
a capped total size, row counts that match the manifest. It extracts beside the data directory,
runs ``initialize`` (so an empty or new data directory works), then replaces the database
content - SQLite by copying the restored file INTO the live database with the backup API (a
running server's connections see the restored data), other databases by deleting every row and
inserting the dumped ones in one transaction and resetting the id sequences - and swaps in the
``blobs`` and ``index`` trees by renaming.

It may not: merge a backup into existing data (restore replaces everything), restore a backup of
a newer schema than this code knows, or restore a dump of different schema revisions into a
server database (restore it with the Dossier version that made it, then upgrade). A backup made on
SQLite restores into PostgreSQL and the other way round (that is how to move a data directory).
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    MetaData,
    Table,
    create_engine,
    inspect,
    select,
    text,
)
from sqlalchemy import types as sqltypes
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DataError, IntegrityError

from crm.blobs import fsync_path
from crm.bootstrap import initialize, secure_data_dir
from crm.db import Database, alembic_config
from crm.errors import BadFile, Conflict, DossierError
from crm.settings import Settings

FORMAT = "dossier-backup"
VERSION = 1
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database/dossier.db"
TOP_LEVEL = ("manifest.json", "database", "blobs", "index", "secret_key", "mail.key")
MAX_RESTORE_BYTES = 100 * 1024**3
MAX_MEMBERS = 5_000_000
MAX_MANIFEST_BYTES = 1024 * 1024
INSERT_BATCH = 1000
VERSION_TABLE = "alembic_version"
EPHEMERAL_TABLES = ("user_sessions", "login_failures")


@dataclass
class Manifest:
    """What an archive holds; written as ``manifest.json``."""

    created_at: str
    database_kind: str
    database_format: str  # "sqlite" (the database file) or "jsonl" (one file per table)
    schema_revisions: list[str]  # the database's revisions: a head per package's chain, sorted
    tables: dict[str, int]
    columns: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, int] = field(default_factory=dict)
    secret_key: bool = False
    mail_key: bool = False  # the key of the stored mail passwords: without it they are lost
    dossier_version: str = ""

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "format": FORMAT,
                "version": VERSION,
                "created_at": self.created_at,
                "dossier_version": self.dossier_version,
                "database": {
                    "kind": self.database_kind,
                    "format": self.database_format,
                    "schema_revisions": self.schema_revisions,
                    "tables": self.tables,
                    "columns": self.columns,
                },
                "files": self.files,
                "secret_key": self.secret_key,
                "mail_key": self.mail_key,
            },
            indent=2,
            ensure_ascii=False,
        ).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        try:
            data = json.loads(raw)
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                raise BadFile("the archive is not a Dossier backup (its manifest is foreign)")
            if data.get("version") != VERSION:
                raise BadFile(
                    f"the backup has format version {data.get('version')!r}; "
                    f"this Dossier reads version {VERSION}"
                )
            database = data["database"]
            manifest = cls(
                created_at=str(data["created_at"]),
                database_kind=str(database["kind"]),
                database_format=str(database["format"]),
                schema_revisions=_manifest_revisions(database),
                tables={str(k): int(v) for k, v in database["tables"].items()},
                columns={str(k): [str(c) for c in v] for k, v in database["columns"].items()},
                files={str(k): int(v) for k, v in data.get("files", {}).items()},
                secret_key=bool(data.get("secret_key")),
                mail_key=bool(data.get("mail_key")),
                dossier_version=str(data.get("dossier_version", "")),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BadFile(f"the backup's manifest is damaged: {exc}") from exc
        if manifest.database_format not in ("sqlite", "jsonl"):
            raise BadFile(f"the backup's database format {manifest.database_format!r} is unknown")
        for name in manifest.tables:
            if not _safe_name(name):
                raise BadFile(f"the backup's manifest names an odd table {name!r}")
        return manifest


# -- helpers ------------------------------------------------------------------------------------


def sqlite_file(settings: Settings) -> Path:
    """The file of the SQLite database the settings name (DATABASE_URL may point elsewhere)."""
    database = make_url(settings.db_url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise DossierError(f"cannot back up the SQLite database {settings.db_url!r}: not a file")
    return Path(database).resolve()


def _safe_name(name: str) -> bool:
    return bool(name) and all(ch.isalnum() or ch in "_-" for ch in name)


def _dossier_version() -> str:
    try:
        return package_version("dossier")
    except PackageNotFoundError:
        return "unknown"


def _manifest_revisions(database: dict[str, Any]) -> list[str]:
    """The revisions a manifest names; a backup made before the packages had their own chains
    names one (``schema_revision``), a crm revision whose schema held every table."""
    if "schema_revisions" in database:
        revisions = database["schema_revisions"]
        if not isinstance(revisions, list):
            raise TypeError("schema_revisions is not a list")
        return sorted(str(r) for r in revisions)
    legacy = database["schema_revision"]
    return [] if legacy is None else [str(legacy)]


def _known_revisions(db: Database) -> tuple[set[str], list[str]]:
    """Every revision of every package's chain this code has, and their heads."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(db))
    return {rev.revision for rev in script.walk_revisions()}, sorted(script.get_heads())


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


# -- values that round-trip through JSON --------------------------------------------------------


def encode_value(value: Any) -> Any:
    """A column value as JSON; ``decoder`` of the column's type reads it back."""
    if value is None or isinstance(value, bool | int | float | str | list | dict):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    raise DossierError(f"cannot back up a value of type {type(value).__name__}")


def decoder(column_type: Any) -> Callable[[Any], Any]:
    """Reads ``encode_value``'s output for a column of this (target) type."""
    if isinstance(column_type, sqltypes.JSON):
        return lambda v: v
    if isinstance(column_type, sqltypes.DateTime):
        aware = bool(getattr(column_type, "timezone", False))

        def to_datetime(v: Any) -> Any:
            if not isinstance(v, str):
                return v
            value = dt.datetime.fromisoformat(v)
            if aware:
                return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
            # Naive columns hold UTC (crm.models.UTCDateTime stores naive UTC on SQLite).
            return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value

        return to_datetime
    if isinstance(column_type, sqltypes.Date):
        return lambda v: dt.date.fromisoformat(v) if isinstance(v, str) else v
    if isinstance(column_type, sqltypes.Time):
        return lambda v: dt.time.fromisoformat(v) if isinstance(v, str) else v
    if isinstance(column_type, sqltypes.Numeric) and not isinstance(column_type, sqltypes.Float):
        return lambda v: Decimal(str(v)) if v is not None else None
    if isinstance(column_type, sqltypes.LargeBinary):
        return lambda v: base64.b64decode(v) if isinstance(v, str) else v
    if isinstance(column_type, sqltypes.Interval):
        return lambda v: dt.timedelta(seconds=v) if v is not None else None
    if isinstance(column_type, sqltypes.Boolean):
        return lambda v: bool(v) if v is not None else None
    return lambda v: v


def _reflect(conn: Connection) -> list[Table]:
    """The database's tables in dependency order (parents first), the Alembic table left out."""
    metadata = MetaData()
    metadata.reflect(bind=conn)
    return [t for t in metadata.sorted_tables if t.name != VERSION_TABLE]


def _revisions(conn: Connection) -> list[str]:
    """The database's Alembic revisions (a row per package's chain), sorted."""
    if not inspect(conn).has_table(VERSION_TABLE):
        return []
    return sorted(conn.scalars(text(f"SELECT version_num FROM {VERSION_TABLE}")))


def dump_rows(conn: Connection, table: Table) -> Iterator[dict[str, Any]]:
    """Every row of ``table`` as JSON-ready values, in primary key order."""
    query = select(table).order_by(*table.primary_key.columns)  # no key: the stored order
    result = conn.execution_options(yield_per=INSERT_BATCH).execute(query)
    for row in result.mappings():
        yield {key: encode_value(value) for key, value in row.items()}


# -- backup -------------------------------------------------------------------------------------


def backup(settings: Settings, path: str | os.PathLike[str]) -> str:
    """Write the data directory to the archive ``path``; returns a summary to print."""
    target = Path(path).expanduser().resolve()
    for tree in (settings.blob_dir, settings.index_dir):
        if target.is_relative_to(tree.resolve()):
            raise DossierError(f"the backup cannot be written inside {tree}")
    if target.is_dir():
        raise DossierError(f"{target} is a folder; name the backup file")
    if not target.parent.is_dir():
        raise DossierError(f"the folder {target.parent} does not exist")
    staging = Path(tempfile.mkdtemp(prefix=".dossier-backup-", dir=target.parent))
    try:
        if settings.is_sqlite:
            manifest = _snapshot_sqlite(settings, staging / "dossier.db")
        else:
            manifest = _snapshot_rows(settings, staging / "database")
        partial = staging / "archive.tar.gz"
        # The archive holds password hashes and the secret key: only the owner may read it.
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as raw:
            os.fchmod(raw.fileno(), 0o600)  # whatever the umask
            with tarfile.open(
                fileobj=raw, mode="w:gz", compresslevel=6, format=tarfile.PAX_FORMAT
            ) as tar:
                _add_dir(tar, staging, "database")
                if manifest.database_format == "sqlite":
                    _add_file(tar, staging / "dossier.db", SQLITE_MEMBER)
                else:
                    for name in manifest.tables:
                        _add_file(
                            tar, staging / "database" / f"{name}.jsonl", f"database/{name}.jsonl"
                        )
                manifest.files["blobs"] = _add_tree(tar, settings.blob_dir, "blobs")
                manifest.files["index"] = _add_tree(tar, settings.index_dir, "index")
                if settings.secret_key_file.is_file():
                    manifest.secret_key = _add_file(tar, settings.secret_key_file, "secret_key")
                if settings.mail_key_file.is_file():
                    manifest.mail_key = _add_file(tar, settings.mail_key_file, "mail.key")
                body = manifest.to_json()
                info = tarfile.TarInfo(MANIFEST)
                info.size, info.mode = len(body), 0o644
                info.mtime = int(dt.datetime.now().timestamp())
                tar.addfile(info, io.BytesIO(body))
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(partial, target)
        fsync_path(target.parent)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    size = target.stat().st_size
    return f"Backup written to {target} ({_size(size)})\n" + _describe(manifest)


def _describe(manifest: Manifest) -> str:
    counts = ", ".join(f"{name} {n}" for name, n in sorted(manifest.tables.items()) if n)
    lines = [
        f"database: {manifest.database_kind}, schema {_schema(manifest.schema_revisions)}, "
        f"{sum(manifest.tables.values())} rows in {len(manifest.tables)} tables"
        + (f" ({counts})" if counts else ""),
        f"files: {manifest.files.get('blobs', 0)} in blobs, {manifest.files.get('index', 0)} "
        f"in index"
        + (", the secret key" if manifest.secret_key else "")
        + (", the mail password key" if manifest.mail_key else ""),
    ]
    return "\n".join(lines)


def _schema(revisions: list[str]) -> str:
    return ", ".join(revisions) or "none"


def _snapshot_sqlite(settings: Settings, dest: Path) -> Manifest:
    source_path = sqlite_file(settings)
    if not source_path.is_file():
        raise DossierError(f"there is no database at {source_path}; run `dossier init` first")
    created = dt.datetime.now(dt.UTC).isoformat()
    with (
        closing(sqlite3.connect(source_path, timeout=30)) as source,
        closing(sqlite3.connect(dest)) as copy,
    ):
        source.execute("PRAGMA busy_timeout=30000")
        # One step copies every page inside one read transaction: a consistent snapshot.
        source.backup(copy, pages=-1)
    with closing(sqlite3.connect(dest)) as copy:
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file in the archive
        _empty_ephemeral(copy)
        _check_integrity(copy, "the database snapshot")
        tables = _sqlite_counts(copy)
        revisions = _sqlite_revisions(copy)
    return Manifest(
        created_at=created,
        database_kind="sqlite",
        database_format="sqlite",
        schema_revisions=revisions,
        tables=tables,
        dossier_version=_dossier_version(),
    )


def _empty_ephemeral(conn: sqlite3.Connection) -> None:
    """Delete the rows of EPHEMERAL_TABLES from a snapshot, overwriting them on disk."""
    present = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    conn.execute("PRAGMA secure_delete=ON")
    for name in EPHEMERAL_TABLES:
        if name in present:
            conn.execute(f'DELETE FROM "{name}"')
    conn.commit()


def _check_integrity(conn: sqlite3.Connection, what: str) -> None:
    try:
        result = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    except sqlite3.DatabaseError as exc:
        raise BadFile(f"{what} is not a readable SQLite database: {exc}") from exc
    if result != ["ok"]:
        raise BadFile(f"{what} is damaged: " + "; ".join(str(r) for r in result[:5]))


def _sqlite_counts(conn: sqlite3.Connection) -> dict[str, int]:
    names = [
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
    ]
    return {
        name: int(conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0])
        for name in names
        if name != VERSION_TABLE
    }


def _sqlite_revisions(conn: sqlite3.Connection) -> list[str]:
    try:
        rows = conn.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchall()
    except sqlite3.DatabaseError:
        return []
    return sorted(str(row[0]) for row in rows)


def _snapshot_rows(settings: Settings, folder: Path) -> Manifest:
    folder.mkdir()
    engine = Database(settings).engine
    try:
        with engine.connect() as conn:
            options: dict[str, Any] = {"isolation_level": "REPEATABLE READ"}
            if engine.dialect.name == "postgresql":
                options["postgresql_readonly"] = True
            conn = conn.execution_options(**options)
            with conn.begin():
                created = dt.datetime.now(dt.UTC).isoformat()
                return _write_rows(conn, folder, engine.dialect.name, created)
    finally:
        engine.dispose()


def _write_rows(conn: Connection, folder: Path, kind: str, created: str) -> Manifest:
    tables: dict[str, int] = {}
    columns: dict[str, list[str]] = {}
    for table in _reflect(conn):
        if not _safe_name(table.name):
            raise DossierError(f"cannot back up the table {table.name!r}: odd name")
        count = 0
        with open(folder / f"{table.name}.jsonl", "w", encoding="utf-8") as out:
            rows = () if table.name in EPHEMERAL_TABLES else dump_rows(conn, table)
            for row in rows:
                out.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
                count += 1
        tables[table.name] = count
        columns[table.name] = [c.name for c in table.columns]
    return Manifest(
        created_at=created,
        database_kind=kind,
        database_format="jsonl",
        schema_revisions=_revisions(conn),
        tables=tables,
        columns=columns,
        dossier_version=_dossier_version(),
    )


def _add_file(tar: tarfile.TarFile, path: Path, arcname: str) -> bool:
    """Add one file as it is at open time; a file that vanished meanwhile is skipped."""
    try:
        with open(path, "rb") as fh:
            info = tar.gettarinfo(arcname=arcname, fileobj=fh)
            if not info.isreg():
                return False
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, fh)
    except FileNotFoundError:
        return False
    return True


def _add_dir(tar: tarfile.TarFile, path: Path, arcname: str) -> None:
    info = tarfile.TarInfo(arcname)
    info.type, info.mode = tarfile.DIRTYPE, 0o755
    try:
        info.mtime = int(path.stat().st_mtime)
    except FileNotFoundError:
        info.mtime = int(dt.datetime.now().timestamp())
    tar.addfile(info)


def _add_tree(tar: tarfile.TarFile, root: Path, arcname: str) -> int:
    """Add the folder's regular files and subfolders (links and special files are left out)."""
    if not root.is_dir():
        return 0
    added = 0
    _add_dir(tar, root, arcname)
    for current, dirs, files in os.walk(root):
        dirs.sort()
        here = Path(current)
        rel = here.relative_to(root)
        for name in dirs:
            sub = here / name
            if not sub.is_symlink():
                _add_dir(tar, sub, str(PurePosixPath(arcname, *rel.parts, name)))
        for name in sorted(files):
            path = here / name
            if path.is_symlink() or not path.is_file():
                continue
            if _add_file(tar, path, str(PurePosixPath(arcname, *rel.parts, name))):
                added += 1
    return added


# -- restore ------------------------------------------------------------------------------------


def restore(
    settings: Settings, path: str | os.PathLike[str], *, max_bytes: int = MAX_RESTORE_BYTES
) -> str:
    """Replace the data directory's content with the backup at ``path``; returns a summary."""
    source = Path(path)
    home = settings.home
    home.parent.mkdir(parents=True, exist_ok=True)
    with _open_archive(source) as tar:
        members, manifest = _validate(tar, source.name, max_bytes)
        free = shutil.disk_usage(home.parent).free
        needed = sum(m.size for m in members)
        if needed > free:
            raise DossierError(
                f"restoring needs {_size(needed)} free beside {home}, only {_size(free)} is free"
            )
        staging = Path(tempfile.mkdtemp(prefix=f".{home.name}-restore-", dir=home.parent))
        try:
            try:
                tar.extractall(staging, members=members, filter="data")
            except (tarfile.TarError, EOFError, zlib.error) as exc:
                raise BadFile(f"{source.name} is damaged: {exc}") from exc
            db = initialize(settings)
            try:
                _restore_database(db, settings, manifest, staging)
            finally:
                db.dispose()
            _swap_tree(staging / "blobs", settings.blob_dir)
            _swap_tree(staging / "index", settings.index_dir)
            for present, member, key in (
                (manifest.secret_key, "secret_key", settings.secret_key_file),
                (manifest.mail_key, "mail.key", settings.mail_key_file),
            ):
                if present and (staging / member).is_file():
                    os.replace(staging / member, key)
            secure_data_dir(settings)  # the archive's modes are not trusted: 0700/0600
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return (
        f"Restored {source} (made {manifest.created_at}) into {home}\n"
        + _describe(manifest)
        + "\nRestart a running server so that it reopens the search index."
    )


@contextmanager
def _open_archive(source: Path) -> Iterator[tarfile.TarFile]:
    try:
        tar = tarfile.open(source, "r:*")  # noqa: SIM115 - closed by the with below
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise BadFile(f"{source.name} is not a Dossier backup (not a tar.gz archive)") from exc
    with tar:
        yield tar


def _member_problem(member: tarfile.TarInfo) -> str | None:
    name = member.name
    if not name or "\\" in name or "\x00" in name:
        return "has an odd name"
    pure = PurePosixPath(name)
    if pure.is_absolute() or name.startswith("/"):
        return "has an absolute path"
    if ".." in pure.parts:
        return "climbs out of the archive with “..”"
    if not (member.isreg() or member.isdir()):
        return "is a link or a special file"
    if pure.parts[0] not in TOP_LEVEL:
        return "is not part of a Dossier backup"
    return None


def _validate(
    tar: tarfile.TarFile, label: str, max_bytes: int
) -> tuple[list[tarfile.TarInfo], Manifest]:
    members: list[tarfile.TarInfo] = []
    total = 0
    try:
        for member in tar:
            problem = _member_problem(member)
            if problem:
                raise BadFile(f"{label} is refused: the member “{member.name}” {problem}")
            total += member.size
            if total > max_bytes:
                raise BadFile(f"{label} is refused: it unpacks to more than {_size(max_bytes)}")
            members.append(member)
            if len(members) > MAX_MEMBERS:
                raise BadFile(f"{label} is refused: it has more than {MAX_MEMBERS} members")
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise BadFile(f"{label} is not a readable Dossier backup: {exc}") from exc
    names = {m.name.rstrip("/"): m for m in members}
    entry = names.get(MANIFEST)
    if entry is None or not entry.isreg():
        raise BadFile(f"{label} is not a Dossier backup (it has no {MANIFEST})")
    if entry.size > MAX_MANIFEST_BYTES:
        raise BadFile(f"{label} is refused: its manifest is too large")
    stream = tar.extractfile(entry)
    assert stream is not None
    manifest = Manifest.from_json(stream.read())
    if manifest.database_format == "sqlite":
        needed = [SQLITE_MEMBER]
    else:
        needed = [f"database/{name}.jsonl" for name in manifest.tables]
    for name in needed:
        if name not in names or not names[name].isreg():
            raise BadFile(f"{label} is incomplete: {name} is missing")
    return members, manifest


def _restore_database(db: Database, settings: Settings, manifest: Manifest, staging: Path) -> None:
    known, heads = _known_revisions(db)
    revisions = manifest.schema_revisions
    unknown = [r for r in revisions if r not in known]
    if unknown:
        raise Conflict(
            f"the backup's database schema ({_schema(unknown)}) is newer than this Dossier "
            "knows; restore it with the Dossier version that made it"
        )
    if manifest.database_format == "sqlite":
        restored = staging / SQLITE_MEMBER
        with closing(sqlite3.connect(restored)) as conn:
            _check_integrity(conn, "the backup's database")
            counts = _sqlite_counts(conn)
        if counts != manifest.tables:
            raise BadFile("the backup's database does not hold the rows its manifest lists")
        if settings.is_sqlite:
            _copy_sqlite_into(restored, sqlite_file(settings))
            db.upgrade()  # a backup of an older schema is brought up to date
            return
        source_engine = create_engine(f"sqlite:///{restored}")
        try:
            with source_engine.connect() as source:
                tables = {t.name: t for t in _reflect(source)}

                def rows_from_file(name: str) -> Iterator[dict[str, Any]]:
                    return dump_rows(source, tables[name])

                _replace_rows(db, manifest, revisions, heads, rows_from_file)
        finally:
            source_engine.dispose()
        return

    def rows_from_jsonl(name: str) -> Iterator[dict[str, Any]]:
        with open(staging / "database" / f"{name}.jsonl", encoding="utf-8") as fh:
            for number, line in enumerate(fh, start=1):
                try:
                    row = json.loads(line)
                except ValueError as exc:
                    raise BadFile(f"the backup's {name} rows are damaged (line {number})") from exc
                if not isinstance(row, dict):
                    raise BadFile(f"the backup's {name} rows are damaged (line {number})")
                yield row

    _replace_rows(db, manifest, revisions, heads, rows_from_jsonl)


def _copy_sqlite_into(restored: Path, live: Path) -> None:
    """Copy the restored database into the live file with the backup API (one transaction)."""
    with (
        closing(sqlite3.connect(restored)) as source,
        closing(sqlite3.connect(live, timeout=60)) as target,
    ):
        target.execute("PRAGMA busy_timeout=60000")
        source.backup(target, pages=-1)
        _check_integrity(target, "the restored database")


def _replace_rows(
    db: Database,
    manifest: Manifest,
    revisions: list[str],
    heads: list[str],
    rows_of: Callable[[str], Iterable[dict[str, Any]]],
) -> None:
    """In one transaction: empty every table, insert the backup's rows, reset id sequences."""
    engine: Engine = db.engine
    with engine.begin() as conn:
        live_revisions = _revisions(conn)
        if revisions != live_revisions:
            raise Conflict(
                f"the backup's database schema ({_schema(revisions)}) differs from this "
                f"database's ({_schema(live_revisions)}, newest {_schema(heads)}); restore it "
                "with the Dossier version that made it, then upgrade"
            )
        tables = _reflect(conn)
        by_name = {t.name: t for t in tables}
        for name in manifest.tables:
            if name not in by_name:
                raise Conflict(f"the backup has a table {name} that this database lacks")
        if engine.dialect.name == "postgresql":
            preparer = engine.dialect.identifier_preparer
            conn.execute(text("TRUNCATE " + ", ".join(preparer.format_table(t) for t in tables)))
        else:
            for table in reversed(tables):
                conn.execute(table.delete())
        for table in tables:
            if table.name not in manifest.tables:
                continue
            decoders = {c.name: decoder(c.type) for c in table.columns}
            count = 0
            batch: list[dict[str, Any]] = []
            for row in rows_of(table.name):
                unknown = set(row) - set(decoders)
                if unknown:
                    raise Conflict(
                        f"the backup's {table.name} rows have columns this database lacks: "
                        + ", ".join(sorted(unknown))
                    )
                try:
                    batch.append({k: decoders[k](v) for k, v in row.items()})
                except (ValueError, TypeError, ArithmeticError) as exc:
                    raise BadFile(
                        f"the backup's table {table.name} has a damaged value (row {count + 1}): "
                        f"{exc}"
                    ) from exc
                count += 1
                if len(batch) >= INSERT_BATCH:
                    _insert(conn, table, batch)
                    batch = []
            if batch:
                _insert(conn, table, batch)
            if count != manifest.tables[table.name]:
                raise BadFile(
                    f"the backup's table {table.name} has {count} rows, its manifest says "
                    f"{manifest.tables[table.name]}: the archive is damaged"
                )
        if engine.dialect.name == "postgresql":
            _reset_sequences(conn, tables)


def _insert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    try:
        conn.execute(table.insert(), rows)
    except (IntegrityError, DataError) as exc:
        reason = str(exc.orig).splitlines()[0] if exc.orig else str(exc)
        raise BadFile(
            f"the backup's rows of {table.name} do not fit this database: {reason}"
        ) from exc


def _reset_sequences(conn: Connection, tables: list[Table]) -> None:
    """Make each serial/identity id continue after the restored rows' largest id."""
    preparer = conn.dialect.identifier_preparer
    for table in tables:
        for column in table.primary_key.columns:
            if not isinstance(column.type, sqltypes.Integer):
                continue
            name, col = preparer.format_table(table), preparer.format_column(column)
            conn.execute(
                text(
                    f"SELECT setval(seq, (SELECT coalesce(max({col}), 0) + 1 FROM {name}), false) "
                    "FROM (SELECT pg_get_serial_sequence(:table, :column) AS seq) AS s "
                    "WHERE seq IS NOT NULL"
                ),
                {"table": name, "column": column.name},
            )


def _swap_tree(new: Path, live: Path) -> None:
    """Put ``new`` (or an empty folder) where ``live`` is, by renames; the old tree is deleted."""
    if not new.is_dir():
        new.mkdir(parents=True)
    old = live.with_name(f".{live.name}-old-{uuid.uuid4().hex[:8]}")
    if live.exists():
        os.rename(live, old)
    os.rename(new, live)
    shutil.rmtree(old, ignore_errors=True)
