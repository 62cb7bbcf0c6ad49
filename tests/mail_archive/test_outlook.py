"""Outlook .msg files filed by a user (mail_archive.outlook through connector.intake): every .msg
of the shared corpus (Apache POI's, written by Outlook versions from 97 to 365) is archived with
its subject, sender, date, text and attachment names, the original .msg kept byte for byte, or
refused with a reason; Czech, Slovak, Polish and Russian messages written here in the layout of
[MS-OXMSG] (tests/outlookfactory.py) come out in the right code page and file themselves by the
sender's address; hostile bytes are refused by content, and nothing of them is stored."""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from connector.intake import (
    EMPTY_FILE,
    NOT_MAIL,
    file_upload,
    filing_archive,
    mail_file,
    read_upload,
)
from crm.blobs import BlobStore
from crm.db import Database
from crm.errors import ValidationError
from crm.models import User
from mail_archive import service
from mail_archive.models import Message, MessageSource, target_of
from mail_archive.outlook import DAMAGED, EMPTY_ITEM, NOT_MAIL_CLASSES, OUTLOOK_TYPE
from tests.conftest import World, corpora_dir, count
from tests.mail_archive.conftest import Dossier
from tests.mailfactory import make_mail
from tests.outlookfactory import CZECH, OutlookMessage, make_msg, ole_file

CORPUS = corpora_dir() / "outlook-msg" / "apache-poi"


@dataclass(frozen=True)
class Archived:
    """What a user sees of an archived .msg: the subject, the sender's address ("" when Outlook
    kept only an Exchange-internal one), the date (UTC), words of the text, and the attachments
    by name, the original .msg last."""

    subject: str
    sender: str
    date: str | None
    text: str
    attachments: tuple[str, ...]
    # another copy of that file's message (the same Message-ID, sender and date): filed into it
    copy_of: str = ""


