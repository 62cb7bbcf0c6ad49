"""Mail pages: the message with its sandboxed body, links, triage, upload, accounts."""

from __future__ import annotations

import html
import io
import re

from flask.testing import FlaskClient
from sqlalchemy import func, select

from crm.blobs import BlobStore
from crm.db import Database
from crm.services.deals import deals
from crm.services.partners import partners
from crm.services.persons import persons
from mail_archive.filing import RuleFiler
from mail_archive.ingest import Archive, Source
from mail_archive.models import Message
from tests.conftest import World, login, post_form
from tests.mailfactory import make_mail
from tests.outlookfactory import CZECH, make_msg

HOSTILE = (
    '<p onclick="steal()">Dobrý den,</p><script>alert(1)</script>'
    '<img src="https://tracker.example/p.gif"><img src="cid:logo@x">'
    '<a href="javascript:alert(2)">klikni</a><form action="https://evil.example"><input></form>'
    '<div style="background:url(https://evil.example/x)">posíláme nabídku</div>'
)


def setup(database: Database, world: World) -> dict[str, int]:
    with database.session() as s:
        p = partners.create(
            s, world.sales_a, {"name": "Stavby Příbram s.r.o.", "domains": "stavby-pribram.cz"}
        )
        persons.create(
            s,
            world.sales_a,
            {"partner_id": p.id, "name": "Jan Novák", "emails": "jan.novak@stavby-pribram.cz"},
        )
        d = deals.create(s, world.sales_a, {"title": "Hala Příbram", "partner_id": p.id})
        archive = Archive(s, BlobStore(database.settings.blob_dir), RuleFiler())
        filed = archive.ingest(
            make_mail(subject="Nabídka haly", html=HOSTILE, body="Dobrý den"),
            Source(kind="upload", key="u1", user_id=world.sales_a.id, explicit=True),
        )
        triaged = archive.ingest(
            make_mail(subject="Poptávka neznámého", sender=("Nový", "info@novy-zakaznik.cz")),
            Source(kind="upload", key="u2", user_id=world.sales_a.id, explicit=True),
        )
        return {
            "partner": p.id,
            "deal": d.id,
            "filed": filed.message_id or 0,
            "triaged": triaged.message_id or 0,
        }


