"""The mail-server fixtures work: Dovecot over IMAP, aiosmtpd over SMTP."""

from __future__ import annotations

import imaplib
import smtplib
from email.message import EmailMessage

import pytest
from imapclient import IMAPClient

import tests.conftest
from tests.servers.dovecot import Dovecot, quote
from tests.servers.fixtures import ImapUser
from tests.servers.smtp import SmtpServer

if not hasattr(tests.conftest, "imap_user"):
    # Until tests/conftest.py imports the mail-server fixtures, bring them in here; afterwards
    # this is skipped, so the session still starts a single Dovecot.
    from tests.servers.fixtures import *  # noqa: F403

pytestmark = pytest.mark.slow


def message(subject: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Jana Nováková <jana@firma.cz>"
    msg["To"] = "zofia@firma.pl"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{subject.replace(' ', '-')}@dossier.test>"
    msg.set_content(f"Body of {subject}\n")
    return msg.as_bytes().replace(b"\n", b"\r\n")


def test_imaplib_login_and_capabilities(imap_user: ImapUser) -> None:
    conn = imaplib.IMAP4(imap_user.host, imap_user.port, timeout=10)
    try:
        assert conn.login(imap_user.name, imap_user.password)[0] == "OK"
        status, data = conn.capability()
        assert status == "OK"
        caps = set(data[0].decode().upper().split())
        assert {"CONDSTORE", "QRESYNC", "IDLE", "SPECIAL-USE", "UIDPLUS", "MOVE"} <= caps
    finally:
        conn.logout()


def test_wrong_password_is_refused(imap_user: ImapUser) -> None:
    conn = imaplib.IMAP4(imap_user.host, imap_user.port, timeout=10)
    try:
        with pytest.raises(imaplib.IMAP4.error):
            conn.login(imap_user.name, imap_user.password + "x")
    finally:
        conn.logout()


def test_append_two_messages_and_see_them(dovecot: Dovecot, imap_user: ImapUser) -> None:
    user, password = imap_user.name, imap_user.password
    first = dovecot.append(user, password, "INBOX", message("first"))
    second = dovecot.append(user, password, "INBOX", message("second"), ("\\Seen",))
    assert second > first

    with IMAPClient(imap_user.host, port=imap_user.port, ssl=False, timeout=10) as client:
        client.login(user, password)
        client.select_folder("INBOX", readonly=True)
        assert client.search("ALL") == [first, second]
        fetched = client.fetch([first, second], ["ENVELOPE", "FLAGS"])
        assert [fetched[uid][b"ENVELOPE"].subject for uid in (first, second)] == [
            b"first",
            b"second",
        ]
        assert b"\\Seen" in fetched[second][b"FLAGS"]
        assert b"\\Seen" not in fetched[first][b"FLAGS"]


def test_users_do_not_share_mail(dovecot: Dovecot, imap_user: ImapUser) -> None:
    dovecot.add_user("other-" + imap_user.name, "other-secret")
    dovecot.append(imap_user.name, imap_user.password, "INBOX", message("mine"))
    assert dovecot.messages("other-" + imap_user.name, "other-secret", "INBOX") == {}


def test_special_use_folders(imap_user: ImapUser) -> None:
    with IMAPClient(imap_user.host, port=imap_user.port, ssl=False, timeout=10) as client:
        client.login(imap_user.name, imap_user.password)
        assert client.find_special_folder(b"\\Sent") == "Sent"
        assert client.find_special_folder(b"\\Trash") == "Trash"
        special = {name for flags, _, name in client.list_folders() if b"\\Junk" in flags}
        assert special == {"Junk"}
        assert {"Sent", "Drafts", "Trash", "Junk"} <= {
            name for _, _, name in client.list_sub_folders()
        }


def test_condstore_modseq(dovecot: Dovecot, imap_user: ImapUser) -> None:
    uid = dovecot.append(imap_user.name, imap_user.password, "Archive", message("modseq"))
    with IMAPClient(imap_user.host, port=imap_user.port, ssl=False, timeout=10) as client:
        client.login(imap_user.name, imap_user.password)
        assert client.has_capability("CONDSTORE")
        client.enable("CONDSTORE", "QRESYNC")
        status = client.select_folder("Archive")
        before = status[b"HIGHESTMODSEQ"]
        client.add_flags([uid], [b"\\Flagged"])
        changed = client.fetch([uid], ["FLAGS"], modifiers=[f"CHANGEDSINCE {before}"])
        assert b"\\Flagged" in changed[uid][b"FLAGS"]
        assert changed[uid][b"MODSEQ"][0] > before


def test_folders_and_flags(dovecot: Dovecot, imap_user: ImapUser) -> None:
    user, password = imap_user.name, imap_user.password
    dovecot.create_folder(user, password, "Zákazníci/Novák & syn")
    dovecot.create_folder(user, password, "Zákazníci/Novák & syn")  # already there: fine
    uid = dovecot.append(
        user, password, "Zákazníci/Novák & syn", message("flagged"), ("\\Flagged", "$Dossier")
    )
    assert dovecot.flags(user, password, "Zákazníci/Novák & syn") == {
        uid: {"\\Flagged", "$Dossier"}
    }
    with IMAPClient(imap_user.host, port=imap_user.port, ssl=False, timeout=10) as client:
        client.login(user, password)
        assert client.folder_exists("Zákazníci/Novák & syn")
    dovecot.delete_folder(user, password, "Zákazníci/Novák & syn")
    with dovecot.connect(user, password) as conn:
        typ, data = conn.list('""', quote("Zákazníci/Novák & syn"))
        assert typ == "OK" and data == [None]


@pytest.mark.parametrize("folder", ["Archive", "INBOX"])
def test_reset_uidvalidity_keeps_messages(
    dovecot: Dovecot, imap_user: ImapUser, folder: str
) -> None:
    user, password = imap_user.name, imap_user.password
    dovecot.append(user, password, folder, message("one"), ("\\Seen",))
    dovecot.append(user, password, folder, message("two"), ("\\Answered", "$Label1"))
    before = dovecot.uidvalidity(user, password, folder)
    raw_before = list(dovecot.messages(user, password, folder).values())

    after = dovecot.reset_uidvalidity(user, password, folder)

    assert after != before
    with IMAPClient(imap_user.host, port=imap_user.port, ssl=False, timeout=10) as client:
        client.login(user, password)
        assert client.select_folder(folder, readonly=True)[b"UIDVALIDITY"] == after
    assert list(dovecot.messages(user, password, folder).values()) == raw_before
    assert sorted(map(sorted, dovecot.flags(user, password, folder).values())) == [
        ["$Label1", "\\Answered"],
        ["\\Seen"],
    ]


def test_smtp_login_and_send(smtp_server: SmtpServer) -> None:
    raw = message("over smtp")
    with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=10) as smtp:
        smtp.ehlo("dossier.test")
        assert smtp.has_extn("AUTH")
        smtp.login(smtp_server.user, smtp_server.password)
        refused = smtp.sendmail("jana@firma.cz", ["zofia@firma.pl", "petr@firma.cz"], raw)
    assert refused == {}
    [received] = smtp_server.messages
    assert received.mail_from == "jana@firma.cz"
    assert received.rcpt_tos == ("zofia@firma.pl", "petr@firma.cz")
    assert received.login == smtp_server.user
    assert b"Subject: over smtp" in received.raw
    assert received.raw.rstrip(b"\r\n") == raw.rstrip(b"\r\n")


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_smtp_auth_mechanisms(smtp_server: SmtpServer, mechanism: str) -> None:
    with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=10) as smtp:
        smtp.ehlo()
        smtp.user, smtp.password = smtp_server.user, smtp_server.password
        auth = smtp.auth_plain if mechanism == "PLAIN" else smtp.auth_login
        code, _ = smtp.auth(mechanism, auth)
        assert code == 235


def test_smtp_wrong_password(smtp_server: SmtpServer) -> None:
    with (
        smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=10) as smtp,
        pytest.raises(smtplib.SMTPAuthenticationError),
    ):
        smtp.login(smtp_server.user, "wrong")
    # smtplib tries every mechanism the server offers (PLAIN, then LOGIN) before giving up
    assert set(smtp_server.failed_logins) == {smtp_server.user}
    assert smtp_server.messages == []


def test_smtp_require_auth() -> None:
    from tests.servers.smtp import smtp_server as run_smtp_server

    with run_smtp_server("u", "p", require_auth=True) as server:
        with (
            smtplib.SMTP(server.host, server.port, timeout=10) as smtp,
            pytest.raises(smtplib.SMTPSenderRefused),
        ):
            smtp.sendmail("a@b.c", ["d@e.f"], message("anonymous"))
        with smtplib.SMTP(server.host, server.port, timeout=10) as smtp:
            smtp.login("u", "p")
            smtp.sendmail("a@b.c", ["d@e.f"], message("logged in"))
        assert [m.login for m in server.wait_for(1)] == ["u"]