# Every file of the corpus and what becomes of it; a file added to the corpus must be added here.
EXPECTED: dict[str, Archived | str] = {
    "51873.msg": Archived(
        "Test with Olk10SideProps_ Chunk",
        "",
        None,
        "This is a hacked Outlook 2010 message with hopefully",
        ("Test with Olk10SideProps_ Chunk.msg",),
    ),
    "53784_fails.msg": Archived(
        "Draft to La Tetra",
        "",
        "2012-06-21T14:14:04+00:00",
        "Let me know what you think of this:",
        ("Draft to La Tetra.msg",),
    ),
    "53784_succeeds.msg": Archived(
        "HAC Annual Report",
        "ashleyce2@state.gov",
        "2012-06-22T18:32:54+00:00",
        "Mr. Aftergood, In response to your query",
        ("HAC Annual Report.msg",),
    ),
    # an attached Outlook item becomes an attached RFC 822 message
    "58214_with_attachment.msg": Archived(
        "Master mail",
        "bertrand.beyssac@c6.eu",
        "2015-08-05T12:02:22+00:00",
        "Vestibulum orci purus, malesuada vitae",
        ("Test mail attachment.eml", "Master mail.msg"),
    ),
    # 8-bit strings in windows-1251, named only by PR_INTERNET_CPID
    "ASCII_CP1251_LCID1049.msg": Archived(
        "Subject автоматически Subject",
        "",
        None,
        "Body автоматически Body",
        ("Subject автоматически Subject.msg",),
    ),
    # a UTF-8 HTML body, but 8-bit strings in the locale's windows-1252 (German)
    "HTMLBodyBinary_UTF-8.msg": Archived(
        "Subject öäü Subject", "", None, "HTML öäü", ("Subject öäü Subject.msg",)
    ),
    "attachment_msg_inlineImg.msg": Archived(
        "How to use and check database files from device",
        "",
        "2015-06-12T19:44:48+00:00",
        "Download and install SQLite Manager",
        (
            "image001.png",
            "image002.png",
            "image003.png",
            "image006.jpg",
            "How to use and check database files from device.msg",
        ),
    ),
    "attachment_test_msg.msg": Archived(
        "test pièce jointe 1",
        "nicolas1.23456@free.fr",
        "2009-04-22T14:36:33+00:00",
        "contenu",
        ("test-unicode.doc", "pj1.txt", "test pièce jointe 1.msg"),
    ),
    "blank.msg": EMPTY_ITEM,
    "bug66335.msg": Archived(
        "Deine Bestellbestätigung vom 13-09-2018",
        "udemy@email.udemy.com",
        "2018-09-13T14:25:24+00:00",
        "Deine Bestellbestätigung vom",
        ("Deine Bestellbestätigung vom 13-09-2018.msg",),
    ),
    # 8-bit strings in Big5 (code page 950)
    "chinese-traditional.msg": Archived(
        "Alfresco MSG format testing ( MSG 格式測試 )",
        "",
        "2011-03-29T08:52:48+00:00",
        "恭喜 HQ 保全課",
        ("Alfresco MSG format testing ( MSG 格式測試 ).msg",),
    ),
    "clusterfuzz-testcase-minimized-POIHSMFFuzzer-4735011465854976.msg": DAMAGED,
    "clusterfuzz-testcase-minimized-POIHSMFFuzzer-4848576776503296.msg": Archived(
        "QuickBrownFox",
        "",
        "2017-02-28T18:47:11+00:00",
        "Is going to jump over the lazy brown dog",
        ("QuickBrownFox.msg",),
    ),
    "clusterfuzz-testcase-minimized-POIHSMFFuzzer-5336473854148608.msg": DAMAGED,
    "cyrillic_message.msg": Archived(
        'Автоматический ответ подсистемы обмена данными ФГУП "Почта России".',
        "no-reply@niips.ru",
        "2010-05-18T07:38:39+00:00",
        'Ваше сообщение с темой "FW: RTM" было успешно получено',
        ("Автоматический ответ подсистемы обмена данными ФГУП _Почта России_..msg",),
    ),
    "example_received_regular.msg": Archived(
        "This is a test message please ignore",
        "mike.farman@alfresco.com",
        "2010-01-11T16:25:07+00:00",
        "The quick brown fox jumps over the lazy dog",
        ("alfresco.gif", "This is a test message please ignore.msg"),
    ),
    "example_sent_regular.msg": Archived(
        "This is a test message please ignore",
        "mike.farman@alfresco.com",
        "2010-01-11T16:25:07+00:00",
        "The quick brown fox jumps over the lazy dog",
        ("alfresco.gif", "This is a test message please ignore.msg"),
    ),
    "keywords.msg": Archived(
        "Test Keywords", "", "2020-02-20T13:08:55+00:00", "", ("Test Keywords.msg",)
    ),
    # 1,321 recipients, and a forwarded .eml attached as a file
    "lots-of-recipients.msg": Archived(
        "Read Original Extract of Mr. Narayana Murthy's Speech during Mentor session",
        "vishu_mankar@yahoo.com",
        None,
        "Vishwajit Mankar Software Engineer",
        (
            "Fwd_ Read Original Extract of Mr. Narayana Murthy's Speech during Mentor session.eml",
            "Read Original Extract of Mr. Narayana Murthy's Speech during Mentor session.msg",
        ),
    ),
    **{
        f"message_{n}.msg": Archived(
            "Option 2 please",
            "",
            "1999-08-16T11:23:16+00:00",
            "This message has been archived.",
            ("Option 2 please.msg",),
            copy_of="" if n == 1979 else "message_1979.msg",
        )
        for n in (1979, 1980, 1981)
    },
    **{
        f"message_{kind}_submission_chunk.msg": Archived(
            "Reseller Irradiant - MM Build",
            "",
            "2007-05-31T16:06:38+00:00",
            "Please complete build of 100 x Mail Manager",
            ("Reseller Irradiant - MM Build.msg",),
            copy_of="message_extra_hyphen_submission_chunk.msg" if kind == "normal" else "",
        )
        for kind in ("normal", "extra_hyphen")
    },
    "msgClassAppointment.msg": NOT_MAIL_CLASSES["ipm.appointment"],
    # a post in a public folder is mail
    "msgClassPost.msg": Archived(
        "QuickBrownFox",
        "",
        "2017-02-28T18:47:11+00:00",
        "Is going to jump over the lazy brown dog",
        ("QuickBrownFox.msg",),
    ),
    "msgClassStickyNote.msg": NOT_MAIL_CLASSES["ipm.stickynote"],
    "msgClassTask.msg": NOT_MAIL_CLASSES["ipm.task"],
    "no_recipient_address.msg": Archived(
        "Welcome to Microsoft Office Outlook 2003",
        "olteam@microsoft.com",
        "2010-03-28T22:27:38+00:00",
        "Thank you for using Microsoft® Office Outlook® 2003",
        (
            *(f"{n}.jpg" for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12)),
            "Welcome to Microsoft Office Outlook 2003.msg",
        ),
    ),
    "outlook_30_msg.msg": Archived(
        "IN-SPIRE servers going down for a bit, back up around 8am",
        "nick.cramer@pnl.gov",
        "2008-09-12T14:28:29+00:00",
        "I am shutting down the IN-SPIRE servers",
        ("IN-SPIRE servers going down for a bit, back up around 8am.msg",),
    ),
}