def test_partner_timeline_and_message_page_show_mail_safely(
    client: FlaskClient, database: Database, world: World
) -> None:
    ids = setup(database, world)
    login(client, world.sales_a)
    dossier_page = client.get(f"/partners/{ids['partner']}").get_data(as_text=True)
    assert "Nabídka haly" in dossier_page and f"/mail/{ids['filed']}" in dossier_page
    page = client.get(f"/mail/{ids['filed']}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Jan Novák" in html and "Stavby Příbram s.r.o." in html
    assert 'sandbox="allow-popups allow-popups-to-escape-sandbox"' in html
    assert re.search(r"\d remote images? (was|were) blocked", html)
    body = client.get(f"/mail/{ids['filed']}/body")
    csp = body.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "sandbox" in csp and "script-src" not in csp
    text = body.get_data(as_text=True)
    for active in ("<script", "onclick", "javascript:", "tracker.example", "evil.example", "<form"):
        assert active not in text, active
    assert "posíláme nabídku" in text


def test_triage_files_with_two_clicks(
    client: FlaskClient, database: Database, world: World
) -> None:
    ids = setup(database, world)
    login(client, world.sales_a)
    queue = client.get("/mail/triage").get_data(as_text=True)
    assert "Poptávka neznámého" in queue
    partners_page = client.get("/partners/").get_data(as_text=True)
    assert re.search(r'<span class="badge count"[^>]*>1</span>', partners_page)  # in the menu
    response = post_form(client, f"/mail/{ids['triaged']}/file", {"partner_id": ids["partner"]})
    assert response.status_code == 302
    after = client.get("/mail/triage").get_data(as_text=True)
    assert "Filed: Poptávka neznámého" in after  # the confirmation
    assert f"/mail/{ids['triaged']}/file" not in after  # no longer in the queue
    with database.session() as s:
        assert s.get(Message, ids["triaged"]).status == "filed"  # type: ignore[union-attr]
    # filing with nothing chosen explains itself and changes nothing
    again = setup_extra_triage(database, world)
    response = post_form(client, f"/mail/{again}/file", {"partner_id": ""}, follow_redirects=True)
    assert "Choose a partner or a deal" in response.get_data(as_text=True)


def setup_extra_triage(database: Database, world: World) -> int:
    with database.session() as s:
        archive = Archive(s, BlobStore(database.settings.blob_dir), RuleFiler())
        result = archive.ingest(
            make_mail(subject="Další", sender=("X", "x@jinde.cz")),
            Source(kind="upload", key="u3", user_id=world.sales_a.id, explicit=True),
        )
        return result.message_id or 0


def test_other_teams_and_forged_forms_get_nothing(
    client: FlaskClient, database: Database, world: World
) -> None:
    ids = setup(database, world)
    login(client, world.sales_b)
    for url in (
        f"/mail/{ids['filed']}",
        f"/mail/{ids['filed']}/body",
        f"/mail/{ids['filed']}/raw",
        f"/mail/{ids['triaged']}",
    ):
        assert client.get(url).status_code == 404, url
    assert "Nabídka haly" not in client.get("/mail/").get_data(as_text=True)
    assert post_form(client, f"/mail/{ids['triaged']}/dismiss", {}).status_code == 404
    login(client, world.sales_a)
    forged = client.post(f"/mail/{ids['triaged']}/dismiss", data={})
    assert forged.status_code == 400  # no CSRF token
    with database.session() as s:
        assert s.get(Message, ids["triaged"]).status == "triage"  # type: ignore[union-attr]


def test_upload_files_eml_and_refuses_what_is_not_mail(
    client: FlaskClient, database: Database, world: World
) -> None:
    ids = setup(database, world)
    login(client, world.sales_a)
    nothing = post_form(client, "/mail/upload", {})
    assert nothing.status_code == 422 and "Choose one or more" in nothing.get_data(as_text=True)
    response = post_form(
        client,
        "/mail/upload",
        {
            "deal_id": str(ids["deal"]),
            "files": [
                (io.BytesIO(make_mail(subject="Smlouva k hale")), "smlouva.eml"),
                (io.BytesIO(b"%PDF-1.4 not a mail"), "faktura.pdf"),
            ],
        },
        content_type="multipart/form-data",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "smlouva.eml" in html and "faktura.pdf" in html and "not an e-mail" in html
    with database.session() as s:
        m = s.scalars(select(Message).where(Message.subject == "Smlouva k hale")).one()
        assert f"deal:{ids['deal']}" in {link.target for link in m.links}
    deal_page = client.get(f"/deals/{ids['deal']}").get_data(as_text=True)
    assert "Smlouva k hale" in deal_page


def test_account_form_shows_errors_by_the_field_and_never_the_password(
    client: FlaskClient, database: Database, world: World
) -> None:
    login(client, world.sales_a)
    bad = post_form(
        client,
        "/mail/accounts",
        {"name": "", "host": "", "username": "", "password": "", "security": "tls"},
    )
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422
    for field in ("acc-name-error", "acc-host-error", "acc-username-error", "acc-password-error"):
        assert field in html
    good = post_form(
        client,
        "/mail/accounts",
        {
            "name": "Moje pošta",
            "host": "imap.firma.cz",
            "username": "jana@firma.cz",
            "password": "Tajné-heslo-123",
            "security": "tls",
        },
    )
    assert good.status_code == 302
    page = client.get(good.headers["Location"]).get_data(as_text=True)
    assert "imap.firma.cz:993" in page and "Tajné-heslo-123" not in page
    with database.session() as s:
        from connector.models import MailAccount

        row = s.scalars(select(MailAccount)).one()
        assert "Tajné" not in row.password_encrypted and row.password_encrypted
        assert s.scalar(select(func.count()).select_from(MailAccount)) == 1
    # another user does not see it
    login(client, world.sales_a2)
    assert client.get(good.headers["Location"]).status_code == 404


def test_the_mail_list_sorts_filters_and_says_where_mail_is_filed(
    client: FlaskClient, database: Database, world: World
) -> None:
    ids = setup(database, world)
    with database.session() as s:
        archive = Archive(s, BlobStore(database.settings.blob_dir), RuleFiler())
        archive.ingest(
            make_mail(
                subject="Cenová nabídka",
                sender=("Jana Nováková", world.sales_a.email),
                to=[("Jan Novák", "jan.novak@stavby-pribram.cz")],
            ),
            Source(kind="upload", key="u-out", user_id=world.sales_a.id, explicit=True),
        )
    login(client, world.sales_a)

    def subjects(query: str) -> list[str]:
        html = client.get(f"/mail/?{query}").get_data(as_text=True)
        return re.findall(r'<a href="/mail/\d+">([^<]+)</a>', html)

    assert subjects("sort=subject") == ["Cenová nabídka", "Nabídka haly"]
    assert subjects("sort=-subject") == ["Nabídka haly", "Cenová nabídka"]
    assert subjects("direction=out") == ["Cenová nabídka"]
    assert subjects("q=haly") == ["Nabídka haly"]
    assert subjects("q=jan.novak@stavby") == ["Nabídka haly"]
    assert subjects("q=100%25") == []  # a % is a character, not a wildcard
    page = client.get("/mail/").get_data(as_text=True)
    assert f'<a href="/partners/{ids["partner"]}">Stavby Příbram s.r.o.</a>' in page
    assert "Poptávka neznámého" not in page  # waiting in triage, not filed
    bad = client.get("/mail/?sort=password&direction=sideways")
    html = bad.get_data(as_text=True)
    assert bad.status_code == 400
    assert "cannot sort by password" in html and "must be in or out" in html
    assert "Nabídka haly" in html  # the whole list still shows


def test_upload_files_an_outlook_msg_and_says_by_the_file_field_why_others_are_refused(
    client: FlaskClient, database: Database, world: World
) -> None:
    ids = setup(database, world)
    login(client, world.sales_a)
    data = make_msg(CZECH)
    response = post_form(
        client,
        "/mail/upload",
        {
            "files": [
                (io.BytesIO(data), "Nabídka hala.msg"),
                (io.BytesIO(make_msg(message_class="IPM.Appointment")), "Schůzka.msg"),
                (io.BytesIO(b""), "prázdný.eml"),
                (io.BytesIO(b"%PDF-1.4 not a mail"), "faktura.pdf"),
            ]
        },
        content_type="multipart/form-data",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200  # one file was filed
    assert 'aria-invalid="true" aria-describedby="files-error"' in page
    said = refusals(page)
    assert list(said) == ["Schůzka.msg", "prázdný.eml", "faktura.pdf"]
    assert said["Schůzka.msg"].startswith("This Outlook file is a calendar item, not an e-mail")
    assert said["prázdný.eml"] == "The file is empty."
    assert said["faktura.pdf"].startswith("This file is not an e-mail. Save the message")
    with database.session(write=False) as s:
        message = s.scalars(select(Message).where(Message.subject == CZECH.subject)).one()
        message_id, files = message.id, [(a.position, a.filename) for a in message.attachments]
    assert f'href="/mail/{message_id}">filed</a>' in page
    shown = client.get(f"/mail/{message_id}").get_data(as_text=True)
    assert CZECH.subject in shown and "Stavby Příbram s.r.o." in shown
    position, name = files[-1]
    assert name == f"{CZECH.subject}.msg" and name in html.unescape(shown)
    original = client.get(f"/mail/{message_id}/attachments/{position}")
    assert original.status_code == 200 and original.data == data
    original.close()
    assert ids["partner"]  # filed to the sender's partner, as shown above

    nothing_filed = post_form(
        client,
        "/mail/upload",
        {"files": [(io.BytesIO(data[:900]), "poškozená.msg")]},
        content_type="multipart/form-data",
    )
    assert nothing_filed.status_code == 422
    said = refusals(nothing_filed.get_data(as_text=True))
    assert said["poškozená.msg"].startswith("This Outlook file is damaged and cannot be read.")


def refusals(page: str) -> dict[str, str]:
    """The files refused, by name, with the reason shown by the file field."""
    field = page.split('id="files-error"', 1)[1].split("</div>", 1)[0]
    return {
        html.unescape(name): html.unescape(reason)
        for name, reason in re.findall(
            r'<p class="error refused"><strong>([^<]*)</strong>: ([^<]*)</p>', field
        )
    }
