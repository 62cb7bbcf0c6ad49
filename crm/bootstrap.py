"""Creating and opening a data directory: folders, database schema, shipped codebooks.

The data directory holds every mail, password hash and key, so only the account running Dossier
may read it: folders 0700, files 0600, set at creation whatever the umask. ``secure_data_dir``
also fixes what an older Dossier (or a restore) left readable; ``dossier init`` runs it over the
whole tree.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import make_url

from crm.blobs import PRIVATE_DIR, PRIVATE_FILE
from crm.db import Database
from crm.services.codebooks import seed_codebooks
from crm.services.users import create_user, find_user
from crm.settings import Settings

SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")


def initialize(
    settings: Settings, admin_email: str | None = None, admin_password: str | None = None
) -> Database:
    """Idempotent: brings the data directory and database up to date; adds the admin once."""
    settings.ensure_dirs()
    settings.session_secret()
    _create_sqlite_file(settings)
    db = Database(settings)
    db.upgrade()
    with db.session() as session:
        seed_codebooks(session)
        if admin_email and find_user(session, admin_email) is None:
            create_user(
                session,
                admin_email,
                "Administrator",
                "admin",
                ["Management"],
                password=admin_password,
            )
    secure_data_dir(settings, whole_tree=False)
    return db


def sqlite_path(settings: Settings) -> Path | None:
    """The SQLite database file the settings name, or None (a server database, memory)."""
    if not settings.is_sqlite:
        return None
    database = make_url(settings.db_url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _create_sqlite_file(settings: Settings) -> None:
    """An empty file is an empty SQLite database: made 0600 first, SQLite keeps its mode and
    gives the -wal and -shm files the same."""
    path = sqlite_path(settings)
    if path is None or path.exists():
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        return
    os.fchmod(fd, PRIVATE_FILE)
    os.close(fd)


def secure_data_dir(settings: Settings, *, whole_tree: bool = True) -> None:
    """Folders 0700 and files 0600: the data directory, its trees, the database and the keys;
    with ``whole_tree`` every blob and index file too (one walk: ``dossier init``, restore)."""
    folders = [settings.home, settings.blob_dir, settings.index_dir]
    files = [settings.secret_key_file, settings.mail_key_file]
    database = sqlite_path(settings)
    if database is not None:
        files += [database.with_name(database.name + suffix) for suffix in SQLITE_COMPANIONS]
    for folder in folders:
        _chmod(folder, PRIVATE_DIR)
    for file in files:
        _chmod(file, PRIVATE_FILE)
    if not whole_tree:
        return
    for tree in (settings.blob_dir, settings.index_dir):
        for current, dirs, names in os.walk(tree):
            here = Path(current)
            for name in dirs:
                _chmod(here / name, PRIVATE_DIR)
            for name in names:
                _chmod(here / name, PRIVATE_FILE)


def _chmod(path: Path, mode: int) -> None:
    """Set the mode of a folder or regular file we own; links and what vanished are left."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if path.is_symlink() or (info.st_mode & 0o777) == mode:
        return
    os.chmod(path, mode)