def corpus_files() -> list[Path]:
    return sorted(CORPUS.glob("*.msg")) if CORPUS.is_dir() else []


def upload(database: Database, user: User, data: bytes, **choice: int) -> int | None:
    """What the upload page and the API do with a file: read and parse it first, then file it
    in a unit of work of its own; the message it is now part of."""
    mail = read_upload(data)
    with database.session() as s:
        actor = s.get(User, user.id)
        assert actor is not None
        archive = filing_archive(s, BlobStore(database.settings.blob_dir))
        return file_upload(archive, actor, mail, kind="upload", **choice).message_id


def shown(database: Database, user: User, message_id: int) -> tuple[Message, list[bytes]]:
    """The message as the service shows it to ``user``, with its attachments' bytes."""
    blobs = BlobStore(database.settings.blob_dir)
    with database.session(write=False) as s:
        actor = s.get(User, user.id)
        assert actor is not None
        message = service.load_message(s, actor, message_id)
        files = [blobs.get(a.sha256) for a in message.attachments]
        _ = message.links
        s.expunge_all()
        return message, files


def reason(data: bytes) -> str:
    with pytest.raises(ValidationError) as refused:
        mail_file(data)
    assert refused.value.message == refused.value.errors["message"]
    return refused.value.errors["message"]


def test_every_corpus_msg_is_archived_with_what_outlook_kept_or_refused_with_a_reason(
    database: Database, world: World
) -> None:
    files = corpus_files()
    if not files:
        pytest.skip(f"the Outlook corpus is absent ({CORPUS})")
    assert {f.name for f in files} == set(EXPECTED), "a corpus file without an expectation"
    archived: dict[str, int] = {}
    blobs = BlobStore(database.settings.blob_dir)
    for path in files:
        data = path.read_bytes()
        expected = EXPECTED[path.name]
        if isinstance(expected, str):
            assert reason(data) == expected, path.name
            continue
        message_id = upload(database, world.sales_a, data)
        assert message_id is not None, path.name
        archived[path.name] = message_id
        if expected.copy_of:  # one message, and this copy's own bytes (the .msg in them) kept
            assert message_id == archived[expected.copy_of], path.name
            converted = mail_file(data).raw
            assert blobs.get(hashlib.sha256(converted).hexdigest()) == converted
            continue
        message, files_of = shown(database, world.sales_a, message_id)
        assert message.subject == expected.subject, path.name
        assert message.from_addr == expected.sender, path.name
        assert (message.sent_at.isoformat() if message.sent_at else None) == expected.date
        assert expected.text in " ".join(message.body_text.split()), path.name
        assert tuple(a.filename for a in message.attachments) == expected.attachments
        original = message.attachments[-1]
        assert (original.content_type, files_of[-1]) == (OUTLOOK_TYPE, data), path.name
        # filed again: the same message, as for any mail filed twice
        assert upload(database, world.sales_a, data) == message_id, path.name
    assert set(archived) == {n for n, e in EXPECTED.items() if isinstance(e, Archived)}
    assert count(database, Message) == len(set(archived.values()))


