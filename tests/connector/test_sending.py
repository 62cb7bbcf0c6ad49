"""Writing mail from the CRM: sent through the user's SMTP (a real aiosmtpd), archived and
linked like incoming mail, and copied into the mailbox's Sent folder (a real Dovecot)."""

from __future__ import annotations

from email import message_from_bytes
from email.policy import default

from flask.testing import FlaskClient
from sqlalchemy import select

from crm.db import Database
from mail_archive.models import Message
from tests.conftest import World, login, post_form
from tests.connector.conftest import add_imap
from tests.mail_archive.conftest import Dossier
from tests.servers.dovecot import Dovecot
from tests.servers.fixtures import ImapUser
from tests.servers.smtp import smtp_server


def test_compose_sends_files_and_copies_to_sent(
    client: FlaskClient,
    database: Database,
    world: World,
    dossier: Dossier,
    dovecot: Dovecot,
    imap_user: ImapUser,
) -> None:
    with smtp_server(imap_user.name, imap_user.password, require_auth=True) as smtp:
        account_id = add_imap(database, imap_user, world.sales_a.email, "jana", smtp)
        login(client, world.sales_a)
        form = client.get(f"/mail/compose?person_id={dossier.person_id}").get_data(as_text=True)
        assert "jan.novak@stavby-pribram.cz" in form
        bad = post_form(
            client,
            "/mail/compose",
            {"account_id": account_id, "to": "nikdo@", "subject": "", "body": "x"},
        )
        assert bad.status_code == 422 and not smtp.messages
        html = bad.get_data(as_text=True)
        assert "c-to-error" in html and "c-subject-error" in html
        sent = post_form(
            client,
            "/mail/compose",
            {
                "account_id": account_id,
                "to": "Jan Novák <jan.novak@stavby-pribram.cz>",
                "subject": f"Nabídka [D-{dossier.deal_id}]",
                "body": "Dobrý den, v příloze posílám nabídku.",
            },
        )
        assert sent.status_code == 302, sent.get_data(as_text=True)
        (received,) = smtp.wait_for(1)
        assert list(received.rcpt_tos) == ["jan.novak@stavby-pribram.cz"]
        assert received.login == imap_user.name
        body = message_from_bytes(received.raw, policy=default)
        assert "posílám nabídku" in body.get_content()  # type: ignore[attr-defined]
    with database.session() as s:
        m = s.scalars(select(Message)).one()
        assert m.direction == "out"
        assert {link.target for link in m.active_links} >= {
            f"deal:{dossier.deal_id}",
            f"partner:{dossier.partner_id}",
        }
        sent_id = m.internet_id
    sent_copies = dovecot.messages(imap_user.name, imap_user.password, "Sent")
    assert any(b"posl" in raw or b"Nab" in raw for raw in sent_copies.values())
    # the copy in Sent is the very message archived: the next sync dedupes it
    assert any(f"<{sent_id}>".encode() in raw for raw in sent_copies.values())
