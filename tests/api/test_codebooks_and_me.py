"""GET /api/v1/codebooks, /api/v1/codebooks/{name} and /api/v1/me."""

from __future__ import annotations

from crm.db import Database
from crm.services import codebooks
from tests.api.conftest import Api, ApiFor
from tests.conftest import World


def test_codebooks_list_every_codebook_with_entries(api: Api, world: World) -> None:
    listed = api.get("/api/v1/codebooks").get_json()["items"]
    names = {c["name"]: c for c in listed}
    assert {"partner_kind", "region", "deal_stage", "close_reason"} <= set(names)
    assert names["deal_stage"]["label"] == "Pipeline stage"
    stages = names["deal_stage"]["entries"]
    assert [(e["label"], e["probability"]) for e in stages][:2] == [("Lead", 10), ("Qualified", 25)]
    assert set(stages[0]) == {"id", "label", "labels", "active", "probability", "position"}
    assert stages[2]["labels"] == {
        "cs": "Nabídka odeslána",
        "sk": "Ponuka odoslaná",
        "pl": "Oferta wysłana",
    }
    assert [e["label"] for e in names["region"]["entries"]] == ["Tuzemsko", "Zahraničí"]


def test_one_codebook_shows_retired_entries_too(api: Api, world: World, database: Database) -> None:
    with database.session() as s:
        added = codebooks.add_entry(s, world.admin, "region", {"label": "Slezsko"})
        codebooks.update_entry(s, world.admin, added.id, {"active": False})
        codebooks.add_entry(s, world.admin, "zdroj_kontaktu", {"label": "Veletrh Brno"})
    region = api.get("/api/v1/codebooks/region").get_json()
    assert region["name"] == "region"
    assert [(e["label"], e["active"]) for e in region["entries"]] == [
        ("Tuzemsko", True),
        ("Zahraničí", True),
        ("Slezsko", False),
    ]
    own = api.get("/api/v1/codebooks/zdroj_kontaktu").get_json()
    assert own["label"] == "Zdroj kontaktu" and own["entries"][0]["label"] == "Veletrh Brno"
    missing = api.get("/api/v1/codebooks/neexistuje")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"


def test_me_is_the_tokens_user(api_for: ApiFor, world: World) -> None:
    me = api_for(world.sales_b).get("/api/v1/me").get_json()
    assert me == {
        "id": world.sales_b.id,
        "email": "zofia@firma.pl",
        "name": "Zofia Wójcik",
        "role": "sales",
        "language": "en",
        "groups": [{"id": world.sales_b.group_ids[0], "name": "Tým B"}],
    }
