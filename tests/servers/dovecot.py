"""A throwaway Dovecot 2.3 IMAP server on loopback for the test session (Debian `dovecot-imapd`).

Dovecot runs as an unprivileged system user (``dovetest``, created if missing when we are root)
from its own config file passed by ``-c``; everything lives in a temp dir owned by that user
(FIELD-NOTES.md, "Dovecot for IMAP tests"). Users come from per-user ``passwd-file``s with
plain-text passwords (``users/<name>``), so tests can add users on the fly (see ``add_user``).

The helpers talk to the server over IMAP with the stdlib's imaplib, the same way a client does.
"""

from __future__ import annotations

import grp
import imaplib
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imapclient import imap_utf7

from tests.servers.postgres import ServerMissing, free_port

SYSTEM_USER = "dovetest"
START_TIMEOUT = 10.0
SPECIAL_USE = {"Sent": "\\Sent", "Drafts": "\\Drafts", "Trash": "\\Trash", "Junk": "\\Junk"}


def _binary(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")


def dovecot_missing() -> str | None:
    """Why Dovecot cannot run here, or None when it can."""
    if _binary("dovecot") is None or _binary("doveadm") is None:
        return "Dovecot is not available: install Debian's dovecot-imapd"
    if not Path("/usr/lib/dovecot/imap").exists():
        return "Dovecot's IMAP server is not installed: install Debian's dovecot-imapd"
    return None


def dovecot_or_skip() -> None:
    """Skip the test (or fail it under DOSSIER_REQUIRE_ALL=1) when Dovecot is missing."""
    reason = dovecot_missing()
    if reason is not None:
        from tests.conftest import require_or_skip

        require_or_skip(reason)


def _system_user() -> pwd.struct_passwd:
    """The unprivileged user Dovecot runs as: ``dovetest`` as root, else ourselves."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid())
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        pass
    try:
        result = subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                SYSTEM_USER,
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except OSError as exc:
        raise ServerMissing(f"cannot create the system user {SYSTEM_USER}: {exc}") from None
    try:
        # Another pytest worker may have created it first: useradd then fails, which is fine.
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        raise ServerMissing(
            f"cannot create the system user {SYSTEM_USER}: {result.stderr.strip()}"
        ) from None


def quote(folder: str) -> str:
    """A folder name as an IMAP quoted string, in modified UTF-7."""
    encoded = imap_utf7.encode(folder).decode("ascii")
    return '"' + encoded.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _check(result: tuple[str, Sequence[Any]], what: str) -> list[Any]:
    """The data of an OK response; imaplib's items are bytes, None or (bytes, bytes)."""
    typ, data = result
    if typ != "OK":
        raise imaplib.IMAP4.error(f"{what} failed: {typ} {data!r}")
    return list(data)


_USER_NAME = re.compile(r"[A-Za-z0-9_@+=-][A-Za-z0-9._@+=-]{0,99}")
_UIDVALIDITY = re.compile(rb"UIDVALIDITY (\d+)")
_APPENDUID = re.compile(rb"APPENDUID (\d+) (\d+)")
_FETCH_UID = re.compile(rb"UID (\d+)")
_FETCH_FLAGS = re.compile(rb"FLAGS \(([^)]*)\)")
_FETCH_DATE = re.compile(rb'INTERNALDATE "([^"]+)"')


def _config(tmp: Path, port: int, user: pwd.struct_passwd) -> str:
    mailboxes = "\n".join(
        f"  mailbox {name} {{\n    special_use = {flag}\n    auto = subscribe\n  }}"
        for name, flag in SPECIAL_USE.items()
    )
    return f"""\
# Throwaway test instance: see tests/servers/dovecot.py
protocols = imap
listen = 127.0.0.1
base_dir = {tmp}/run
state_dir = {tmp}/state
log_path = {tmp}/dovecot.log
info_log_path = {tmp}/dovecot.log
instance_name = dossier-test-{port}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
# Fast failed logins: no 2 s failure delay (a failure still takes about 0.5 s), and no anvil
# "auth penalty" (see service anvil below).
auth_failure_delay = 0
auth_verbose = yes
mail_location = maildir:{tmp}/mail/%u/Maildir
mail_uid = {user.pw_uid}
mail_gid = {user.pw_gid}
first_valid_uid = {user.pw_uid}
last_valid_uid = {user.pw_uid}
first_valid_gid = {user.pw_gid}
last_valid_gid = {user.pw_gid}
default_internal_user = {user.pw_name}
default_internal_group = {grp.getgrgid(user.pw_gid).gr_name}
default_login_user = {user.pw_name}
login_log_format_elements = user=<%u> method=%m rip=%r lip=%l mpid=%e %c
protocol imap {{
  mail_max_userip_connections = 100
}}
# IDLE clients hear of new mail through inotify at once; where inotify is missing, Dovecot looks
# at this interval (30 s by default).
mailbox_idle_check_interval = 1 secs
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {tmp}/users/%u
}}
userdb {{
  driver = static
  args = uid={user.pw_uid} gid={user.pw_gid} home={tmp}/mail/%u
}}
namespace inbox {{
  inbox = yes
  separator = /
{mailboxes}
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
  # Without this, every failed login delays the next logins from the same IP (all tests
  # share 127.0.0.1) by 2, 4, 8 then 15 s. An unconnectable listener disables the penalty.
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service auth-worker {{
  user = {user.pw_name}
}}
"""


@dataclass
class Dovecot:
    """A running Dovecot; helpers log in over IMAP as the given user."""

    host: str
    port: int
    tmp: Path
    config: Path
    system_user: pwd.struct_passwd
    doveadm: str = "doveadm"
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    # --- users ---------------------------------------------------------------------------

    def add_user(self, name: str, password: str) -> None:
        """Add a mail user. (Rewriting an existing user's password may take Dovecot a second
        to notice, see below.)

        Each user has a passwd-file of its own (``users/%u``): Dovecot stats a passwd-file at
        most once per second, so a user appended to one shared file can be "unknown" for up to
        a second when another login just read it; a new file has not been read yet.
        """
        if not _USER_NAME.fullmatch(name):
            raise ValueError(f"unsupported IMAP user name for the test server: {name!r}")
        if any(c in password for c in ":\r\n\0"):
            raise ValueError("passwords must not contain ':' or line breaks")
        path = self.tmp / "users" / name
        path.write_text(f"{name}:{{PLAIN}}{password}::::::\n", encoding="utf-8")
        if os.geteuid() == 0:
            os.chown(path, self.system_user.pw_uid, self.system_user.pw_gid)

    @contextmanager
    def connect(self, user: str, password: str) -> Iterator[imaplib.IMAP4]:
        """An imaplib connection logged in as the user."""
        conn = imaplib.IMAP4(self.host, self.port, timeout=10)
        try:
            _check(conn.login(user, password), "LOGIN")
            yield conn
        finally:
            try:
                conn.logout()
            except (OSError, imaplib.IMAP4.error):
                conn.shutdown()

    # --- folders -------------------------------------------------------------------------

    def create_folder(self, user: str, password: str, folder: str) -> None:
        with self.connect(user, password) as conn:
            self._ensure_folder(conn, folder)

    def delete_folder(self, user: str, password: str, folder: str) -> None:
        with self.connect(user, password) as conn:
            _check(conn.delete(quote(folder)), f"DELETE {folder}")

    def uidvalidity(self, user: str, password: str, folder: str) -> int:
        with self.connect(user, password) as conn:
            return self._uidvalidity(conn, folder)

    def reset_uidvalidity(self, user: str, password: str, folder: str) -> int:
        """Give the folder a new UIDVALIDITY, keeping its messages (with flags and dates).

        Other folders are deleted, recreated and their messages re-appended (they get new UIDs,
        as after a real server-side rebuild). INBOX cannot be deleted, so its UIDVALIDITY is
        set with ``doveadm mailbox update`` instead. Returns the new UIDVALIDITY.
        """
        with self.connect(user, password) as conn:
            before = self._uidvalidity(conn, folder)
            if folder.upper() == "INBOX":
                self._doveadm(
                    "mailbox", "update", "-u", user, "--uid-validity", str(before + 1), "INBOX"
                )
            else:
                messages = self._fetch_all(conn, folder)
                _check(conn.delete(quote(folder)), f"DELETE {folder}")
                _check(conn.create(quote(folder)), f"CREATE {folder}")
                for raw, flags, date in messages:
                    self._append(conn, folder, raw, flags, date)
            after = self._uidvalidity(conn, folder)
        assert after != before, f"UIDVALIDITY of {folder} did not change ({before})"
        return after

    # --- messages ------------------------------------------------------------------------

    def append(
        self, user: str, password: str, folder: str, raw: bytes, flags: tuple[str, ...] = ()
    ) -> int:
        """Store a message in the folder (created if missing) and return its UID."""
        with self.connect(user, password) as conn:
            self._ensure_folder(conn, folder)
            return self._append(conn, folder, raw, flags, None)

    def flags(self, user: str, password: str, folder: str) -> dict[int, set[str]]:
        """UID -> flags of every message in the folder.

        ``\\Recent`` is left out: it depends on which session saw the message first.
        """
        with self.connect(user, password) as conn:
            _check(conn.select(quote(folder), readonly=True), f"EXAMINE {folder}")
            data = _check(conn.uid("FETCH", "1:*", "(UID FLAGS)"), "UID FETCH")
            result: dict[int, set[str]] = {}
            for item in data:
                line = item[0] if isinstance(item, tuple) else item
                if not isinstance(line, bytes):
                    continue
                uid, flags = _FETCH_UID.search(line), _FETCH_FLAGS.search(line)
                if uid and flags:
                    found = set(flags.group(1).decode().split())
                    result[int(uid.group(1))] = found - {"\\Recent"}
            return result

    def messages(self, user: str, password: str, folder: str) -> dict[int, bytes]:
        """UID -> raw message of every message in the folder."""
        with self.connect(user, password) as conn:
            _check(conn.select(quote(folder), readonly=True), f"EXAMINE {folder}")
            data = _check(conn.uid("FETCH", "1:*", "(UID BODY.PEEK[])"), "UID FETCH")
            result: dict[int, bytes] = {}
            for item in data:
                if isinstance(item, tuple) and (uid := _FETCH_UID.search(item[0])):
                    result[int(uid.group(1))] = item[1]
            return result

    # --- internals -----------------------------------------------------------------------

    def _ensure_folder(self, conn: imaplib.IMAP4, folder: str) -> None:
        typ, data = conn.list('""', quote(folder))
        if typ == "OK" and data and data[0] is not None:
            return
        _check(conn.create(quote(folder)), f"CREATE {folder}")

    def _uidvalidity(self, conn: imaplib.IMAP4, folder: str) -> int:
        data = _check(conn.status(quote(folder), "(UIDVALIDITY)"), f"STATUS {folder}")
        match = _UIDVALIDITY.search(data[0] if isinstance(data[0], bytes) else b"")
        if match is None:
            raise imaplib.IMAP4.error(f"no UIDVALIDITY in {data!r}")
        return int(match.group(1))

    def _append(
        self,
        conn: imaplib.IMAP4,
        folder: str,
        raw: bytes,
        flags: tuple[str, ...],
        date: str | None,
    ) -> int:
        flag_list = "(" + " ".join(flags) + ")" if flags else None
        when = f'"{date}"' if date else None
        _check(conn.append(quote(folder), flag_list, when, raw), f"APPEND {folder}")
        code: list[Any] | None = conn.untagged_responses.pop("APPENDUID", None)
        last = code[-1] if code else None
        match = _APPENDUID.search(b"APPENDUID " + last) if isinstance(last, bytes) else None
        if match is None:
            raise imaplib.IMAP4.error("the server sent no APPENDUID (UIDPLUS)")
        return int(match.group(2))

    def _fetch_all(
        self, conn: imaplib.IMAP4, folder: str
    ) -> list[tuple[bytes, tuple[str, ...], str | None]]:
        _check(conn.select(quote(folder), readonly=True), f"EXAMINE {folder}")
        data = _check(conn.uid("FETCH", "1:*", "(UID FLAGS INTERNALDATE BODY.PEEK[])"), "UID FETCH")
        conn.close()
        found: list[tuple[int, bytes, tuple[str, ...], str | None]] = []
        for item in data:
            if not isinstance(item, tuple):
                continue
            head, raw = item
            uid, flags, date = (
                _FETCH_UID.search(head),
                _FETCH_FLAGS.search(head),
                _FETCH_DATE.search(head),
            )
            if uid is None:
                continue
            kept = tuple(
                f for f in (flags.group(1).decode().split() if flags else []) if f != "\\Recent"
            )
            found.append((int(uid.group(1)), raw, kept, date.group(1).decode() if date else None))
        return [(raw, flags, date) for _, raw, flags, date in sorted(found)]

    def _doveadm(self, *args: str) -> str:
        result = subprocess.run(
            [self.doveadm, "-c", str(self.config), *args],
            capture_output=True,
            timeout=30,
            text=True,
        )
        if result.returncode != 0:
            raise RuntimeError(f"doveadm {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = (self.tmp / "dovecot.log").read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def _wait_for_port(server: Dovecot, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _, err = process.communicate()
            raise RuntimeError(
                f"Dovecot exited with {process.returncode}: {err.decode(errors='replace')}\n"
                f"{server.log_tail()}"
            )
        try:
            with socket.create_connection((server.host, server.port), timeout=0.5) as sock:
                sock.settimeout(2)
                if sock.recv(200).startswith(b"* OK"):
                    return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(
        f"Dovecot did not listen on {server.host}:{server.port} within {START_TIMEOUT:.0f} s\n"
        f"{server.log_tail()}"
    )


@contextmanager
def dovecot_server() -> Iterator[Dovecot]:
    """Start Dovecot on a free loopback port; stop it and remove its files afterwards."""
    reason = dovecot_missing()
    dovecot, doveadm = _binary("dovecot"), _binary("doveadm")
    if reason is not None or dovecot is None or doveadm is None:
        raise ServerMissing(reason or "Dovecot is not available")
    user = _system_user()
    tmp = Path(tempfile.mkdtemp(prefix="dossier-dovecot-"))
    for sub in ("run", "state", "mail", "users"):
        (tmp / sub).mkdir()
    port = free_port()
    config = tmp / "dovecot.conf"
    config.write_text(_config(tmp, port, user), encoding="utf-8")
    (tmp / "dovecot.log").touch()
    if os.geteuid() == 0:
        for path in (tmp, *tmp.iterdir()):
            os.chown(path, user.pw_uid, user.pw_gid)
    server = Dovecot(
        host="127.0.0.1", port=port, tmp=tmp, config=config, system_user=user, doveadm=doveadm
    )
    # As root, drop to the system user in the child (Popen's setgroups/setgid/setuid) so the
    # process we wait on and stop is Dovecot's master itself, not an `su` wrapper.
    drop: dict[str, Any] = (
        {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []} if os.geteuid() == 0 else {}
    )
    process = subprocess.Popen(
        [dovecot, "-F", "-c", str(config)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(tmp)},
        **drop,
    )
    server._process = process
    try:
        _wait_for_port(server, process)
        yield server
    finally:
        _stop(server, process)
        shutil.rmtree(tmp, ignore_errors=True)


def _stop(server: Dovecot, process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the master, which is all `doveadm stop` does (it reads the master's pid file,
    sends SIGTERM and then polls for about 3 s); we own the process, so signal it directly and
    wait (about 1 s). `doveadm stop` remains the fallback, then SIGKILL."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            subprocess.run(
                [server.doveadm, "-c", str(server.config), "stop"], capture_output=True, timeout=30
            )
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    if process.stderr is not None:
        process.stderr.close()
