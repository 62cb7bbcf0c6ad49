"""A throwaway PostgreSQL cluster on loopback for the test session (Debian `postgresql`).

initdb and pg_ctl refuse to run as root, so as root they run as the `postgres` user on a data
directory it owns (FIELD-NOTES.md). Each test gets its own database, copied from a template
that was migrated once.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


class ServerMissing(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise ServerMissing("PostgreSQL server binaries not installed (Debian package postgresql)")
    return Path(found[-1]).parent


@dataclass
class PostgresServer:
    port: int
    datadir: Path
    user: str = "dossier"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{database}"

    def admin_sql(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=self.user, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(sql)  # type: ignore[arg-type]


def _run(cmd: list[str], as_postgres: bool) -> None:
    if as_postgres:
        cmd = ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(cmd)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    bindir = _bindir()
    as_postgres = os.geteuid() == 0
    if as_postgres and subprocess.run(["id", "postgres"], capture_output=True).returncode != 0:
        raise ServerMissing("no postgres system user to run the server as")
    tmp = Path(tempfile.mkdtemp(prefix="dossier-pg-"))
    datadir = tmp / "data"
    if as_postgres:
        shutil.chown(tmp, "postgres")
    port = free_port()
    _run(
        [
            str(bindir / "initdb"),
            "-D",
            str(datadir),
            "-A",
            "trust",
            "-U",
            "dossier",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        ],
        as_postgres,
    )
    opts = (
        f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    _run(
        [
            str(bindir / "pg_ctl"),
            "-D",
            str(datadir),
            "-l",
            str(tmp / "log"),
            "-o",
            f"'{opts}'" if as_postgres else opts,
            "-w",
            "start",
        ],
        as_postgres,
    )
    try:
        yield PostgresServer(port=port, datadir=datadir)
    finally:
        _run([str(bindir / "pg_ctl"), "-D", str(datadir), "-m", "immediate", "stop"], as_postgres)
        shutil.rmtree(tmp, ignore_errors=True)
