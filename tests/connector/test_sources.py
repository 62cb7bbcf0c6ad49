"""The mail-source interface (connector.sources). Kinds of mail account come from the entry point
group ``dossier.mail_sources``; an unknown kind is refused with the kinds listed. A second kind
written here, an in-memory mailbox (a list of messages per folder, like a maildir), is installed
the way any package would install one (an entry point of a distribution on the path) and is
then added, synced, tested and checkpointed by the very paths IMAP takes: ``dossier account add
<kind>``, ``dossier sync``, the background scheduler, the connection test and the page's "Sync
now". Nothing of it is IMAP's: the interface is the only seam."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import event, select, text
from sqlalchemy.orm import Session

from connector.accounts import AccountError
from connector.models import FolderState, MailAccount
from connector.probe import FAILED, OK, ConnectionTests
from connector.scheduler import MailScheduler
from connector.sources import (
    Batch,
    Capabilities,
    Folder,
    Item,
    MailSource,
    UnknownKind,
    load_source,
    source_kinds,
)
from connector.sync import SYNC_BROKE_OFF, SYNC_FAILED, sync_account, sync_accounts
from crm.bootstrap import initialize
from crm.cli import load_settings, main
from crm.db import Database
from crm.models import User
from crm.settings import Settings
from mail_archive.models import Message, MessageLink, MessageSource
from tests.conftest import World, count, login, post_form
from tests.mail_archive.conftest import Dossier
from tests.mailfactory import make_mail

# -- the second kind: an in-memory mailbox ---------------------------------------------------

# box -> folder -> messages, oldest first; the account's ``host`` names its box
MAILBOXES: dict[str, dict[str, list[bytes]]] = {}
# box -> how many batches it hands out before the connection "breaks off"
BREAKS_AFTER: dict[str, int] = {}
BATCH = 2


class MemorySource(MailSource):
    """A mailbox in memory: folders ``inbox`` (read automatically) and ``crm`` (mail put there
    on purpose); its checkpoint is how many messages of the folder were read."""

    kind = "memory"
    archive_kind = "file"
    capabilities = Capabilities(push=False, folders=True, checkpoint="messages read")
    network_errors = (ConnectionResetError,)

    @contextmanager
    def connect(self, *, read_timeout: float | None = None) -> Iterator[None]:
        if self.account.host not in MAILBOXES:
            raise AccountError(f"no mailbox {self.account.host}")
        yield

    def folders(self) -> list[Folder]:
        box = MAILBOXES[self.account.host]
        return [Folder(name, explicit=name == "crm") for name in ("inbox", "crm") if name in box]

    def changes(self, folder: Folder, checkpoint: str) -> Iterator[Batch]:
        mail = MAILBOXES[self.account.host][folder.name]
        read = int(checkpoint.removeprefix("read ") or 0)
        for first in range(read, len(mail), BATCH):
            box = self.account.host
            if box in BREAKS_AFTER:
                if BREAKS_AFTER[box] <= 0:
                    raise ConnectionResetError("the box went away")
                BREAKS_AFTER[box] -= 1
            chunk = mail[first : first + BATCH]
            items = [
                Item(f"memory:{self.account.id}:{folder.name}:{first + i}", raw)
                for i, raw in enumerate(chunk)
            ]
            yield Batch(items, f"read {first + len(chunk)}", len(chunk))

    @classmethod
    def add_command(cls) -> click.Command:
        return add_memory


@click.command("memory")
@click.argument("name")
@click.option("--box", required=True, help="The mailbox in memory.")
@click.option("--user", "user_email", required=True)
def add_memory(name: str, box: str, user_email: str) -> None:
    """Add the in-memory account NAME."""
    db = initialize(load_settings())
    try:
        with db.session() as s:
            user = s.scalars(select(User).where(User.email == user_email)).one()
            s.add(
                MailAccount(
                    name=name, kind="memory", user_id=user.id, host=box, port=0, username=box
                )
            )
        click.echo(f"Account {name} added ({box}).")
    finally:
        db.dispose()


@pytest.fixture
def memory_kind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The memory kind installed as a distribution on the path, with its entry point."""
    site = tmp_path / "site"
    dist = site / "dossier_memory_source-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: dossier-memory-source\nVersion: 1.0\n"
    )
    (dist / "entry_points.txt").write_text(
        f"[dossier.mail_sources]\nmemory = {__name__}:MemorySource\n"
    )
    monkeypatch.syspath_prepend(str(site))
    MAILBOXES.clear()
    BREAKS_AFTER.clear()
    yield
    MAILBOXES.clear()
    BREAKS_AFTER.clear()


