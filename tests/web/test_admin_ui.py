"""Administration as an admin uses it: codebooks, custom fields, users, groups, owner companies."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from crm.db import Database
from crm.models import CodebookEntry, CustomField, Group, OwnerCompany, Partner, User
from crm.services import codebooks
from crm.services.partners import partners
from tests.conftest import World, count, login, post_form
from tests.web.conftest import flashes, text


def entry(database: Database, codebook: str, label: str) -> CodebookEntry:
    with database.session() as s:
        found = s.scalar(
            select(CodebookEntry).where(
                CodebookEntry.codebook == codebook, CodebookEntry.label == label
            )
        )
        assert found is not None, label
        return found


def beside(page: str, input_id: str) -> str | None:
    """The error the admin pages show right after the input or select ``input_id``."""
    tag = re.search(rf'<(input|select)[^>]*id="{input_id}"[^>]*>', page)
    assert tag is not None, input_id
    rest = page[tag.end() :]
    if tag.group(1) == "select":
        rest = rest[rest.index("</select>") + len("</select>") :]
    found = re.match(r'\s*<p class="error"[^>]*>([^<]*)<', rest)
    return found.group(1) if found else None


def offered(page: str, select_name: str) -> list[str]:
    """The option labels of a form's select."""
    found = re.search(
        rf'<select[^>]*name="{re.escape(select_name)}"[^>]*>(.*?)</select>', page, re.S
    )
    assert found is not None, select_name
    return [label.strip() for label in re.findall(r"<option[^>]*>([^<]*)</option>", found.group(1))]


ADMIN_GETS = ["/admin/", "/admin/codebooks", "/admin/custom-fields", "/admin/users"]


@pytest.mark.parametrize("who", ["sales_a", "manager_a"])
def test_admin_pages_are_for_admins_only(
    client: FlaskClient, world: World, database: Database, who: str
) -> None:
    login(client, getattr(world, who))
    assert "Administration" not in client.get("/partners/").get_data(as_text=True)
    for url in [*ADMIN_GETS, f"/admin/users/{world.sales_a.id}"]:
        response = client.get(url)
        assert response.status_code == 403, url
        assert "only an administrator may do this" in response.get_data(as_text=True)
    lead = entry(database, "deal_stage", "Lead")
    for url, data in (
        ("/admin/codebooks", {"codebook": "region", "label": "Morava"}),
        (f"/admin/codebooks/{lead.id}", {"label": "Hacked"}),
        ("/admin/custom-fields", {"record_type": "partner", "key": "x", "label": "X"}),
        ("/admin/users", {"email": "x@firma.cz", "name": "X", "role": "admin"}),
        (f"/admin/users/{world.sales_a.id}", {"name": "X", "role": "admin", "active": "1"}),
        ("/admin/groups", {"name": "Tým X"}),
        ("/admin/owner-companies", {"name": "X s.r.o."}),
    ):
        assert post_form(client, url, data).status_code == 403, url
    assert entry(database, "deal_stage", "Lead").label == "Lead"
    with database.session() as s:
        jana = s.get(User, world.sales_a.id)
        assert jana is not None and jana.role == "sales"
    assert count(database, User) == 5 and count(database, CustomField) == 0


def test_admin_pages_need_a_login(client: FlaskClient) -> None:
    response = client.get("/admin/users")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_the_admin_index_links_every_section(client: FlaskClient, world: World) -> None:
    login(client, world.admin)
    assert 'href="/admin/"' in client.get("/partners/").get_data(as_text=True)
    page = client.get("/admin/").get_data(as_text=True)
    for link in ("/admin/codebooks", "/admin/custom-fields", "/admin/users"):
        assert f'href="{link}"' in page
    assert "Codebooks" in page and "Custom fields" in page and "Users and groups" in page


