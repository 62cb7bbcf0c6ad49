"""The partner pages as a salesperson uses them."""

from __future__ import annotations

import io
import re

from flask.testing import FlaskClient
from sqlalchemy import func, select

from crm.db import Database
from crm.models import Partner
from crm.services.deals import deals
from crm.services.partners import partners
from tests.conftest import World, login, post_form


def partner_count(database: Database) -> int:
    with database.session() as s:
        live = Partner.deleted_at.is_(None)  # deleted ones wait in the trash
        return int(s.scalar(select(func.count()).select_from(Partner).where(live)) or 0)


def test_create_show_edit_delete(client: FlaskClient, world: World, database: Database) -> None:
    login(client, world.sales_a)
    form = client.get("/partners/new").get_data(as_text=True)
    assert 'name="kind_id"' in form and "Customer" in form and "Domestic" in form  # English
    created = post_form(
        client,
        "/partners/new",
        {
            "name": "Stavby Příbram s.r.o.",
            "status": "active",
            "category": "A",
            "company_id": "27082440",
            "vat_id": "CZ27082440",
            "city": "Příbram",
            "emails": "obchod@stavby-pribram.cz",
            "phones": "+420 318 123 456",
            "domains": "stavby-pribram.cz",
        },
    )
    assert created.status_code == 302
    page = client.get(created.headers["Location"]).get_data(as_text=True)
    for shown in (
        "Stavby Příbram s.r.o.",
        "27082440",
        "stavby-pribram.cz",
        "+420 318 123 456",
        "Partner saved.",
    ):
        assert shown in page
    partner_id = int(created.headers["Location"].rsplit("/", 1)[1])
    edit = client.get(f"/partners/{partner_id}/edit").get_data(as_text=True)
    assert 'value="Stavby Příbram s.r.o."' in edit and "stavby-pribram.cz</textarea>" in edit
    post_form(
        client,
        f"/partners/{partner_id}/edit",
        {"name": "Stavby Příbram a.s.", "status": "passive", "domains": "stavby-pribram.cz"},
    )
    page = client.get(f"/partners/{partner_id}").get_data(as_text=True)
    assert "Stavby Příbram a.s." in page and "passive" in page
    deleted = post_form(client, f"/partners/{partner_id}/delete", {})
    assert deleted.status_code == 302 and partner_count(database) == 0


