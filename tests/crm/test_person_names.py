"""Persons' names in parts: the split of a name typed whole, the API, sorting and the migration."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from flask.testing import FlaskClient

from crm.db import Database, alembic_config
from crm.errors import ValidationError
from crm.person_names import NameParts, display_name, split_name
from crm.services.partners import partners
from crm.services.persons import persons
from crm.services.records import ListQuery
from crm.services.users import create_token
from crm.settings import Settings
from tests.api.conftest import Api
from tests.conftest import World


@pytest.mark.parametrize(
    "name, parts",
    [
        ("Ing. Jan Novák, Ph.D.", NameParts("Ing.", "Jan", "Novák", "Ph.D.")),
        ("doc. Ing. Petr Svoboda CSc.", NameParts("doc. Ing.", "Petr", "Svoboda", "CSc.")),
        ("Marie Nováková", NameParts("", "Marie", "Nováková", "")),
        ("Jan Pavel  Dvořák", NameParts("", "Jan Pavel", "Dvořák", "")),
        ("Madonna", NameParts("", "", "Madonna", "")),
        ("Novák, Jan", NameParts("", "", "Novák, Jan", "")),
        ("J. R. R. Tolkien", NameParts("", "", "J. R. R. Tolkien", "")),
        ("Ing.", NameParts("", "", "Ing.", "")),
    ],
)
def test_split(name: str, parts: NameParts) -> None:
    assert split_name(name) == parts


def test_display_name() -> None:
    assert display_name(NameParts("Ing.", "Jan", "Novák", "Ph.D.")) == "Ing. Jan Novák, Ph.D."
    assert display_name(NameParts(last_name="Madonna")) == "Madonna"


def test_the_service_takes_parts_or_a_whole_name(database: Database, world: World) -> None:
    with database.session() as s:
        partner = partners.create(s, world.sales_a, {"name": "Stavby Příbram s.r.o."})
        whole = persons.create(
            s, world.sales_a, {"partner_id": partner.id, "name": "Ing. Jan Novák, Ph.D."}
        )
        parts = persons.create(
            s,
            world.sales_a,
            {"partner_id": partner.id, "first_name": "Marie", "last_name": "Nováková"},
        )
        chosen = persons.create(
            s,
            world.sales_a,
            {
                "partner_id": partner.id,
                "title_before": "Ing.",
                "first_name": "Pavel",
                "last_name": "Dvořák",
                "salutation": "Vážený pane inženýre",
            },
        )
        s.commit()
        assert (whole.title_before, whole.first_name, whole.last_name, whole.title_after) == (
            "Ing.",
            "Jan",
            "Novák",
            "Ph.D.",
        )
        assert whole.salutation == "Vážený pane Nováku"
        assert parts.name == "Marie Nováková"
        assert parts.salutation == "Vážená paní Nováková"
        assert chosen.name == "Ing. Pavel Dvořák"
        assert chosen.salutation == "Vážený pane inženýre"  # the user's choice is kept
        persons.update(s, world.sales_a, parts.id, {"first_name": "Marta"}, partial=True)
        assert parts.name == "Marta Nováková"
        with pytest.raises(ValidationError) as err:
            persons.create(s, world.sales_a, {"partner_id": partner.id, "first_name": "Jan"})
        assert "last_name" in err.value.errors


def test_lists_sort_by_last_name_then_first_name(database: Database, world: World) -> None:
    with database.session() as s:
        partner = partners.create(s, world.sales_a, {"name": "Agro Žatec a.s."})
        for name in ("Zdeněk Čermák", "Ing. Adam Zeman", "Bohumil Cibulka", "Adéla Čermáková",
                     "Alois Čermák"):  # fmt: skip
            persons.create(s, world.sales_a, {"partner_id": partner.id, "name": name})
        s.commit()
        page = persons.list(s, world.sales_a, ListQuery({"partner_id": str(partner.id)}))
        # Accents fold like every *_key column (Č sorts with C), titles do not count.
        assert [p.name for p in page.items] == [
            "Alois Čermák",
            "Zdeněk Čermák",
            "Adéla Čermáková",
            "Bohumil Cibulka",
            "Ing. Adam Zeman",
        ]
        found = persons.list(s, world.sales_a, ListQuery({"q": "cermak"}))
        assert {p.name for p in found.items} == {"Alois Čermák", "Zdeněk Čermák", "Adéla Čermáková"}


def test_api_accepts_name_and_parts_and_answers_both(
    client: FlaskClient, database: Database, world: World
) -> None:
    with database.session() as s:
        api = Api(client, create_token(s, world.sales_a.email, "tests"))
    partner = api.post("/api/v1/partners", {"name": "Stavby Příbram s.r.o."}).get_json()
    by_name = api.post("/api/v1/persons", {"partner_id": partner["id"], "name": "Mgr. Eva Černá"})
    assert by_name.status_code == 201, by_name.get_json()
    body = by_name.get_json()
    assert (body["name"], body["title_before"], body["first_name"], body["last_name"]) == (
        "Mgr. Eva Černá",
        "Mgr.",
        "Eva",
        "Černá",
    )
    assert body["salutation"] == "Vážená paní Černá"
    by_parts = api.post(
        "/api/v1/persons",
        {"partner_id": partner["id"], "first_name": "Jiří", "last_name": "Němec"},
    ).get_json()
    assert (by_parts["name"], by_parts["salutation"]) == ("Jiří Němec", "Vážený pane Němče")
    renamed = api.patch(f"/api/v1/persons/{by_parts['id']}", {"name": "Jiří Němec, MBA"})
    assert renamed.get_json()["title_after"] == "MBA"
    missing = api.post("/api/v1/persons", {"partner_id": partner["id"]})
    assert missing.status_code == 422
    assert "last_name" in missing.get_data(as_text=True)
    listed = api.get("/api/v1/persons", partner_id=partner["id"]).get_json()
    assert [p["last_name"] for p in listed["items"]] == ["Černá", "Němec"]


def test_migration_splits_existing_names(settings: Settings) -> None:
    """Names stored whole before 0009 come out in parts, and the whole name stays."""
    db = Database(settings)
    cfg = alembic_config(db)
    command.downgrade(cfg, "crm@0008")
    names = ["Ing. Jan Novák, Ph.D.", "Marie Nováková", "Madonna", "doc. MUDr. Petr Král CSc."]
    with db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO partners (name, name_key, status, street, city, postal_code,"
                " country, phones, emails, web, company_id, vat_id, note, custom, private,"
                " created_at, updated_at) VALUES ('P', 'p', 'active', '', '', '', '', '[]',"
                " '[]', '', '', '', '', '{}', false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
        partner_id = conn.execute(sa.text("SELECT id FROM partners")).scalar()
        for name in names:
            conn.execute(
                sa.text(
                    "INSERT INTO persons (partner_id, name, name_key, function, emails, phones,"
                    " notes, custom, created_at, updated_at) VALUES (:p, :name, '', '', '[]',"
                    " '[]', '', '{}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {"p": partner_id, "name": name},
            )
    command.upgrade(cfg, "heads")
    with db.engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT name, title_before, first_name, last_name, title_after, last_name_key"
                " FROM persons ORDER BY id"
            )
        ).all()
    db.dispose()
    assert [tuple(r) for r in rows] == [
        ("Ing. Jan Novák, Ph.D.", "Ing.", "Jan", "Novák", "Ph.D.", "novak jan"),
        ("Marie Nováková", "", "Marie", "Nováková", "", "novakova marie"),
        ("Madonna", "", "", "Madonna", "", "madonna"),
        ("doc. MUDr. Petr Král CSc.", "doc. MUDr.", "Petr", "Král", "CSc.", "kral petr"),
    ]