def test_codebooks_add_rename_retire_and_reactivate(
    client: FlaskClient, world: World, database: Database
) -> None:
    with database.session() as s:
        old = partners.create(s, world.sales_a, {"name": "Agro Žatec", "region": "Tuzemsko"})
    login(client, world.admin)
    page = client.get("/admin/codebooks").get_data(as_text=True)
    for shown in (
        "Partner kind",
        "Region",
        "Industry",
        "Deal type",
        "Pipeline stage",
        "Activity result",
        "Close reason",
        "Zahraničí",
        "Chose a competitor",
    ):
        assert shown in page

    added = post_form(client, "/admin/codebooks", {"codebook": "region", "label": "Slovensko"})
    assert added.status_code == 302 and added.headers["Location"] == "/admin/codebooks#cb-region"
    assert "Entry added." in flashes(client.get("/admin/codebooks").get_data(as_text=True))
    dup = post_form(client, "/admin/codebooks", {"codebook": "region", "label": "slovensko"})
    assert dup.status_code == 422
    assert "this codebook has such an entry" in dup.get_data(as_text=True)
    empty = post_form(client, "/admin/codebooks", {"codebook": "region", "label": " "})
    assert empty.status_code == 422
    assert "must be 1 to 200 characters" in empty.get_data(as_text=True)
    with database.session() as s:
        assert [e.label for e in codebooks.entries(s, "region")] == [
            "Tuzemsko",
            "Zahraničí",
            "Slovensko",
        ]

    login(client, world.sales_a)
    assert "Slovensko" in offered(client.get("/partners/new").get_data(as_text=True), "region_id")
    login(client, world.admin)
    slovensko = entry(database, "region", "Slovensko")
    renamed = post_form(
        client,
        f"/admin/codebooks/{slovensko.id}",
        {"label": "Slovenská republika", "position": "5"},
    )
    assert renamed.status_code == 302
    clash = post_form(client, f"/admin/codebooks/{slovensko.id}", {"label": "Zahraničí"})
    assert clash.status_code == 422
    assert "this codebook has such an entry" in clash.get_data(as_text=True)
    bad_position = post_form(client, f"/admin/codebooks/{slovensko.id}", {"position": "první"})
    assert bad_position.status_code == 422
    assert "must be a whole number" in bad_position.get_data(as_text=True)
    assert entry(database, "region", "Slovenská republika").position == 5

    tuzemsko = entry(database, "region", "Tuzemsko")
    retired = post_form(client, f"/admin/codebooks/{tuzemsko.id}", {"active": "0"})
    assert retired.status_code == 302
    assert "Reactivate" in client.get("/admin/codebooks").get_data(as_text=True)
    login(client, world.sales_a)
    assert "Domestic" not in offered(
        client.get("/partners/new").get_data(as_text=True), "region_id"
    )
    assert "Domestic" not in client.get("/partners/").get_data(as_text=True).split("<table")[0]
    assert "Domestic" in client.get(f"/partners/{old.id}").get_data(as_text=True)
    edit = client.get(f"/partners/{old.id}/edit").get_data(as_text=True)
    assert "Domestic (retired)" in offered(edit, "region_id")
    assert f'<option value="{tuzemsko.id}" selected>Domestic (retired)</option>' in edit
    kept = post_form(
        client,
        f"/partners/{old.id}/edit",
        {"name": "Agro Žatec", "status": "active", "region_id": str(tuzemsko.id)},
    )
    assert kept.status_code == 302
    with database.session() as s:
        agro = s.get(Partner, old.id)
        assert agro is not None and agro.region_id == tuzemsko.id

    login(client, world.admin)
    post_form(client, f"/admin/codebooks/{tuzemsko.id}", {"active": "1"})
    login(client, world.sales_a)
    assert "Domestic" in offered(client.get("/partners/new").get_data(as_text=True), "region_id")


