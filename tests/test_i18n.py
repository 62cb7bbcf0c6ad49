"""The UI speaks Czech completely: every string the code shows has a translation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from flask.testing import FlaskClient

from crm.db import Database
from crm.services.deals import deals
from crm.services.partners import partners
from tests.conftest import REPO, World, login, post_form

CATALOG = REPO / "web" / "translations" / "cs" / "LC_MESSAGES" / "messages.po"


def test_every_ui_string_has_a_czech_translation(tmp_path: Path) -> None:
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
    with CATALOG.open("rb") as fh:
        # a fuzzy entry is not compiled, so it counts as missing
        czech = {m.id: m.string for m in read_po(fh) if m.id and not m.fuzzy}
    missing = sorted(i for i in wanted if not czech.get(i) or czech[i] == "")
    assert missing == [], "run `make translations-update` and translate: " + ", ".join(missing)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_czech_user_sees_czech_words_dates_and_amounts(
    client: FlaskClient, world: World, database: Database
) -> None:
    with database.session() as s:
        p = partners.create(s, world.sales_a, {"name": "Agro Žatec"})
        deals.create(
            s,
            world.sales_a,
            {
                "title": "Sklad",
                "partner_id": p.id,
                "value": "1250000.5",
                "currency": "CZK",
                "expected_close": "2026-12-24",
            },
        )
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
