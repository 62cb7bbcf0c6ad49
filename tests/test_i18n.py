"""The UI speaks Czech, Slovak and Polish completely: every string the code shows has a
translation in each catalog, and each language formats dates and amounts its own way."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from flask.testing import FlaskClient

from crm.db import Database
from crm.services import users
from crm.services.deals import deals
from crm.services.partners import partners
from tests.conftest import REPO, World, login, post_form
from web.i18n import LANGUAGES

CATALOGS = REPO / "web" / "translations"


def test_every_language_a_user_may_choose_has_a_catalog_and_a_name() -> None:
    assert tuple(LANGUAGES) == users.LANGUAGES
    translated = sorted(p.name for p in CATALOGS.iterdir() if (p / "LC_MESSAGES").is_dir())
    assert translated == sorted(set(users.LANGUAGES) - {"en"})


@pytest.mark.parametrize("language", ["cs", "sk", "pl"])
def test_every_ui_string_has_a_translation(tmp_path: Path, language: str) -> None:
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_",
            "-k",
            "gettext",
            "-k",
            "N_",
            "-k",
            "Text",
            "-k",
            "FieldSpec:2",
            "-o",
            str(pot),
            ".",
        ],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as fh:
        wanted = {m.id for m in read_po(fh) if m.id}
    with (CATALOGS / language / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        # a fuzzy entry is not compiled, so it counts as missing
        catalog = {m.id: m.string for m in read_po(fh) if m.id and not m.fuzzy}
    missing = sorted(str(i) for i in wanted if not catalog.get(i) or not all(_forms(catalog[i])))
    assert missing == [], "run `make translations-update` and translate: " + ", ".join(missing)


def _forms(string: str | tuple[str, ...]) -> tuple[str, ...]:
    """A plural entry has a string per form: each must be there."""
    return (string,) if isinstance(string, str) else tuple(string)


def a_deal_due_on_christmas_eve(
    database: Database, world: World, partner: str, currency: str
) -> None:
    """A deal of 1 250 000.50 due 24 Dec 2026: how each language writes the amount and date."""
    with database.session() as s:
        p = partners.create(s, world.sales_a, {"name": partner})
        deals.create(
            s,
            world.sales_a,
            {
                "title": "Sklad",
                "partner_id": p.id,
                "value": "1250000.5",
                "currency": currency,
                "expected_close": "2026-12-24",
            },
        )


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_czech_user_sees_czech_words_dates_and_amounts(
    client: FlaskClient, world: World, database: Database
) -> None:
    a_deal_due_on_christmas_eve(database, world, "Agro Žatec", "CZK")
    login(client, world.sales_a)
    post_form(client, "/language", {"language": "cs"})
    page = client.get("/deals/").get_data(as_text=True)
    assert "Obchody" in page and "Předpokládané uzavření" in page
    assert "1\xa0250\xa0000,50\xa0Kč" in page
    assert "24. 12. 2026" in page
    bad = post_form(client, "/partners/new", {"name": ""}).get_data(as_text=True)
    assert "je povinné" in bad
    post_form(client, "/language", {"language": "en"})
    page = client.get("/deals/").get_data(as_text=True)
    assert "CZK\xa01,250,000.50" in page or "CZK1,250,000.50" in page
    assert "24 Dec 2026" in page


EUROS = "1\xa0250\xa0000,50\xa0€"  # the deal's value, in Slovak and in Polish


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("language", "words", "amount", "day", "required"),
    [
        (
            "sk",
            ["Obchody", "Predpokladané uzavretie"],
            "1\xa0250\xa0000,50\xa0€",
            "24. 12. 2026",
            "je povinné",
        ),
        (
            "pl",
            ["Szanse sprzedaży", "Przewidywana data zamknięcia"],
            "1\xa0250\xa0000,50\xa0€",
            "24 gru 2026",
            "wymagane",
        ),
    ],
)
def test_slovak_and_polish_users_read_their_language_dates_and_amounts(
    client: FlaskClient,
    world: World,
    database: Database,
    language: str,
    words: list[str],
    amount: str,
    day: str,
    required: str,
) -> None:
    a_deal_due_on_christmas_eve(database, world, "Poľnohospodárske družstvo", "EUR")
    login(client, world.sales_a)
    post_form(client, "/language", {"language": language})
    page = client.get("/deals/").get_data(as_text=True)
    assert all(word in page for word in words)
    assert amount in page and day in page
    assert f'<html lang="{language}"' in page
    bad = post_form(client, "/partners/new", {"name": ""}).get_data(as_text=True)
    assert required in bad


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("accept", "login_title"),
    [
        ("sk-SK,sk;q=0.9", "Prihlásenie"),
        ("pl-PL,pl;q=0.9,en;q=0.5", "Zaloguj"),
        ("de-DE", "Log in"),
    ],
)
def test_before_sign_in_the_browsers_language_is_used(
    client: FlaskClient, accept: str, login_title: str
) -> None:
    page = client.get("/login", headers={"Accept-Language": accept}).get_data(as_text=True)
    assert login_title in page


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("language", "phone", "domain"),
    [
        ("cs", "„12“ není telefonní číslo", "gmail.com je veřejná poštovní doména"),
        ("sk", "„12“ nie je telefónne číslo", "gmail.com je verejná poštová doména"),
        ("pl", "„12” nie jest numerem telefonu", "gmail.com to publiczna domena pocztowa"),
    ],
)
def test_a_message_naming_the_bad_value_is_in_the_users_language(
    client: FlaskClient, world: World, database: Database, language: str, phone: str, domain: str
) -> None:
    """The form names the value in the user's language; the API keeps its English text."""
    with database.session() as s:
        users.set_language(s, world.sales_a, language)
    login(client, world.sales_a)
    page = post_form(client, "/partners/new", {"name": "Pila Hůrka", "phones": "12"})
    assert page.status_code == 422 and phone in page.get_data(as_text=True)
    page = post_form(client, "/partners/new", {"name": "Pila Hůrka", "domains": "gmail.com"})
    assert page.status_code == 422 and domain in page.get_data(as_text=True)
    with database.session() as s:
        token = users.create_token(s, world.sales_a.email, "test")
    api = client.post(
        "/api/v1/partners",
        json={"name": "Pila Hůrka", "phones": ["12"]},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert api.get_json()["error"]["fields"] == {"phones": "“12” is not a phone number"}