def test_pipeline_stage_probabilities(
    client: FlaskClient, world: World, database: Database
) -> None:
    with database.session() as s:
        partner = partners.create(s, world.sales_a, {"name": "Agro Žatec"})
    lead = entry(database, "deal_stage", "Lead")
    login(client, world.admin)
    page = client.get("/admin/codebooks").get_data(as_text=True)
    assert 'name="probability" value="10"' in page
    bad = post_form(client, f"/admin/codebooks/{lead.id}", {"label": "Lead", "probability": "150"})
    assert bad.status_code == 422
    assert "must be a whole number from 0 to 100" in bad.get_data(as_text=True)
    assert entry(database, "deal_stage", "Lead").probability == 10
    saved = post_form(
        client,
        f"/admin/codebooks/{lead.id}",
        {"label": "Poptávka", "position": "0", "probability": "15"},
    )
    assert (
        saved.status_code == 302 and saved.headers["Location"] == "/admin/codebooks#cb-deal_stage"
    )
    pilot = post_form(
        client,
        "/admin/codebooks",
        {"codebook": "deal_stage", "label": "Pilot", "probability": "40"},
    )
    assert pilot.status_code == 302
    bad_new = post_form(
        client, "/admin/codebooks", {"codebook": "deal_stage", "label": "Test", "probability": "x"}
    )
    assert bad_new.status_code == 422
    assert "must be a whole number from 0 to 100" in bad_new.get_data(as_text=True)
    region = entry(database, "region", "Zahraničí")
    not_a_stage = post_form(
        client, f"/admin/codebooks/{region.id}", {"label": "Zahraničí", "probability": "50"}
    )
    assert not_a_stage.status_code == 422
    assert "only pipeline stages have a probability" in not_a_stage.get_data(as_text=True)

    login(client, world.sales_a)
    first = post_form(
        client, f"/deals/new?partner_id={partner.id}", {"partner_id": partner.id, "title": "Sklad"}
    )
    page = text(client.get(first.headers["Location"]).get_data(as_text=True))
    assert "Stage Poptávka" in page and "Probability 15 %" in page
    pilot_id = entry(database, "deal_stage", "Pilot").id
    second = post_form(
        client,
        f"/deals/new?partner_id={partner.id}",
        {"partner_id": partner.id, "title": "Silo", "stage_id": pilot_id},
    )
    page = text(client.get(second.headers["Location"]).get_data(as_text=True))
    assert "Stage Pilot" in page and "Probability 40 %" in page


def test_a_new_codebook_needs_a_key(client: FlaskClient, world: World, database: Database) -> None:
    login(client, world.admin)
    before = count(database, CodebookEntry)
    bad = post_form(client, "/admin/codebooks", {"codebook": "", "label": "Zetor"})
    assert bad.status_code == 422
    assert "Codebook key: must be lower-case letters, digits and _" in text(
        bad.get_data(as_text=True)
    )
    assert 'value="Zetor"' in bad.get_data(as_text=True)
    bad = post_form(client, "/admin/codebooks", {"codebook": "Značka", "label": "Zetor"})
    assert bad.status_code == 422 and count(database, CodebookEntry) == before
    made = post_form(client, "/admin/codebooks", {"codebook": "tractor_brand", "label": "Zetor"})
    assert made.status_code == 302
    assert "Tractor brand" in client.get("/admin/codebooks").get_data(as_text=True)


