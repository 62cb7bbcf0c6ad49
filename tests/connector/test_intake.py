"""``dossier file PATH... --user EMAIL [--partner ID] [--deal ID]`` and
``connector.intake.file_paths`` as a user runs them: .eml files, maildirs, mbox files and large
folders filed into a real database (SQLite and PostgreSQL), bad input refused by name, Czech
mail in its legacy charsets."""

from __future__ import annotations

import hashlib
import multiprocessing
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import event, select
from sqlalchemy.orm import selectinload

from connector.intake import AHEAD, NOT_MAIL, PARSE_CHUNK, file_paths, parse_ahead
from crm.blobs import BlobStore
from crm.cli import main
from crm.db import Database
from crm.services.deals import deals
from crm.settings import Settings
from mail_archive.models import Message, MessageSource, target_of
from mail_archive.outlook import DAMAGED, NOT_MAIL_CLASSES
from tests.conftest import World, count
from tests.mail_archive.conftest import Dossier
from tests.mailfactory import make_mail
from tests.outlookfactory import CZECH, make_msg, ole_file

STRANGER = ("Nový zákazník", "info@novy-zakaznik.cz")  # matches no partner, person or domain

FileCommand = Callable[..., Result]


@pytest.fixture
def dossier_file(
    settings: Settings, database: Database, monkeypatch: pytest.MonkeyPatch
) -> FileCommand:
    """``dossier file ARGS...`` against the test's data directory and database."""
    monkeypatch.setenv("DOSSIER_HOME", str(settings.home))
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    runner = CliRunner()

    def run(*args: str | Path | int) -> Result:
        return runner.invoke(main, ["file", *(str(a) for a in args)])

    return run


def summary(
    total: int, archived: int = 0, duplicates: int = 0, triaged: int = 0, refused: int = 0
) -> str:
    return (
        f"{total} messages: archived {archived}, duplicates {duplicates}, "
        f"triaged {triaged}, refused {refused}"
    )


def stored(database: Database) -> dict[str, Message]:
    """Every archived message by its Message-ID, with links and sources loaded."""
    with database.session(write=False) as s:
        rows = s.scalars(
            select(Message).options(selectinload(Message.links), selectinload(Message.sources))
        ).all()
        return {m.internet_id: m for m in rows}


def links_of(message: Message) -> set[tuple[str, str]]:
    return {(link.target, link.how) for link in message.links if not link.removed}


def write(path: Path, raw: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw)
    return path


def mbox_entry(raw: bytes) -> bytes:
    """One message as an mbox writer stores it: a "From " line, body lines beginning with
    "From " escaped as ">From ", a blank line after it."""
    body = raw.replace(b"\nFrom ", b"\n>From ")
    return b"From jan.novak@stavby-pribram.cz Mon Nov  2 09:30:00 2026\n" + body + b"\n"


# -- one file ----------------------------------------------------------------------------------


def test_an_eml_from_a_known_person_is_filed_and_a_second_run_is_a_duplicate(
    database: Database,
    settings: Settings,
    world: World,
    dossier: Dossier,
    dossier_file: FileCommand,
    tmp_path: Path,
) -> None:
    raw = make_mail(subject="Nabídka haly", message_id="nabidka-1@stavby-pribram.cz")
    eml = write(tmp_path / "Nabídka haly.eml", raw)

    first = dossier_file(eml, "--user", world.sales_a.email)
    assert first.exit_code == 0, first.output
    assert summary(1, archived=1) in first.stdout

    message = stored(database)["nabidka-1@stavby-pribram.cz"]
    assert message.subject == "Nabídka haly"
    assert message.status == "filed" and message.owner_id == world.sales_a.id
    assert links_of(message) == {
        (target_of("person", dossier.person_id), "address"),
        (target_of("partner", dossier.partner_id), "address"),
    }
    assert [(src.kind, src.user_id) for src in message.sources] == [("file", world.sales_a.id)]
    sha = hashlib.sha256(raw).hexdigest()
    assert message.sha256 == sha
    assert BlobStore(settings.blob_dir).path(sha).read_bytes() == raw

    second = dossier_file(eml, "--user", world.sales_a.email)
    assert second.exit_code == 0, second.output
    assert summary(1, duplicates=1) in second.stdout
    assert count(database, Message) == 1
    assert count(database, MessageSource) == 1
    again = stored(database)["nabidka-1@stavby-pribram.cz"]
    assert again.id == message.id and len(again.links) == 2