@pytest.fixture
def cli(settings: Settings, database: Database, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("DOSSIER_HOME", str(settings.home))
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    return CliRunner()


def fill_box(box: str) -> None:
    """Four messages from Jan Novák (a person of the dossier's partner), one private message,
    and in ``crm`` one from a stranger (waits in triage)."""
    inbox = [make_mail(subject=f"Nabídka {i}", message_id=f"nabidka-{i}@test") for i in range(4)]
    private = make_mail(subject="Oběd?", sender=("Máma", "mama@seznam.cz"), message_id="obed@t")
    stranger = make_mail(subject="Poptávka", sender=("Nový", "novy@novy-zakaznik.cz"))
    MAILBOXES[box] = {"inbox": [*inbox, private], "crm": [stranger]}


def add_memory_account(database: Database, user: User, name: str = "pamet") -> int:
    with database.session() as s:
        account = MailAccount(
            name=name, kind="memory", user_id=user.id, host=name, port=0, username=name
        )
        s.add(account)
        s.flush()
        return account.id


def checkpoints(database: Database, account_id: int) -> dict[str, str]:
    with database.session(write=False) as s:
        rows = s.execute(
            select(FolderState.folder, FolderState.checkpoint).where(
                FolderState.account_id == account_id
            )
        )
        return {folder: checkpoint for folder, checkpoint in rows}


def archived(database: Database) -> dict[str, str]:
    """Message-ID -> status of every archived message."""
    with database.session(write=False) as s:
        return {
            mid: status for mid, status in s.execute(select(Message.internet_id, Message.status))
        }


def account_row(database: Database, account_id: int) -> MailAccount:
    with database.session(write=False) as s:
        row = s.get(MailAccount, account_id)
        assert row is not None
        s.expunge(row)
        return row


# -- the registry --------------------------------------------------------------------------


def test_an_unknown_kind_is_a_clear_error_that_lists_the_kinds(
    database: Database, world: World, cli: CliRunner
) -> None:
    assert "imap" in source_kinds() and load_source("imap").kind == "imap"
    with pytest.raises(UnknownKind, match="unknown kind of mail account 'ews'; the kinds are: "):
        load_source("ews")
    refused = cli.invoke(main, ["account", "add", "ews", "box", "--user", world.sales_a.email])
    assert refused.exit_code == 2
    assert "unknown kind of mail account 'ews'; the kinds are: demo, imap" in refused.output
    # an account of a kind no longer installed: its sync and its test say so, nothing breaks
    account_id = add_memory_account(database, world.sales_a, "gone")
    report = sync_account(database, account_id)
    assert report.error == "unknown kind of mail account 'memory'; the kinds are: demo, imap"
    assert account_row(database, account_id).last_error == report.error
    tests = ConnectionTests(database)
    tests.start(account_id)
    tests.join(10)
    test = tests.get(account_id)
    assert test is not None and test.state == FAILED and "the kinds are: demo, imap" in test.message


def test_dossier_account_add_imap_still_works_as_the_readme_says(
    database: Database, world: World, cli: CliRunner
) -> None:
    listed = cli.invoke(main, ["account", "add", "--help"])
    assert listed.exit_code == 0 and "imap" in listed.output
    added = cli.invoke(
        main,
        [
            "account",
            "add",
            "imap",
            "firma",
            "--host",
            "imap.firma.cz",
            "--security",
            "tls",
            "--username",
            "jana@firma.cz",
            "--password-env",
            "JANA_IMAP_PASSWORD",
            "--user",
            world.sales_a.email,
        ],
    )
    assert added.exit_code == 0, added.output
    assert "Account firma added (imap.firma.cz:993, tls)" in added.output
    with database.session(write=False) as s:
        account = s.scalars(select(MailAccount).where(MailAccount.name == "firma")).one()
        assert (account.kind, account.username, account.password_env) == (
            "imap",
            "jana@firma.cz",
            "JANA_IMAP_PASSWORD",
        )


# -- a second kind through the same paths -------------------------------------------------


@pytest.mark.usefixtures("memory_kind")
def test_a_second_kind_is_added_and_synced_by_the_commands(
    database: Database, world: World, dossier: Dossier, cli: CliRunner
) -> None:
    assert source_kinds() == ["demo", "imap", "memory"]
    added = cli.invoke(
        main, ["account", "add", "memory", "pamet", "--box", "b1", "--user", world.sales_a.email]
    )
    assert added.exit_code == 0, added.output
    fill_box("b1")
    synced = cli.invoke(main, ["sync", "--account", "pamet"])
    assert synced.exit_code == 0, synced.output
    assert synced.output.splitlines() == [
        "pamet:",
        "  inbox                          fetched 5, archived 4, duplicates 0, triaged 0, "
        "skipped (private) 1",
        "  crm                            fetched 1, archived 0, duplicates 0, triaged 1, "
        "skipped (private) 0",
    ]
    assert "obed@t" not in archived(database)
    with database.session(write=False) as s:
        account_id = s.scalars(select(MailAccount.id).where(MailAccount.name == "pamet")).one()
        targets = set(s.scalars(select(MessageLink.target)))
        kinds = set(s.scalars(select(MessageSource.kind)))
    assert targets == {f"partner:{dossier.partner_id}", f"person:{dossier.person_id}"}
    assert kinds == {"file"}
    # the checkpoints are the source's own text, and a pass reads only what is new
    assert checkpoints(database, account_id) == {"inbox": "read 5", "crm": "read 1"}
    MAILBOXES["b1"]["inbox"].append(make_mail(subject="Doplnění", message_id="doplneni@test"))
    again = sync_accounts(database, "pamet")[0]
    assert [(f.folder, f.fetched, f.archived) for f in again.folders] == [
        ("inbox", 1, 1),
        ("crm", 0, 0),
    ]
    assert checkpoints(database, account_id)["inbox"] == "read 6"
    assert account_row(database, account_id).last_error == ""


@pytest.mark.usefixtures("memory_kind")
def test_the_checkpoint_advances_only_with_the_batch_it_covers(
    database: Database, world: World, dossier: Dossier
) -> None:
    """A commit that fails (a power cut, a full disk) leaves the batch and its checkpoint
    unwritten; a connection that breaks off keeps what was committed. The next pass reads on
    from there: every message once, none lost."""
    fill_box("pamet")
    account_id = add_memory_account(database, world.sales_a)
    commits: list[int] = []

    def power_cut(session: Session) -> None:
        if any(isinstance(o, FolderState) for o in (*session.new, *session.dirty)):
            commits.append(1)
            if len(commits) == 2:
                raise RuntimeError("power cut")

    event.listen(Session, "before_commit", power_cut)
    try:
        failed = sync_account(database, account_id)
    finally:
        event.remove(Session, "before_commit", power_cut)
    assert failed.error == SYNC_FAILED
    assert checkpoints(database, account_id) == {"inbox": "read 2"}
    assert set(archived(database)) == {"nabidka-0@test", "nabidka-1@test"}

    BREAKS_AFTER["pamet"] = 1  # one batch, then the connection breaks off
    broken = sync_account(database, account_id)
    assert broken.error == SYNC_BROKE_OFF
    assert checkpoints(database, account_id) == {"inbox": "read 4"}
    assert account_row(database, account_id).last_error == SYNC_BROKE_OFF

    BREAKS_AFTER["pamet"] = 10
    done = sync_account(database, account_id)
    assert done.error == ""
    assert checkpoints(database, account_id) == {"inbox": "read 5", "crm": "read 1"}
    found = archived(database)
    assert len(found) == 5 and "obed@t" not in found
    assert all(found[f"nabidka-{i}@test"] == "filed" for i in range(4))
    assert count(database, MessageSource) == 5  # four filed, one triaged: each once


@pytest.mark.usefixtures("memory_kind")
def test_the_background_scheduler_syncs_a_second_kind(
    database: Database, world: World, dossier: Dossier
) -> None:
    fill_box("pamet")
    account_id = add_memory_account(database, world.sales_a)
    scheduler = MailScheduler(database, 1, idle=False)
    scheduler.start()
    try:
        deadline = time.monotonic() + 30
        while account_row(database, account_id).last_sync_at is None:
            assert time.monotonic() < deadline, "the scheduler did not sync the account"
            time.sleep(0.1)
    finally:
        scheduler.stop()
    assert checkpoints(database, account_id) == {"inbox": "read 5", "crm": "read 1"}
    assert len(archived(database)) == 5


@pytest.mark.usefixtures("memory_kind")
def test_the_connection_test_and_sync_now_use_the_source(
    app: Flask, database: Database, world: World, dossier: Dossier
) -> None:
    fill_box("pamet")
    account_id = add_memory_account(database, world.sales_a)
    missing = add_memory_account(database, world.sales_a, "nikde")  # no such box
    tests = ConnectionTests(database)
    tests.start(account_id)
    tests.start(missing)
    tests.join(10)
    assert tests.get(account_id).state == OK  # type: ignore[union-attr]
    gone = tests.get(missing)
    assert gone is not None and (gone.state, gone.message) == (FAILED, "no mailbox nikde")
    # "Sync now" on the account's page (no background sync in this process): a test, then a pass
    client = app.test_client()
    login(client, world.sales_a)
    url = f"/mail/accounts/{account_id}"
    assert post_form(client, url + "/sync", {}).status_code == 302
    deadline = time.monotonic() + 20
    while client.get(url + "/status").get_json()["state"] in ("testing", "syncing"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert client.get(url + "/status").get_json()["state"] == "ok"
    page = client.get(url).get_data(as_text=True)
    assert re.search(r"Sync done [^<]+ — messages read: 6, newly filed: \d\.", page), page
    assert checkpoints(database, account_id) == {"inbox": "read 5", "crm": "read 1"}


def test_migration_c0002_carries_the_imap_positions_into_the_checkpoint(
    database: Database, world: World
) -> None:
    """A database of before the interface keeps where each folder stood: nothing is read
    twice or skipped after the upgrade (and a downgrade gives the columns back)."""
    from alembic import command

    from connector.imap import ImapCheckpoint
    from crm.db import alembic_config

    account_id = add_memory_account(database, world.sales_a, "stara")
    with database.session() as s:
        s.add(FolderState(account_id=account_id, folder="INBOX", checkpoint="", messages_seen=7))
    config = alembic_config(database)
    command.downgrade(config, "c0001")
    with database.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE mail_folder_states SET uidvalidity = 1700000000, last_uid = 4242,"
                " highest_modseq = 99887766554433"
            )
        )
    command.upgrade(config, "heads")
    with database.session(write=False) as s:
        state = s.scalars(select(FolderState)).one()
        assert ImapCheckpoint.decode(state.checkpoint) == ImapCheckpoint(
            1700000000, 4242, 99887766554433
        )
        assert state.messages_seen == 7
    command.downgrade(config, "c0001")
    with database.engine.connect() as conn:
        row = conn.execute(
            text("SELECT uidvalidity, last_uid, highest_modseq FROM mail_folder_states")
        ).one()
        assert tuple(row) == (1700000000, 4242, 99887766554433)
    command.upgrade(config, "heads")