def test_custom_field_appears_on_the_form_the_page_and_as_a_list_filter(
    client: FlaskClient, world: World, database: Database
) -> None:
    with database.session() as s:
        zatec = partners.create(s, world.sales_a, {"name": "Agro Žatec"})
        partners.create(s, world.sales_a, {"name": "Statek Kroměříž"})
    login(client, world.admin)
    post_form(client, "/admin/codebooks", {"codebook": "tractor_brand", "label": "Zetor"})
    post_form(client, "/admin/codebooks", {"codebook": "tractor_brand", "label": "John Deere"})
    bad = post_form(
        client,
        "/admin/custom-fields",
        {"record_type": "zakázka", "key": "1x", "label": "", "field_type": "codebook"},
    )
    assert bad.status_code == 422
    page = bad.get_data(as_text=True)
    assert beside(page, "record_type") == "must be one of partner, person, deal, activity"
    assert beside(page, "key") is None  # the hint comes first; the error follows it
    assert 'id="err-key">must start with a letter; lower-case letters, digits and _ only' in page
    assert beside(page, "label") == "must be 1 to 200 characters"
    assert beside(page, "codebook") == "name the codebook the values come from"
    assert count(database, CustomField) == 0
    ok = post_form(
        client,
        "/admin/custom-fields",
        {
            "record_type": "partner",
            "key": "brand",
            "label": "Značka traktorů",
            "field_type": "codebook",
            "codebook": "tractor_brand",
        },
    )
    assert ok.status_code == 302
    listing = client.get("/admin/custom-fields").get_data(as_text=True)
    assert "Custom field added." in flashes(listing) and "Značka traktorů" in listing
    dup = post_form(
        client,
        "/admin/custom-fields",
        {"record_type": "partner", "key": "brand", "label": "Jiná", "field_type": "text"},
    )
    assert dup.status_code == 422
    assert "this record type has a field with this key" in dup.get_data(as_text=True)

    login(client, world.sales_a)
    form = client.get(f"/partners/{zatec.id}/edit").get_data(as_text=True)
    assert "Značka traktorů" in form
    assert offered(form, "custom.brand") == ["—", "Zetor", "John Deere"]
    zetor = entry(database, "tractor_brand", "Zetor").id
    saved = post_form(
        client,
        f"/partners/{zatec.id}/edit",
        {"name": "Agro Žatec", "status": "active", "custom.brand": str(zetor)},
    )
    assert saved.status_code == 302
    assert "Zetor" in text(client.get(f"/partners/{zatec.id}").get_data(as_text=True))

    partner_list = client.get("/partners/").get_data(as_text=True)
    assert offered(partner_list, "custom.brand") == ["All", "Zetor", "John Deere"]
    filtered = client.get(f"/partners/?custom.brand={zetor}").get_data(as_text=True)
    assert "Agro Žatec" in filtered and "Statek Kroměříž" not in filtered
    assert "1 record ·" in filtered
    deere = client.get("/partners/?custom.brand=John Deere").get_data(as_text=True)
    assert "Agro Žatec" not in deere and "0 records" in deere

    login(client, world.admin)
    field_id = next(f.id for f in _fields(database))
    removed = post_form(client, f"/admin/custom-fields/{field_id}/delete", {})
    assert removed.status_code == 302
    assert "Značka traktorů" not in client.get(f"/partners/{zatec.id}/edit").get_data(as_text=True)
    with database.session() as s:
        agro = s.get(Partner, zatec.id)
        assert agro is not None and agro.custom == {"brand": zetor}  # values stay


def _fields(database: Database) -> list[CustomField]:
    with database.session() as s:
        return codebooks.custom_fields(s)


def test_a_required_custom_field_is_required_on_the_form(
    client: FlaskClient, world: World, database: Database
) -> None:
    login(client, world.admin)
    made = post_form(
        client,
        "/admin/custom-fields",
        {
            "record_type": "person",
            "key": "shoe_size",
            "label": "Velikost bot",
            "field_type": "number",
            "required": "1",
        },
    )
    assert made.status_code == 302
    with database.session() as s:
        partner = partners.create(s, world.admin, {"name": "Obuv Zlín"})
    url = f"/persons/new?partner_id={partner.id}"
    missing = post_form(client, url, {"partner_id": partner.id, "name": "Tomáš Baťa"})
    assert missing.status_code == 422
    assert 'id="f-custom-shoe_size-err">is required<' in missing.get_data(as_text=True)
    wrong = post_form(
        client, url, {"partner_id": partner.id, "name": "Tomáš Baťa", "custom.shoe_size": "velká"}
    )
    assert 'id="f-custom-shoe_size-err">must be a number<' in wrong.get_data(as_text=True)
    ok = post_form(
        client, url, {"partner_id": partner.id, "name": "Tomáš Baťa", "custom.shoe_size": "44"}
    )
    assert ok.status_code == 302
    assert "Velikost bot 44" in text(client.get(ok.headers["Location"]).get_data(as_text=True))


