"""Codebook values and the titles the CRM writes are in the user's language (issue 10).

A Czech salesperson reads "Stavebnictví" where an English one reads "Construction", imports a
Czech file that says "Stavebnictví", and a meeting she plans is titled "Schůzka: …"; an admin
translates an entry on the codebook page, and the API lists every language's label.
"""

from __future__ import annotations

import io

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from crm.db import Database
from crm.models import Activity, CodebookEntry, Partner
from crm.services import users
from crm.services.activities import activities
from crm.services.deals import deals
from crm.services.partners import partners
from crm.wording import WORDS
from tests.conftest import World, login, post_form


def speaks(database: Database, world: World, language: str) -> None:
    with database.session() as s:
        users.set_language(s, world.sales_a, language)


@pytest.mark.parametrize(
    ("language", "industry", "stage"),
    [
        ("en", "Construction", "Offer sent"),
        ("cs", "Stavebnictví", "Nabídka odeslána"),
        ("sk", "Stavebníctvo", "Ponuka odoslaná"),
        ("pl", "Budownictwo", "Oferta wysłana"),
    ],
)
def test_lists_pages_and_forms_show_codebook_values_in_the_users_language(
    client: FlaskClient,
    world: World,
    database: Database,
    language: str,
    industry: str,
    stage: str,
) -> None:
    with database.session() as s:
        partner = partners.create(
            s, world.sales_a, {"name": "Stavby Příbram", "industry": "Construction"}
        )
        deal = deals.create(
            s, world.sales_a, {"title": "Hala", "partner_id": partner.id, "stage": "Offer sent"}
        )
    speaks(database, world, language)
    login(client, world.sales_a)
    listing = client.get("/partners/").get_data(as_text=True)
    assert f"<td>{industry}</td>" in listing
    assert f"<dd>{industry}</dd>" in client.get(f"/partners/{partner.id}").get_data(as_text=True)
    assert f"<td>{stage}</td>" in client.get("/deals/").get_data(as_text=True)
    form = client.get(f"/deals/{deal.id}/edit").get_data(as_text=True)
    assert f">{stage}</option>" in form
    if language != "en":
        assert "Offer sent" not in form and "Construction" not in listing


def test_a_czech_file_and_the_api_take_labels_in_any_language(
    client: FlaskClient, world: World, database: Database
) -> None:
    login(client, world.sales_a)
    csv = "Název;Obor\nKovárna Příbram;Stavebnictví\nPila Hůrka;budownictwo\n".encode("cp1250")
    report = post_form(
        client,
        "/partners/import",
        {"file": (io.BytesIO(csv), "firmy.csv")},
        content_type="multipart/form-data",
    ).get_data(as_text=True)
    assert "2 created, 0 updated, 0 refused" in report
    with database.session(write=False) as s:
        industries = {
            p.name: p.industry.label if p.industry else None for p in s.scalars(select(Partner))
        }
    assert industries == {"Kovárna Příbram": "Construction", "Pila Hůrka": "Construction"}


def test_an_admin_translates_an_entry_and_users_read_the_translation(
    client: FlaskClient, world: World, database: Database
) -> None:
    with database.session() as s:
        entry = s.scalars(
            select(CodebookEntry).where(
                CodebookEntry.codebook == "industry", CodebookEntry.label == "Retail"
            )
        ).one()
        partners.create(s, world.sales_a, {"name": "Obchod U Nádraží", "industry": "Retail"})
    login(client, world.admin)
    page = client.get("/admin/codebooks").get_data(as_text=True)
    assert 'name="label_cs" value="Maloobchod"' in page
    saved = post_form(
        client,
        f"/admin/codebooks/{entry.id}",
        {"label": "Retail", "position": "3", "label_cs": "Prodejny", "label_sk": ""},
    )
    assert saved.status_code == 302
    too_long = post_form(client, f"/admin/codebooks/{entry.id}", {"label_pl": "x" * 201})
    assert "must be at most 200 characters" in too_long.get_data(as_text=True)
    with database.session(write=False) as s:
        stored = s.get(CodebookEntry, entry.id)
        assert stored is not None
        assert stored.labels == {"cs": "Prodejny", "pl": "Handel detaliczny"}  # sk removed
    speaks(database, world, "cs")
    login(client, world.sales_a)
    assert "<td>Prodejny</td>" in client.get("/partners/").get_data(as_text=True)
    speaks(database, world, "sk")
    assert "<td>Retail</td>" in client.get("/partners/").get_data(as_text=True)
    api = client.get("/api/v1/codebooks/industry", headers=_bearer(database, world)).get_json()
    retail = next(e for e in api["entries"] if e["label"] == "Retail")
    assert retail["labels"] == {"cs": "Prodejny", "pl": "Handel detaliczny"}


def _bearer(database: Database, world: World) -> dict[str, str]:
    with database.session() as s:
        return {"Authorization": f"Bearer {users.create_token(s, world.sales_a.email, 'test')}"}


@pytest.mark.parametrize(
    ("language", "meeting", "closing", "lost"),
    [
        ("en", "Meeting: Hala", "Close: Hala", "LOST – Price"),
        ("cs", "Schůzka: Hala", "Uzavření: Hala", "PROHRÁNO – Cena"),
        ("sk", "Stretnutie: Hala", "Uzavretie: Hala", "PREHRANÉ – Cena"),
        ("pl", "Spotkanie: Hala", "Zamknięcie: Hala", "PRZEGRANA – Cena"),
    ],
)
def test_deal_actions_write_their_titles_in_the_actors_language(
    client: FlaskClient,
    world: World,
    database: Database,
    language: str,
    meeting: str,
    closing: str,
    lost: str,
) -> None:
    speaks(database, world, language)
    with database.session() as s:
        partner = partners.create(s, world.sales_a, {"name": "Agro Žatec"})
        deal = deals.create(s, world.sales_a, {"title": "Hala", "partner_id": partner.id})
    login(client, world.sales_a)
    form = client.get(f"/deals/{deal.id}/actions/meeting").get_data(as_text=True)
    assert f'value="{meeting}"' in form
    with database.session() as s:
        actor = users.get_user(s, world.sales_a.id)
        planned, _ = activities.deal_action(
            s, actor, deal.id, "meeting", {"due_date": "2027-01-05"}
        )
        note, _ = activities.deal_action(
            s, actor, deal.id, "close", {"status": "lost", "close_reason": "Price"}
        )
        assert (planned.title, note.title) == (meeting, closing)
        assert note.note.startswith(lost)
        follow_up = activities.update(s, actor, planned.id, {"next_contact_date": "2027-01-12"}).id
        task = s.scalars(
            select(Activity).where(Activity.kind == "task").order_by(Activity.id.desc())
        ).first()
        assert task is not None and follow_up is not None
        next_contact = {"en": "Next contact", **WORDS["Next contact"]}
        assert task.title == f"{next_contact[language]}: {meeting}"
