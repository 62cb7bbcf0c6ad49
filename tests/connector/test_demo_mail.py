"""`dossier demo`'s mail server (connector.demo): a newcomer logs in to the demo, writes to a
partner's person from Write, and the mail goes out through real SMTP (aiosmtpd on loopback),
is delivered to the demo's mail store and shows filed in the partner's dossier; the copy the
server files in Sent is read back by the sync without doubling the message."""

from __future__ import annotations

from email import message_from_bytes
from email.policy import default

from flask.testing import FlaskClient
from sqlalchemy import func, select

from connector.demo import OUTSIDE, MailStore
from connector.models import MailAccount
from connector.sync import sync_account
from crm.db import Database
from crm.demo import DEMO_PASSWORD, load_demo
from crm.models import Partner, Person
from mail_archive.models import Message
from tests.conftest import login, post_form
from web.commands import start_demo_mail

JANA, PETR = "jana@demo.dossier.cz", "petr@demo.dossier.cz"


def test_a_newcomer_writes_from_the_demo_and_sees_the_mail_filed(
    client: FlaskClient, database: Database
) -> None:
    assert load_demo(database) is not None
    server = start_demo_mail(database)  # what `dossier demo` starts before serving
    try:
        with database.session(write=False) as s:
            partner = s.scalars(
                select(Partner).where(Partner.name == "Stavby Příbram s.r.o.")
            ).one()
            person = s.scalars(
                select(Person).where(Person.partner_id == partner.id).order_by(Person.id)
            ).first()
            assert person is not None and person.emails
            address, partner_id = person.emails[0], partner.id
            account = s.scalars(select(MailAccount).where(MailAccount.name == JANA)).one()
            account_id = account.id
            assert (account.kind, account.smtp_port) == ("demo", server.port)
        login(client, JANA, DEMO_PASSWORD)
        form = client.get(f"/mail/compose?person_id={person.id}").get_data(as_text=True)
        assert address in form and f'<option value="{account_id}"' in form
        sent = post_form(
            client,
            "/mail/compose",
            {
                "account_id": account_id,
                "to": address,
                "cc": PETR,
                "subject": "Nabídka ocelových nosníků",
                "body": "Dobrý den,\nv příloze posílám nabídku.\nJana Nováková",
                "partner_id": partner_id,
            },
            follow_redirects=True,
        )
        page = sent.get_data(as_text=True)
        # Jana's UI is Czech: "Sent and filed.", and the message's own page
        assert sent.status_code == 200 and "Odesláno a zařazeno." in page, page
        assert "<h1>Nabídka ocelových nosníků</h1>" in page
        dossier = client.get(f"/partners/{partner_id}").get_data(as_text=True)
        assert "Nabídka ocelových nosníků" in dossier

        store = MailStore.of(database.settings)
        (delivered,) = [store.read(OUTSIDE, "INBOX", n) for n in store.numbers(OUTSIDE, "INBOX")]
        received = message_from_bytes(delivered, policy=default)
        assert received["Subject"] == "Nabídka ocelových nosníků"
        assert received["To"] == address
        assert len(store.numbers(PETR, "INBOX")) == 1  # a colleague in Cc gets it in his INBOX
        assert len(store.numbers(JANA, "Sent")) == 1  # filed in Sent by the server, as Gmail does

        report = sync_account(database, account_id)  # the background pass reads INBOX and Sent
        assert report.error == "" and sum(f.fetched for f in report.folders) == 1
        with database.session(write=False) as s:
            copies = s.scalar(
                select(func.count())
                .select_from(Message)
                .where(Message.subject == "Nabídka ocelových nosníků")
            )
        assert copies == 1  # the Sent copy is the message already filed
        answer = client.get(f"/mail/accounts/{account_id}/status").get_json()
        assert (answer["sync"], answer["read"], answer["running"]) == ("idle", 1, False)

        # no account chosen: said by the field
        bad = post_form(
            client,
            "/mail/compose",
            {"account_id": 0, "to": address, "subject": "x", "body": "x"},
        )
        assert bad.status_code == 422 and 'id="c-account-error"' in bad.get_data(as_text=True)
    finally:
        server.stop()


def test_the_demo_mail_server_takes_mail_only_after_the_login(database: Database) -> None:
    import smtplib

    load_demo(database)
    server = start_demo_mail(database)
    try:
        with smtplib.SMTP(server.host, server.port, timeout=5) as smtp:
            try:
                smtp.sendmail(JANA, ["nikdo@example.cz"], b"Subject: x\r\n\r\nx\r\n")
            except smtplib.SMTPSenderRefused as exc:
                assert exc.smtp_code == 530
            else:
                raise AssertionError("mail taken without a login")
            try:
                smtp.login(JANA, "spatne-heslo")
            except smtplib.SMTPAuthenticationError:
                pass
            else:
                raise AssertionError("a wrong password was taken")
        # a recipient address never names a path: it goes to the outside box
        with smtplib.SMTP(server.host, server.port, timeout=5) as smtp:
            smtp.login(JANA, DEMO_PASSWORD)
            smtp.sendmail(JANA, ["../../etc@x.cz"], b"Subject: y\r\n\r\ny\r\n")
        store = MailStore.of(database.settings)
        assert len(store.numbers(OUTSIDE, "INBOX")) == 1
        assert sorted(p.name for p in store.root.iterdir()) == sorted(
            [OUTSIDE, *(e for e in store.mailboxes() if e != OUTSIDE)]
        )
        assert all("@" in name for name in store.mailboxes() - {OUTSIDE})
    finally:
        server.stop()