def test_add_and_edit_users(client: FlaskClient, world: World, database: Database) -> None:
    group_a, group_b = world.sales_a.group_ids[0], world.sales_b.group_ids[0]
    with database.session() as s:
        partners.create(s, world.sales_b, {"name": "Budowa Kraków"})
    login(client, world.admin)
    page = client.get("/admin/users").get_data(as_text=True)
    assert "Jana Nováková" in page and "jana@firma.cz" in page and "Tým A" in page

    no_group = post_form(client, "/admin/users", {"email": "nova@firma.cz", "name": "Nová"})
    assert no_group.status_code == 422
    assert "choose at least one group" in no_group.get_data(as_text=True)
    bad = post_form(
        client,
        "/admin/users",
        {
            "email": "nova@",
            "name": "",
            "role": "boss",
            "group_ids": str(group_a),
            "password": "krátké",
        },
    )
    assert bad.status_code == 422
    page = bad.get_data(as_text=True)
    assert beside(page, "u-email") == "is not an email address"
    assert beside(page, "u-name") == "must be 1 to 200 characters"
    assert beside(page, "u-role") == "must be one of admin, manager, sales"
    assert beside(page, "u-password") == "must have at least 8 characters"
    assert 'value="nova@"' in page
    assert count(database, User) == 5

    made = post_form(
        client,
        "/admin/users",
        {
            "email": "Nova@Firma.cz",
            "name": "Nová Kolegyně",
            "role": "sales",
            "group_ids": str(group_a),
            "password": "heslo-2026",
            "language": "cs",
        },
    )
    assert made.status_code == 302
    assert "User added." in flashes(client.get("/admin/users").get_data(as_text=True))
    dup = post_form(
        client,
        "/admin/users",
        {"email": "nova@firma.cz", "name": "X", "role": "sales", "group_ids": str(group_a)},
    )
    assert dup.status_code == 422 and "already exists" in dup.get_data(as_text=True)
    with database.session() as s:
        nova = s.scalar(select(User).where(User.email == "nova@firma.cz"))
        assert nova is not None and nova.language == "cs" and nova.group_ids == [group_a]

    url = f"/admin/users/{nova.id}"
    form = client.get(url).get_data(as_text=True)
    assert "nova@firma.cz" in form and 'value="Nová Kolegyně"' in form
    tampered = post_form(
        client,
        url,
        {"name": "Nová Kolegyně", "role": "sales", "group_ids": "Tým A", "active": "1"},
    )
    assert tampered.status_code == 422
    assert "contains an unknown group" in tampered.get_data(as_text=True)
    short = post_form(
        client,
        url,
        {"name": "Nová", "role": "sales", "group_ids": str(group_a), "password": "abc"},
    )
    assert short.status_code == 422
    assert beside(short.get_data(as_text=True), "password") == "must have at least 8 characters"
    moved = post_form(
        client,
        url,
        {
            "name": "Nová Kolegyně",
            "role": "manager",
            "language": "en",
            "group_ids": str(group_b),
            "active": "1",
            "password": "nové-heslo-2027",
        },
    )
    assert moved.status_code == 302
    assert "User saved." in flashes(client.get("/admin/users").get_data(as_text=True))
    other = client.application.test_client()
    login(other, "nova@firma.cz", "nové-heslo-2027")
    assert "Budowa Kraków" in other.get("/partners/").get_data(as_text=True)
    assert other.get("/admin/users").status_code == 403

    # saving without the "active" box deactivates her: she is logged out and cannot log in
    post_form(
        client,
        url,
        {"name": "Nová Kolegyně", "role": "manager", "language": "en", "group_ids": str(group_b)},
    )
    assert other.get("/partners/").status_code == 302
    other.get("/login")
    refused = post_form(other, "/login", {"email": "nova@firma.cz", "password": "nové-heslo-2027"})
    assert refused.status_code == 401
    users_page = text(client.get("/admin/users").get_data(as_text=True))
    assert "Nová Kolegyně nova@firma.cz manager Tým B no" in users_page

    own = post_form(
        client,
        f"/admin/users/{world.admin.id}",
        {"name": "Alena Adminová", "role": "sales", "active": "1"},
    )
    assert own.status_code == 422
    assert "you cannot take away your own admin rights" in own.get_data(as_text=True)
    assert client.get("/admin/users/999999").status_code == 404