# -- maildirs and mbox files -------------------------------------------------------------------


def test_a_maildir_and_an_mbox_are_read_message_by_message(
    database: Database, world: World, dossier: Dossier, dossier_file: FileCommand, tmp_path: Path
) -> None:
    maildir = tmp_path / "Maildir"
    write(maildir / "cur" / "1700000001.M1P1.host:2,S", make_mail(message_id="md-cur-1@t"))
    write(
        maildir / "cur" / "1700000002.M2P1.host:2,S",
        make_mail(sender=STRANGER, message_id="md-cur-2@t"),
    )
    write(maildir / "new" / "1700000003.M3P1.host", make_mail(message_id="md-new-1@t"))
    # tmp/ holds deliveries still being written: a reader of a maildir leaves them alone
    write(maildir / "tmp" / "1700000004.M4P1.host", make_mail(message_id="md-tmp-1@t"))

    read = dossier_file(maildir, "--user", world.sales_a.email)
    assert read.exit_code == 0, read.output
    assert summary(3, archived=2, triaged=1) in read.stdout
    assert set(stored(database)) == {"md-cur-1@t", "md-cur-2@t", "md-new-1@t"}

    # 7bit, so that the body's "From " line is in the bytes and the mbox writer escapes it
    escaped = make_mail(
        subject="Poptavka",
        sender=("Novy zakaznik", STRANGER[1]),
        to=[("Jana Novakova", "jana@firma.cz")],
        body="Dobry den,\nFrom the office in Brno we ask for an offer.\nS pozdravem\n",
        charset="us-ascii",
        message_id="mbox-2@t",
    )
    assert b"\nFrom the office" in escaped
    mbox = tmp_path / "export.mbox"
    mbox.write_bytes(
        mbox_entry(make_mail(subject="První", message_id="mbox-1@t"))
        + mbox_entry(escaped)
        + mbox_entry(make_mail(subject="Třetí", message_id="mbox-3@t"))
    )
    assert b"\n>From the office" in mbox.read_bytes()

    read = dossier_file(mbox, "--user", world.sales_a.email)
    assert read.exit_code == 0, read.output
    assert summary(3, archived=2, triaged=1) in read.stdout
    messages = stored(database)
    assert {"mbox-1@t", "mbox-2@t", "mbox-3@t"} <= set(messages)
    assert len(messages) == 6
    assert messages["mbox-1@t"].subject == "První"
    assert messages["mbox-3@t"].subject == "Třetí"
    poptavka = messages["mbox-2@t"]
    assert poptavka.subject == "Poptavka" and poptavka.status == "triage"
    # the escaped line stays inside its message, which ends where the next one begins
    assert "From the office in Brno" in poptavka.body_text
    assert poptavka.body_text.rstrip().endswith("S pozdravem")


# -- a large import ----------------------------------------------------------------------------


