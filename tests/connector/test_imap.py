"""The IMAP connector against a real Dovecot (tests/servers/dovecot.py)."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from connector.imap import ImapCheckpoint, ImapSync, sync_accounts
from connector.models import FolderState, MailAccount
from crm.cli import main
from crm.db import Database
from crm.settings import Settings
from mail_archive.models import Message, MessageSource
from tests.conftest import World
from tests.connector.conftest import add_imap
from tests.mail_archive.conftest import Dossier
from tests.mailfactory import make_mail
from tests.servers.dovecot import Dovecot
from tests.servers.fixtures import ImapUser


def messages(database: Database) -> int:
    with database.session(write=False) as s:
        return int(s.scalar(select(func.count()).select_from(Message)) or 0)


def by_folder(report: object) -> dict[str, object]:
    return {f.folder: f for f in report.folders}  # type: ignore[attr-defined]


def test_incremental_sync_files_partner_mail_skips_private_and_leaves_flags(
    database: Database, world: World, dossier: Dossier, dovecot: Dovecot, imap_user: ImapUser
) -> None:
    u = imap_user
    dovecot.append(u.name, u.password, "INBOX", make_mail(subject="Nabídka"))
    dovecot.append(u.name, u.password, "INBOX", make_mail(sender=("Máma", "mama@seznam.cz")))
    account_id = add_imap(database, u, world.sales_a.email)

    report = ImapSync(database, account_id).run()
    assert report.error == ""
    inbox = by_folder(report)["INBOX"]
    assert (inbox.fetched, inbox.archived, inbox.skipped) == (2, 1, 1)  # type: ignore[attr-defined]
    assert messages(database) == 1
    assert all("\\Seen" not in f for f in dovecot.flags(u.name, u.password, "INBOX").values())
    assert "CRM" in {f.folder for f in report.folders}  # created when missing

    dovecot.append(u.name, u.password, "INBOX", make_mail(subject="Doplnění nabídky"))
    again = by_folder(ImapSync(database, account_id).run())["INBOX"]
    assert again.fetched == 1 and again.archived == 1  # type: ignore[attr-defined]
    assert messages(database) == 2
    with database.session() as s:
        state = s.scalars(select(FolderState).where(FolderState.folder == "INBOX")).one()
        assert ImapCheckpoint.decode(state.checkpoint).uid == 3


def test_the_crm_folder_files_to_its_partner_subfolder_and_triages_the_rest(
    database: Database, world: World, dossier: Dossier, dovecot: Dovecot, imap_user: ImapUser
) -> None:
    u = imap_user
    stranger = ("Nový zákazník", "info@novy-zakaznik.cz")
    dovecot.append(u.name, u.password, "CRM", make_mail(sender=stranger, subject="Poptávka"))
    # Dovecot's maildir refuses dots in folder names: "s r o" still finds "s.r.o."
    dovecot.append(
        u.name, u.password, "CRM/Stavby Příbram s r o", make_mail(sender=stranger, subject="Hala")
    )
    account_id = add_imap(database, u, world.sales_a.email)
    report = by_folder(ImapSync(database, account_id).run())
    assert report["CRM"].triaged == 1  # type: ignore[attr-defined]
    assert report["CRM/Stavby Příbram s r o"].archived == 1  # type: ignore[attr-defined]
    with database.session() as s:
        filed = s.scalars(select(Message).where(Message.subject == "Hala")).one()
        assert [(link.target, link.how) for link in filed.links] == [
            (f"partner:{dossier.partner_id}", "folder")
        ]
        assert filed.links[0].created_by_id == world.sales_a.id
        queued = s.scalars(select(Message).where(Message.subject == "Poptávka")).one()
        assert queued.status == "triage" and queued.owner_id == world.sales_a.id


def test_a_uidvalidity_change_rereads_and_dedupe_absorbs_it(
    database: Database, world: World, dossier: Dossier, dovecot: Dovecot, imap_user: ImapUser
) -> None:
    u = imap_user
    dovecot.append(u.name, u.password, "Archiv", make_mail(subject="Stará nabídka"))
    account_id = add_imap(database, u, world.sales_a.email)
    with database.session() as s:
        s.get(MailAccount, account_id).folders = ["INBOX", "Archiv"]  # type: ignore[union-attr]
    ImapSync(database, account_id).run()
    dovecot.reset_uidvalidity(u.name, u.password, "Archiv")
    report = by_folder(ImapSync(database, account_id).run())["Archiv"]
    assert report.fetched == 1 and report.duplicates == 1  # type: ignore[attr-defined]
    assert messages(database) == 1


def test_two_mailboxes_with_the_same_message_store_it_once(
    database: Database, world: World, dossier: Dossier, dovecot: Dovecot, imap_user: ImapUser
) -> None:
    second = ImapUser(
        "second-" + imap_user.name, "pw-" + imap_user.password, imap_user.host, imap_user.port
    )
    dovecot.add_user(second.name, second.password)
    raw = make_mail(to=[("Jana", "jana@firma.cz"), ("Petr", "petr@firma.cz")])
    dovecot.append(imap_user.name, imap_user.password, "INBOX", raw)
    dovecot.append(second.name, second.password, "INBOX", raw)
    add_imap(database, imap_user, world.sales_a.email, "jana")
    add_imap(database, second, world.sales_a2.email, "petr")
    reports = sync_accounts(database)
    assert [r.error for r in reports] == ["", ""]
    assert messages(database) == 1
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(MessageSource)) == 2


def test_a_failing_account_shows_its_error_and_the_others_still_sync(
    database: Database, world: World, dossier: Dossier, dovecot: Dovecot, imap_user: ImapUser
) -> None:
    dovecot.append(imap_user.name, imap_user.password, "INBOX", make_mail())
    wrong = ImapUser(imap_user.name, "not-the-password", imap_user.host, imap_user.port)
    add_imap(database, wrong, world.sales_a.email, "a-broken")
    add_imap(database, imap_user, world.sales_a.email, "b-working")
    broken, working = sync_accounts(database)
    assert "refused the login" in broken.error
    assert working.error == "" and messages(database) == 1
    with database.session() as s:
        row = s.scalars(select(MailAccount).where(MailAccount.name == "a-broken")).one()
        assert "refused the login" in row.last_error and row.last_error_at is not None


def test_cli_adds_an_account_and_sync_prints_counts(
    database: Database,
    settings: Settings,
    world: World,
    dossier: Dossier,
    dovecot: Dovecot,
    imap_user: ImapUser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOSSIER_HOME", str(settings.home))
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("JANA_IMAP_PASSWORD", imap_user.password)
    dovecot.append(imap_user.name, imap_user.password, "INBOX", make_mail())
    runner = CliRunner()
    added = runner.invoke(
        main,
        [
            "account",
            "add",
            "imap",
            "jana",
            "--host",
            imap_user.host,
            "--port",
            str(imap_user.port),
            "--security",
            "none",
            "--username",
            imap_user.name,
            "--store-password-env",
            "JANA_IMAP_PASSWORD",
            "--user",
            world.sales_a.email,
        ],
    )
    assert added.exit_code == 0, added.output
    with database.session() as s:
        stored = s.scalars(select(MailAccount)).one()
        assert stored.password_encrypted and imap_user.password not in stored.password_encrypted
    monkeypatch.delenv("JANA_IMAP_PASSWORD")
    synced = runner.invoke(main, ["sync"])
    assert synced.exit_code == 0, synced.output
    assert "INBOX" in synced.output and "archived 1" in synced.output
    missing = runner.invoke(main, ["sync", "--account", "nobody"])
    assert missing.exit_code != 0 and "no mail account named nobody" in missing.output
    assert os.environ.get("JANA_IMAP_PASSWORD") is None