def test_groups_and_owner_companies(client: FlaskClient, world: World, database: Database) -> None:
    login(client, world.admin)
    company = post_form(client, "/admin/owner-companies", {"name": "Dossier Polska sp. z o.o."})
    assert company.status_code == 302 and company.headers["Location"] == "/admin/users#groups"
    page = client.get("/admin/users").get_data(as_text=True)
    assert "Owner company added." in flashes(page) and "Dossier Polska sp. z o.o." in page
    for bad, message in (
        ("", "must be 1 to 200 characters"),
        ("Dossier Polska sp. z o.o.", "an owner company of this name exists"),
    ):
        response = post_form(client, "/admin/owner-companies", {"name": bad})
        assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert count(database, OwnerCompany) == 1

    with database.session() as s:
        polska = s.scalar(select(OwnerCompany.id))
    group = post_form(
        client, "/admin/groups", {"name": "Tým Kraków", "owner_company_id": str(polska)}
    )
    assert group.status_code == 302
    page = client.get("/admin/users").get_data(as_text=True)
    assert "Group added." in flashes(page)
    assert "Tým Kraków · Dossier Polska sp. z o.o." in text(page)
    for bad, message in (
        ("", "must be 1 to 200 characters"),
        ("Tým A", "a group of this name exists"),
    ):
        response = post_form(client, "/admin/groups", {"name": bad})
        assert response.status_code == 422 and message in response.get_data(as_text=True)
    unknown = post_form(client, "/admin/groups", {"name": "Tým Z", "owner_company_id": "999999"})
    assert unknown.status_code == 422
    assert "no such owner company" in unknown.get_data(as_text=True)
    with database.session() as s:
        assert sorted(s.scalars(select(Group.name))) == ["Tým A", "Tým B", "Tým Kraków", "Vedení"]
        krakow = s.scalar(select(Group).where(Group.name == "Tým Kraków"))
        assert krakow is not None and krakow.owner_company_id == polska
    made = post_form(
        client,
        "/admin/users",
        {
            "email": "ola@firma.pl",
            "name": "Ola Nowak",
            "role": "sales",
            "group_ids": str(krakow.id),
        },
    )
    assert made.status_code == 302
    assert "Tým Kraków" in text(client.get("/admin/users").get_data(as_text=True))


@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("/admin/codebooks", {"codebook": "region", "label": "Morava"}),
        ("/admin/codebooks/{lead}", {"label": "Poptávka", "probability": "50"}),
        ("/admin/codebooks/{lead}", {"active": "0"}),
        (
            "/admin/custom-fields",
            {"record_type": "partner", "key": "x", "label": "X", "field_type": "text"},
        ),
        ("/admin/custom-fields/{field}/delete", {}),
        ("/admin/users", {"email": "x@firma.cz", "name": "X", "role": "admin", "group_ids": "1"}),
        ("/admin/users/{jana}", {"name": "X", "role": "admin", "active": "1"}),
        ("/admin/groups", {"name": "Tým X"}),
        ("/admin/owner-companies", {"name": "X s.r.o."}),
    ],
)
def test_forms_refuse_a_missing_csrf_token(
    client: FlaskClient, world: World, database: Database, url: str, data: dict[str, str]
) -> None:
    with database.session() as s:
        field = codebooks.add_custom_field(
            s,
            world.admin,
            {
                "record_type": "deal",
                "key": "order_no",
                "label": "Číslo zakázky",
                "field_type": "text",
            },
        )
    lead = entry(database, "deal_stage", "Lead")
    snapshot = (
        count(database, CodebookEntry),
        count(database, CustomField),
        count(database, User),
        count(database, Group),
        count(database, OwnerCompany),
    )
    login(client, world.admin)
    response = client.post(
        url.format(lead=lead.id, field=field.id, jana=world.sales_a.id), data=data
    )
    assert response.status_code == 400 and "CSRF" in response.get_data(as_text=True)
    assert (
        count(database, CodebookEntry),
        count(database, CustomField),
        count(database, User),
        count(database, Group),
        count(database, OwnerCompany),
    ) == snapshot
    after = entry(database, "deal_stage", "Lead")
    assert (after.active, after.probability) == (True, 10)
    with database.session() as s:
        jana = s.get(User, world.sales_a.id)
        assert jana is not None and (jana.name, jana.role) == ("Jana Nováková", "sales")