def test_a_large_folder_is_parsed_in_worker_processes_stored_once_and_committed_in_batches(
    database: Database, world: World, dossier: Dossier, tmp_path: Path
) -> None:
    total, batch = 250, 100
    assert total >= 2 * PARSE_CHUNK  # enough for parse_ahead to start its process pool
    folder = tmp_path / "export"
    expected: set[str] = set()
    for i in range(total):
        mid = f"bulk-{i}@stavby-pribram.cz"
        sender = STRANGER if i % 5 == 0 else ("Jan Novák", "jan.novak@stavby-pribram.cz")
        raw = make_mail(subject=f"Zpráva {i}", sender=sender, message_id=mid)
        write(folder / f"{i // 100}" / f"{i:04}.eml", raw)
        expected.add(mid)

    commits = 0

    def on_commit(_conn: object) -> None:
        nonlocal commits
        commits += 1

    event.listen(database.engine, "commit", on_commit)
    try:
        report = file_paths(database, world.sales_a.email, [folder], batch=batch, workers=2)
    finally:
        event.remove(database.engine, "commit", on_commit)

    assert report.problems == []
    assert report.counts == Counter(archived=200, triaged=50)
    assert len(report.message_ids) == total == len(set(report.message_ids))
    assert commits >= -(-total // batch)  # one commit per batch at least
    assert commits < total // 10  # ... and not one per message
    messages = stored(database)
    assert set(messages) == expected
    assert count(database, MessageSource) == total
    assert all(m.subject == f"Zpráva {m.internet_id[5:].split('@')[0]}" for m in messages.values())
    triaged = [m for m in messages.values() if m.status == "triage"]
    assert len(triaged) == 50 and {m.owner_id for m in triaged} == {world.sales_a.id}

    again = file_paths(database, world.sales_a.email, [folder], batch=batch, workers=2)
    assert again.counts == Counter(duplicate=total)
    assert count(database, Message) == total
    assert count(database, MessageSource) == total


def test_parse_ahead_keeps_the_order_and_reads_a_bounded_number_of_messages_ahead() -> None:
    total, workers = 40 * PARSE_CHUNK, 2
    pulled = 0

    def messages() -> Iterator[tuple[str, bytes]]:
        nonlocal pulled
        for i in range(total):
            pulled += 1
            yield f"m{i}", f"Subject: zprava {i}\nMessage-ID: <m{i}@t>\n\ntext {i}\n".encode()

    parsed = parse_ahead(messages(), workers)
    first = next(parsed)
    assert first[0] == "m0" and first[2].subject == "zprava 0"
    # a 10 GB mbox is never all in memory: only a few chunks per worker are read ahead
    assert pulled <= (AHEAD * workers + 2) * PARSE_CHUNK < total
    assert len(multiprocessing.active_children()) >= workers  # parsed in a pool of processes
    rest = list(parsed)
    assert [label for label, _, _ in rest] == [f"m{i}" for i in range(1, total)]
    assert all(p.internet_id == f"{label}@t" for label, _, p in rest)


# -- where it is filed -------------------------------------------------------------------------


def test_unmatched_mail_waits_in_the_triage_queue_of_the_user_who_filed_it(
    database: Database, world: World, dossier: Dossier, dossier_file: FileCommand, tmp_path: Path
) -> None:
    eml = write(tmp_path / "poptavka.eml", make_mail(sender=STRANGER, message_id="triage-1@t"))
    filed = dossier_file(eml, "--user", world.sales_a2.email)
    assert filed.exit_code == 0, filed.output
    assert summary(1, triaged=1) in filed.stdout
    message = stored(database)["triage-1@t"]
    assert message.status == "triage"
    assert message.owner_id == world.sales_a2.id
    assert message.links == []


def test_partner_files_everything_to_that_partner(
    database: Database, world: World, dossier: Dossier, dossier_file: FileCommand, tmp_path: Path
) -> None:
    write(tmp_path / "mail" / "a.eml", make_mail(message_id="explicit-1@t"))
    write(tmp_path / "mail" / "b.eml", make_mail(sender=STRANGER, message_id="explicit-2@t"))
    filed = dossier_file(
        tmp_path / "mail", "--user", world.sales_a.email, "--partner", dossier.partner_id
    )
    assert filed.exit_code == 0, filed.output
    assert summary(2, archived=2) in filed.stdout
    messages = stored(database)
    for mid in ("explicit-1@t", "explicit-2@t"):
        message = messages[mid]
        assert message.status == "filed"
        # the explicit choice decides: no person link from the sender's address besides it
        assert links_of(message) == {(target_of("partner", dossier.partner_id), "explicit")}
        assert message.links[0].created_by_id == world.sales_a.id


def test_deal_links_the_deal_and_its_partner(
    database: Database, world: World, dossier: Dossier, dossier_file: FileCommand, tmp_path: Path
) -> None:
    eml = write(tmp_path / "hala.eml", make_mail(sender=STRANGER, message_id="deal-1@t"))
    filed = dossier_file(eml, "--user", world.sales_a.email, "--deal", dossier.deal_id)
    assert filed.exit_code == 0, filed.output
    assert summary(1, archived=1) in filed.stdout
    message = stored(database)["deal-1@t"]
    assert message.status == "filed"
    assert links_of(message) == {
        (target_of("deal", dossier.deal_id), "explicit"),
        (target_of("partner", dossier.partner_id), "explicit"),
    }


def test_a_partner_or_deal_the_user_may_not_see_is_refused_and_nothing_is_stored(
    database: Database, world: World, dossier: Dossier, dossier_file: FileCommand, tmp_path: Path
) -> None:
    with database.session() as s:
        other_deal = deals.create(
            s, world.sales_b, {"title": "Chladírna", "partner_id": dossier.other_partner_id}
        ).id
    eml = write(tmp_path / "nabidka.eml", make_mail(message_id="hidden-1@t"))

    partner = dossier_file(
        eml, "--user", world.sales_a.email, "--partner", dossier.other_partner_id
    )
    assert partner.exit_code == 1
    assert f"partner {dossier.other_partner_id} not found" in partner.output
    assert "Traceback" not in partner.output

    deal = dossier_file(eml, "--user", world.sales_a.email, "--deal", other_deal)
    assert deal.exit_code == 1
    assert f"deal {other_deal} not found" in deal.output

    assert count(database, Message) == 0
    assert count(database, MessageSource) == 0


# -- bad input ---------------------------------------------------------------------------------


def test_files_that_are_not_mail_are_refused_by_name_and_the_good_ones_still_stored(
    database: Database, world: World, dossier: Dossier, dossier_file: FileCommand, tmp_path: Path
) -> None:
    good = write(tmp_path / "dobra.eml", make_mail(message_id="good-1@t"))
    empty = write(tmp_path / "prazdna.eml", b"")
    pdf = write(tmp_path / "nabidka.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< >>\nendobj\n")
    png = write(tmp_path / "sken.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01")
    text = write(tmp_path / "poznamka.txt", "Dobrý den,\nposílám podklady.\n".encode())

    filed = dossier_file(good, empty, pdf, png, text, "--user", world.sales_a.email)
    assert filed.exit_code == 1
    assert summary(5, archived=1, refused=4) in filed.stdout
    problems = filed.stderr.splitlines()
    assert f"{empty}: The file is empty." in problems
    for path in (pdf, png, text):
        assert f"{path}: {NOT_MAIL}" in problems, (path, problems)
    assert "Outlook" in NOT_MAIL and ".msg" in NOT_MAIL and ".eml" in NOT_MAIL
    assert set(stored(database)) == {"good-1@t"}


def test_a_plain_text_note_with_a_time_in_its_first_line_is_refused(
    database: Database, world: World, dossier: Dossier, dossier_file: FileCommand, tmp_path: Path
) -> None:
    """No header has a name with spaces: a note beginning "Schůzka ... v 10:00" is no e-mail."""
    note = write(
        tmp_path / "schuzka.txt",
        "Schůzka 3. 11. v 10:00 u zákazníka\nVolat panu Novákovi.\n".encode(),
    )
    filed = dossier_file(note, "--user", world.sales_a.email)
    assert summary(1, refused=1) in filed.stdout
    assert filed.exit_code == 1
    assert f"{note}: This file is not an e-mail." in filed.stderr
    assert count(database, Message) == 0


def test_a_path_that_does_not_exist_is_refused_by_the_command_line(
    database: Database, world: World, dossier: Dossier, dossier_file: FileCommand, tmp_path: Path
) -> None:
    good = write(tmp_path / "dobra.eml", make_mail(message_id="good-1@t"))
    missing = tmp_path / "neni.eml"
    filed = dossier_file(good, missing, "--user", world.sales_a.email)
    assert filed.exit_code == 2
    assert "does not exist" in filed.output and "neni.eml" in filed.output
    assert count(database, Message) == 0


def test_an_unknown_user_is_a_clear_error_and_nothing_is_stored(
    database: Database, world: World, dossier: Dossier, dossier_file: FileCommand, tmp_path: Path
) -> None:
    eml = write(tmp_path / "dobra.eml", make_mail(message_id="good-1@t"))
    filed = dossier_file(eml, "--user", "nobody@firma.cz")
    assert filed.exit_code == 1
    assert "no user nobody@firma.cz" in filed.output
    assert "Traceback" not in filed.output
    assert count(database, Message) == 0


# -- Czech mail --------------------------------------------------------------------------------

CZECH_BODY = "Dobrý den,\nposílám nabídku č. 12, příliš žluťoučký kůň.\n"


def test_czech_mail_in_windows_1250_and_iso_8859_2_keeps_its_subject(
    database: Database, world: World, dossier: Dossier, dossier_file: FileCommand, tmp_path: Path
) -> None:
    for charset in ("windows-1250", "iso-8859-2"):
        raw = make_mail(
            subject="Nabídka č. 12", body=CZECH_BODY, charset=charset, message_id=f"{charset}@t"
        )
        assert f"{charset}?q?Nab=EDdka".encode() in raw  # RFC 2047 in the legacy charset
        write(tmp_path / "mail" / f"{charset}.eml", raw)
    filed = dossier_file(tmp_path / "mail", "--user", world.sales_a.email)
    assert filed.exit_code == 0, filed.output
    assert summary(2, archived=2) in filed.stdout
    messages = stored(database)
    for charset in ("windows-1250", "iso-8859-2"):
        message = messages[f"{charset}@t"]
        assert message.subject == "Nabídka č. 12"
        assert message.from_name == "Jan Novák"
        assert "příliš žluťoučký kůň" in message.body_text


def test_czech_mail_with_unencoded_windows_1250_headers_keeps_its_subject(
    database: Database, world: World, dossier: Dossier, dossier_file: FileCommand, tmp_path: Path
) -> None:
    """Older Czech mailers and scripts write 8-bit windows-1250 headers without RFC 2047."""
    raw = (
        "Subject: Nabídka č. 12\n"
        "From: Jan Novák <jan.novak@stavby-pribram.cz>\n"
        "To: Jana Nováková <jana@firma.cz>\n"
        "Date: Mon, 02 Nov 2026 09:30:00 +0100\n"
        "Message-ID: <cp1250-8bit@t>\n"
        "MIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=windows-1250\n"
        "Content-Transfer-Encoding: 8bit\n"
        "\n" + CZECH_BODY
    ).encode("cp1250")
    eml = write(tmp_path / "nabidka.eml", raw)
    filed = dossier_file(eml, "--user", world.sales_a.email)
    assert filed.exit_code == 0, filed.output
    message = stored(database)["cp1250-8bit@t"]
    assert message.from_name == "Jan Novák"
    assert "příliš žluťoučký kůň" in message.body_text
    assert message.subject == "Nabídka č. 12"


def test_an_eml_saved_with_a_byte_order_mark_is_read_and_hidden_folders_are_not(
    database: Database, world: World, dossier: Dossier, dossier_file: FileCommand, tmp_path: Path
) -> None:
    folder = tmp_path / "export"
    raw = make_mail(subject="Objednávka z Notepadu", message_id="bom-1@stavby-pribram.cz")
    write(folder / "objednavka.eml", b"\xef\xbb\xbf" + raw)
    # a notmuch database, a git repository, an editor's swap file: not mail, not reported
    write(folder / ".notmuch" / "xapian" / "postlist.glass", b"\x00\x01binary")
    write(folder / ".git" / "HEAD", b"ref: refs/heads/main\n")
    write(folder / ".objednavka.eml.swp", b"b0VIM 9.0")
    result = dossier_file(folder, "--user", world.sales_a.email)
    assert result.exit_code == 0, result.output
    assert summary(1, archived=1) in result.stdout
    message = stored(database)["bom-1@stavby-pribram.cz"]
    assert message.subject == "Objednávka z Notepadu"
    assert message.from_addr == "jan.novak@stavby-pribram.cz" and message.status == "filed"
    assert "byte order mark before the headers" in message.defects


def test_outlook_msg_files_in_a_folder_are_filed_and_other_outlook_items_refused_by_name(
    database: Database, world: World, dossier: Dossier, dossier_file: FileCommand, tmp_path: Path
) -> None:
    folder = tmp_path / "Z Outlooku"
    offer = write(folder / "Nabídka – hala Příbram.msg", make_msg(CZECH))
    # told by content, not by name: a .msg saved under another name is still one
    renamed = write(folder / "poptavka.dat", make_msg(sender=STRANGER, message_id="<p-1@t>"))
    meeting = write(folder / "Schůzka.msg", make_msg(message_class="IPM.Appointment"))
    word = write(folder / "smlouva.doc", ole_file({"WordDocument": bytes(5000)}))
    cut = write(folder / "useknutá.msg", make_msg()[:1000])

    filed = dossier_file(folder, "--user", world.sales_a.email)
    assert filed.exit_code == 1
    assert summary(5, archived=1, triaged=1, refused=3) in filed.stdout
    problems = filed.stderr.splitlines()
    assert f"{meeting}: {NOT_MAIL_CLASSES['ipm.appointment']}" in problems
    assert f"{word}: {NOT_MAIL}" in problems
    assert f"{cut}: {DAMAGED}" in problems
    assert not any(str(offer) in p or str(renamed) in p for p in problems)
    messages = stored(database)
    assert messages["nabidka-1@stavby-pribram.cz"].subject == CZECH.subject
    assert messages["nabidka-1@stavby-pribram.cz"].status == "filed"
    assert messages["p-1@t"].status == "triage"

    again = dossier_file(offer, renamed, "--user", world.sales_a.email)
    assert again.exit_code == 0, again.output
    assert summary(2, duplicates=2) in again.stdout
    assert count(database, Message) == 2