def test_bad_input_is_shown_next_to_the_field_and_nothing_is_stored(
    client: FlaskClient, world: World, database: Database
) -> None:
    login(client, world.sales_a)
    response = post_form(
        client,
        "/partners/new",
        {"name": "", "emails": "jana@", "domains": "gmail.com", "country": "Česko"},
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(r'id="f-name-err">is required<', html)
    assert "“jana@” is not an email address" in html
    assert "public mail domain" in html
    assert 'value="Česko"' in html  # what the user typed is kept
    assert partner_count(database) == 0


def test_duplicate_company_id_is_explained(client: FlaskClient, world: World) -> None:
    login(client, world.sales_a)
    post_form(client, "/partners/new", {"name": "Agro Žatec", "company_id": "12345678"})
    response = post_form(
        client, "/partners/new", {"name": "Agro Žatec 2", "company_id": "12345678"}
    )
    assert response.status_code == 422
    assert "already exists" in response.get_data(as_text=True)


def test_list_filters_sorts_and_pages(
    client: FlaskClient, world: World, database: Database
) -> None:
    with database.session() as s:
        for i in range(60):
            partners.create(
                s,
                world.sales_a,
                {
                    "name": f"Firma {i:02d}",
                    "region": "Zahraničí" if i % 3 == 0 else "Tuzemsko",
                    "city": "Žilina" if i % 2 else "Brno",
                },
            )
    login(client, world.sales_a)
    first = client.get("/partners/?sort=name").get_data(as_text=True)
    assert "Firma 00" in first and "Firma 49" in first and "Firma 50" not in first
    assert "60 records" in first and 'rel="next"' in first
    second = client.get("/partners/?sort=name&page=2").get_data(as_text=True)
    assert "Firma 50" in second and "Firma 00" not in second
    desc = client.get("/partners/?sort=-name").get_data(as_text=True)
    assert desc.index("Firma 59") < desc.index("Firma 58")
    with database.session() as s:
        from crm.services.codebooks import entries

        abroad = next(e.id for e in entries(s, "region") if e.label == "Zahraničí")
    filtered = client.get(f"/partners/?region={abroad}").get_data(as_text=True)
    assert "20 records" in filtered
    bad = client.get("/partners/?sort=password")
    assert bad.status_code == 400 and "cannot sort by password" in bad.get_data(as_text=True)


def test_accent_free_name_search(client: FlaskClient, world: World, database: Database) -> None:
    with database.session() as s:
        partners.create(s, world.sales_a, {"name": "Kovárna Příbram"})
        partners.create(s, world.sales_a, {"name": "Pekárna Brno"})
    login(client, world.sales_a)
    page = client.get("/partners/?q=pribram").get_data(as_text=True)
    assert "Kovárna Příbram" in page and "Pekárna Brno" not in page


def test_other_team_cannot_see_by_url_or_list(
    client: FlaskClient, world: World, database: Database
) -> None:
    with database.session() as s:
        secret = partners.create(s, world.sales_a, {"name": "Tajný klient"})
    login(client, world.sales_b)
    assert "Tajný klient" not in client.get("/partners/").get_data(as_text=True)
    assert client.get(f"/partners/{secret.id}").status_code == 404
    assert client.get(f"/partners/{secret.id}/edit").status_code == 404
    assert post_form(client, f"/partners/{secret.id}/edit", {"name": "X"}).status_code == 404
    assert post_form(client, f"/partners/{secret.id}/delete", {}).status_code == 404
    assert partner_count(database) == 1


def test_partner_page_shows_timeline_newest_first(
    client: FlaskClient, world: World, database: Database
) -> None:
    with database.session() as s:
        p = partners.create(s, world.sales_a, {"name": "Agro Žatec"})
        deals.create(s, world.sales_a, {"title": "Starší zakázka", "partner_id": p.id})
        deals.create(s, world.sales_a, {"title": "Novější zakázka", "partner_id": p.id})
    login(client, world.sales_a)
    page = client.get(f"/partners/{p.id}").get_data(as_text=True)
    timeline = page[page.index("Timeline") :]
    assert timeline.index("Novější zakázka") < timeline.index("Starší zakázka")


def test_deleting_a_partner_with_deals_is_refused(
    client: FlaskClient, world: World, database: Database
) -> None:
    with database.session() as s:
        p = partners.create(s, world.sales_a, {"name": "Agro Žatec"})
        deals.create(s, world.sales_a, {"title": "Zakázka", "partner_id": p.id})
    login(client, world.sales_a)
    response = post_form(client, f"/partners/{p.id}/delete", {}, follow_redirects=True)
    assert "the partner has deals" in response.get_data(as_text=True)
    assert partner_count(database) == 1


def test_import_from_the_partner_list(
    client: FlaskClient, world: World, database: Database
) -> None:
    login(client, world.sales_a)
    assert "/partners/import" in client.get("/partners/").get_data(as_text=True)
    csv = "Název;IČO;E-mail\nKovárna Příbram;12345678;info@kovarna.cz\n;999;bad\n".encode("cp1250")
    response = post_form(
        client,
        "/partners/import",
        {"file": (io.BytesIO(csv), "firmy.csv")},
        content_type="multipart/form-data",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "1 created, 0 updated, 1 refused" in html and "row 3: refused" in html
    assert partner_count(database) == 1
    bad = post_form(
        client,
        "/partners/import",
        {"file": (io.BytesIO(b"\x89PNG\r\n\x1a\n"), "logo.csv")},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422 and 'id="file-err"' in bad.get_data(as_text=True)
    empty = post_form(client, "/partners/import", {})
    assert empty.status_code == 422 and "Choose a CSV or XLSX file." in empty.get_data(as_text=True)
