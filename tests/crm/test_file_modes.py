"""The data directory is private (issue 8, finding 14): folders 0700, the database (with its
-wal and -shm), keys, blobs and backups 0600, made so by the real ``dossier`` under umask 022,
and what an older Dossier left readable is fixed by ``dossier init``."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

from tests.conftest import REPO
from tests.mailfactory import make_mail

DOSSIER = str(REPO / ".venv" / "bin" / "dossier")


def dossier(home: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOSSIER_", "DATABASE_"))}
    env.update(DOSSIER_HOME=str(home), ADMIN_PW="heslo-správce-1", IMAP_PW="heslo")
    done = subprocess.run(
        [DOSSIER, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        umask=0o022,  # what most systems give a service
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def loose(home: Path) -> list[str]:
    """Every folder not 0700 and every file not 0600 in the data directory."""
    found = []
    for current, dirs, files in os.walk(home):
        for name in dirs:
            if mode(Path(current, name)) != 0o700:
                found.append(f"{Path(current, name)} {oct(mode(Path(current, name)))}")
        for name in files:
            if mode(Path(current, name)) != 0o600:
                found.append(f"{Path(current, name)} {oct(mode(Path(current, name)))}")
    if mode(home) != 0o700:
        found.append(f"{home} {oct(mode(home))}")
    return found


def fill(home: Path, tmp_path: Path) -> None:
    dossier(home, "init", "--admin-email", "admin@firma.cz", "--admin-password-env", "ADMIN_PW")
    eml = tmp_path / "nabidka.eml"
    eml.write_bytes(make_mail(attachments=[("cenik.pdf", "application/pdf", b"%PDF-1.4 x")]))
    dossier(home, "file", str(eml), "--user", "admin@firma.cz")
    dossier(
        home,
        "account",
        "add",
        "imap",
        "box",
        "--host",
        "imap.firma.cz",
        "--username",
        "jana",
        "--store-password-env",
        "IMAP_PW",
        "--user",
        "admin@firma.cz",
    )


def test_a_new_data_directory_is_private(tmp_path: Path) -> None:
    home = tmp_path / "data"
    fill(home, tmp_path)
    names = {p.name for p in home.iterdir()}
    assert {"dossier.db", "secret_key", "mail.key", "blobs", "index"} <= names
    blobs = [p for p in (home / "blobs").rglob("*") if p.is_file()]
    assert len(blobs) >= 2  # the message and its attachment
    assert loose(home) == []
    # While a connection is open SQLite keeps -wal and -shm: they get the database's mode.
    import sqlite3

    conn = sqlite3.connect(home / "dossier.db")
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE IF NOT EXISTS t (x)")
        conn.execute("INSERT INTO t VALUES (1)")
        conn.commit()
        companions = [home / "dossier.db-wal", home / "dossier.db-shm"]
        assert all(p.exists() for p in companions)
        assert [mode(p) for p in companions] == [0o600, 0o600]
    finally:
        conn.close()

    archive = tmp_path / "zaloha.tar.gz"
    dossier(home, "backup", str(archive))
    assert mode(archive) == 0o600


def test_init_and_restore_fix_what_was_left_readable(tmp_path: Path) -> None:
    home = tmp_path / "data"
    fill(home, tmp_path)
    archive = tmp_path / "zaloha.tar.gz"
    dossier(home, "backup", str(archive))
    for current, dirs, files in os.walk(home):  # as an older Dossier left it
        for name in dirs:
            os.chmod(Path(current, name), 0o755)
        for name in files:
            os.chmod(Path(current, name), 0o644)
    os.chmod(home, 0o755)
    assert loose(home)
    dossier(home, "init")
    assert loose(home) == []

    restored = tmp_path / "restored"
    dossier(restored, "restore", str(archive))
    assert [p for p in (restored / "blobs").rglob("*") if p.is_file()]
    assert loose(restored) == []