@pytest.mark.parametrize(
    ("variant", "fixture"),
    [
        ("unicode", CZECH),
        ("windows-1250 named", OutlookMessage(**{**vars(CZECH), "unicode": False})),
        # an old Outlook that named no code page: the Czech locale tells it
        (
            "windows-1250 by locale",
            OutlookMessage(
                **{**vars(CZECH), "unicode": False, "declare_code_page": False, "locale": 1029}
            ),
        ),
    ],
)
def test_a_czech_msg_files_itself_by_the_sender_with_its_text_and_attachments(
    database: Database, world: World, dossier: Dossier, variant: str, fixture: OutlookMessage
) -> None:
    data = make_msg(fixture)
    message_id = upload(database, world.sales_a, data)
    assert message_id is not None
    message, files = shown(database, world.sales_a, message_id)
    assert message.subject == "Nabídka – hala Příbram, 2. etapa"
    assert (message.from_name, message.from_addr) == ("Jan Novák", "jan.novak@stavby-pribram.cz")
    assert message.to_addrs == [["Jana Nováková", "jana@firma.cz"]]
    assert message.cc_addrs == [["Petr Dvořák", "petr@firma.cz"]]
    assert message.sent_at == dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
    assert message.internet_id == "nabidka-1@stavby-pribram.cz"
    assert "posíláme nabídku na ocelovou halu" in message.body_text
    assert "<b>nabídku</b>" in message.body_html
    assert [(a.filename, a.content_type) for a in message.attachments] == [
        ("Nabídka č. 12.pdf", "application/pdf"),
        ("poznámky.txt", "text/plain"),
        ("odpověď.eml", "message/rfc822"),
        ("Nabídka – hala Příbram, 2. etapa.msg", OUTLOOK_TYPE),
    ]
    assert files[0] == b"%PDF-1.4\n% nabidka\n" and files[3] == data
    assert message.attachments[1].text == "Termín dodání: září"
    assert "Re: Poptávka haly" in message.attachments[2].text  # the attached mail is searchable
    assert message.defects == []
    # filed by the sender's address, as an .eml from him would be
    assert message.status == "filed"
    assert {link.target for link in message.links} == {
        target_of("person", dossier.person_id),
        target_of("partner", dossier.partner_id),
    }


@pytest.mark.parametrize(
    ("fixture", "subject", "text"),
    [
        (
            OutlookMessage(
                subject="Ponuka – Žilina, ďakujeme",
                body="Dobrý deň, ďakujeme za objednávku ôsmich kusov.\r\n",
                unicode=False,
                declare_code_page=False,
                locale=1051,
                cpid=20127,  # us-ascii: says nothing of 8-bit strings
            ),
            "Ponuka – Žilina, ďakujeme",
            "ďakujeme za objednávku ôsmich kusov",
        ),
        (
            OutlookMessage(
                subject="Zamówienie – Kraków, żółta",
                body="Dzień dobry, przesyłam zamówienie.\r\n",
                unicode=False,
                code_page=1250,
                cpid=28592,
            ),
            "Zamówienie – Kraków, żółta",
            "przesyłam zamówienie",
        ),
        (
            OutlookMessage(
                sender=("Иван Петров", "ivan@zavod.ru"),
                to=[("Ольга Смирнова", "olga@firma.cz")],
                subject="Заказ – Москва",
                body="Добрый день, высылаем заказ.\r\n",
                unicode=False,
                code_page=1251,
                declare_code_page=False,
                locale=1049,
                cpid=20127,
            ),
            "Заказ – Москва",
            "высылаем заказ",
        ),
    ],
)
def test_an_old_8_bit_msg_is_read_in_the_code_page_of_its_language(
    database: Database, world: World, fixture: OutlookMessage, subject: str, text: str
) -> None:
    message_id = upload(database, world.sales_a, make_msg(fixture))
    assert message_id is not None
    message, _ = shown(database, world.sales_a, message_id)
    assert message.subject == subject and text in message.body_text
    assert message.from_name == fixture.sender[0]


def test_transport_headers_outlook_kept_come_first_and_the_rest_from_its_properties(
    database: Database, world: World
) -> None:
    """A received message keeps its headers as received (Received, Message-ID, the original
    From); the MAPI properties only fill in what they lack."""
    headers = (
        "Received: from mail.stavby-pribram.cz (mail.stavby-pribram.cz [192.0.2.7])\r\n"
        "\tby mx.firma.cz; Mon, 2 Mar 2026 10:30:05 +0100\r\n"
        "From: =?utf-8?q?Jan_Nov=C3=A1k?= <jan.novak@stavby-pribram.cz>\r\n"
        "Message-ID: <puvodni-1@stavby-pribram.cz>\r\n"
        'Content-Type: multipart/alternative; boundary="xyz"\r\n'
        "MIME-Version: 1.0\r\n\r\n"
    )
    data = make_msg(transport_headers=headers, message_id="<jine@outlook>")
    mail = mail_file(data)
    head = mail.raw.split(b"\r\n\r\n", 1)[0].decode()
    assert head.startswith("Received: from mail.stavby-pribram.cz")
    assert "\r\n\tby mx.firma.cz; Mon, 2 Mar 2026 10:30:05 +0100\r\n" in head
    assert 'boundary="xyz"' not in head and head.count("MIME-Version") == 1
    assert "jine@outlook" not in head
    message_id = upload(database, world.sales_a, data)
    assert message_id is not None
    message, _ = shown(database, world.sales_a, message_id)
    assert message.internet_id == "puvodni-1@stavby-pribram.cz"
    assert (message.from_name, message.from_addr) == ("Jan Novák", "jan.novak@stavby-pribram.cz")
    assert message.to_addrs == [["Jana Nováková", "jana@firma.cz"]]  # from the properties


def test_the_same_msg_is_one_message_however_it_comes_and_an_eml_copy_joins_it(
    database: Database, world: World, dossier: Dossier
) -> None:
    data = make_msg(CZECH)
    first = upload(database, world.sales_a, data)
    assert upload(database, world.sales_a, data) == first
    assert upload(database, world.sales_a, data, partner_id=dossier.partner_id) == first
    # the same mail as an .eml from another program: one message (same Message-ID, sender, date)
    eml = make_mail(
        subject=CZECH.subject,
        message_id="nabidka-1@stavby-pribram.cz",
        date=dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC),
    )
    assert upload(database, world.sales_a, eml) == first
    assert count(database, Message) == 1
    with database.session(write=False) as s:
        shas = set(s.scalars(select(MessageSource.sha256)))
    assert shas == {
        hashlib.sha256(mail_file(data).raw).hexdigest(),
        hashlib.sha256(eml).hexdigest(),
    }


def test_a_msg_is_told_by_its_content_and_mail_by_its_header_lines() -> None:
    """No file name is involved: an OLE2 file is taken for Outlook, RFC 822 for mail."""
    data = make_msg()
    assert mail_file(data).raw.startswith(b"From: ") and mail_file(data).raw != data
    eml = make_mail()
    assert mail_file(eml) == mail_file(eml) and mail_file(eml).raw == eml
    assert mail_file(data) == mail_file(data)  # the same bytes every time: dedupe by hash


def test_hostile_and_wrong_files_are_refused_with_a_reason_and_nothing_is_stored(
    database: Database, world: World
) -> None:
    msg = make_msg()
    cases = {
        "zero bytes": (b"", EMPTY_FILE),
        "blank lines": (b"\r\n \r\n", EMPTY_FILE),
        "a PDF": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", NOT_MAIL),
        "the OLE2 signature alone": (msg[:8], DAMAGED),
        "a cut-off .msg": (msg[:600], DAMAGED),
        "half a .msg": (msg[: len(msg) // 2], DAMAGED),
        "an OLE2 header and zeros": (msg[:8] + bytes(4000), DAMAGED),
        "an old Word document": (ole_file({"WordDocument": b"\xec\xa5" + bytes(4000)}), NOT_MAIL),
        "a calendar item": (make_msg(message_class="IPM.Appointment"), None),
        "a task": (make_msg(message_class="IPM.Task"), None),
        "a note": (make_msg(message_class="IPM.StickyNote"), None),
        "a contact": (make_msg(message_class="IPM.Contact"), None),
        "an empty item": (
            make_msg(subject="", body="", sender=("", ""), to=(), message_id=None, date=None),
            EMPTY_ITEM,
        ),
    }
    for label, (data, expected) in cases.items():
        if expected is None:  # an Outlook item that is no e-mail: it says which kind it is
            kind = label.removeprefix("a ").removeprefix("an ")
            assert f"This Outlook file is a {kind}, not an e-mail" in reason(data), label
            continue
        assert reason(data) == expected, label
    assert count(database, Message) == 0
    # a task request, a meeting request and a delivery report are mail
    for n, message_class in enumerate(
        ("IPM.TaskRequest", "IPM.Schedule.Meeting.Request", "REPORT.IPM.Note.NDR")
    ):
        data = make_msg(message_class=message_class, message_id=f"<item-{n}@firma.cz>")
        assert upload(database, world.sales_a, data) is not None, message_class
    assert count(database, Message) == 3


def test_what_the_conversion_could_not_keep_is_in_the_defects_and_the_message_is_archived(
    database: Database, world: World
) -> None:
    """An attachment whose bytes the .msg does not hold is named in the message's defects;
    the rest is archived, and the original .msg keeps what Outlook kept."""
    fixture = OutlookMessage(
        attachments=[("cenik.pdf", "application/pdf", None), ("plan.pdf", "application/pdf", b"%")]
    )
    mail = read_upload(make_msg(fixture))
    assert [a.filename for a in mail.parsed.attachments] == [
        "plan.pdf",
        "Nabídka – hala Příbram.msg",
    ]
    message_id = upload(database, world.sales_a, make_msg(fixture))
    assert message_id is not None
    message, _ = shown(database, world.sales_a, message_id)
    assert any("cenik.pdf" in d and "the attached .msg keeps it" in d for d in message.defects)


def test_damaged_copies_of_a_msg_are_each_archived_or_refused_never_an_error() -> None:
    """Bytes of a .msg changed at random (seeded: the same every run), as a broken disk or a
    cut-off download leaves them: each converts, or is refused with a reason."""
    rng = random.Random(20260302)
    original = make_msg(CZECH)
    outcomes: set[str] = set()
    for _ in range(150):
        data = bytearray(original)
        for _ in range(rng.randint(1, 24)):
            data[rng.randrange(512, len(data))] = rng.randrange(256)
        try:
            mail = mail_file(bytes(data))
        except ValidationError as exc:
            assert exc.errors["message"] in (
                DAMAGED,
                NOT_MAIL,
                EMPTY_ITEM,
                *NOT_MAIL_CLASSES.values(),
            )
            outcomes.add("refused")
            continue
        assert read_upload(bytes(data)).raw == mail.raw
        outcomes.add("archived")
    assert outcomes == {"archived", "refused"}
