"""What /api/v1/messages tells a salesperson about mail of other teams (issue 8, findings 1, 2
and 13), tried as Jana Nováková (Tým A) would: forging a copy of Zofia's (Tým B) order, tagging
and threading mail into Tým B's deals, reading links to records she cannot see, and keeping
mail she uploaded after its partner left her sight."""

from __future__ import annotations

import json
from typing import Any

import pytest

from crm.db import Database
from crm.services.deals import deals
from crm.services.partners import partners
from mail_archive.models import MessageSource
from tests.api.conftest import ApiFor
from tests.conftest import World, count
from tests.hostile_mail import TEAM_B_ORDER_ID, team_b_order
from tests.mail_archive.conftest import Dossier, Ingest, imap_source
from tests.mailfactory import make_mail

RFC822 = {"content_type": "message/rfc822"}


ORDER = team_b_order("Zamawiamy 40 t mleka w proszku, cena 9 800 EUR/t.\n")


def post_raw(api_for: ApiFor, user: Any, raw: bytes, **query: object) -> Any:
    return api_for(user).raw("POST", "/api/v1/messages", data=raw, query_string=query, **RFC822)


@pytest.fixture
def hidden(api_for: ApiFor, world: World, dossier: Dossier) -> int:
    """Zofia's order, filed to Mlékárna Kraków (Tým B)."""
    answer = post_raw(api_for, world.sales_b, ORDER, partner_id=dossier.other_partner_id)
    assert answer.status_code == 201, answer.get_json()
    return int(answer.get_json()["id"])


def unreadable(api_for: ApiFor, user: Any, message_id: int) -> bool:
    api = api_for(user)
    answers = [
        api.get(f"/api/v1/messages/{message_id}"),
        api.get(f"/api/v1/messages/{message_id}/raw"),
        api.get(f"/api/v1/messages/{message_id}/attachments/0"),
    ]
    listed = api.get("/api/v1/messages", per_page=500).get_json()["items"]
    triage = api.get("/api/v1/messages", status="triage").get_json()["items"]
    for a in answers:
        a.close()
    return all(a.status_code == 404 for a in answers) and message_id not in {
        m["id"] for m in [*listed, *triage]
    }


def linked(body: dict[str, Any]) -> set[tuple[str, int]]:
    return {(link["record_type"], link["record_id"]) for link in body["links"]}


def test_a_forged_copy_reads_nothing_of_the_hidden_message(
    api_for: ApiFor, world: World, dossier: Dossier, hidden: int
) -> None:
    forged = team_b_order("cokoli")
    answer = post_raw(api_for, world.sales_a, forged, partner_id=dossier.partner_id)
    assert answer.status_code == 201
    body = answer.get_json()
    assert body["id"] != hidden and body["duplicate"] is False
    assert linked(body) == {("partner", dossier.partner_id)}
    assert unreadable(api_for, world.sales_a, hidden)
    mine = api_for(world.sales_a).get(f"/api/v1/messages/{body['id']}").get_json()
    assert mine["text"].strip() == "cokoli"
    raw = api_for(world.sales_a).get(f"/api/v1/messages/{body['id']}/raw")
    assert raw.data == forged and b"tajny" not in raw.data
    raw.close()
    # Zofia's message is as it was: her link only, her copy only
    theirs = api_for(world.sales_b).get(f"/api/v1/messages/{hidden}").get_json()
    assert linked(theirs) == {("partner", dossier.other_partner_id)}
    assert theirs["sources"] == [{"kind": "api", "folder": None}]
    # a second forged copy is another copy of her first one, never of the hidden one
    again = post_raw(api_for, world.sales_a, team_b_order("jiný text")).get_json()
    assert again["id"] == body["id"] and again["duplicate"] is True
    assert linked(again) == {("partner", dossier.partner_id)}


def test_the_very_bytes_of_a_hidden_message_name_nothing(
    api_for: ApiFor, world: World, dossier: Dossier, hidden: int, database: Database
) -> None:
    answer = post_raw(api_for, world.sales_a, ORDER)
    assert answer.status_code == 409
    assert str(hidden) not in json.dumps(answer.get_json()["error"])
    assert count(database, MessageSource) == 1  # nothing written
    assert unreadable(api_for, world.sales_a, hidden)
    # filed to a partner of hers, it is her mail too; she sees only her own link
    answer = post_raw(api_for, world.sales_a, ORDER, partner_id=dossier.partner_id)
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["duplicate"] is True and linked(body) == {("partner", dossier.partner_id)}
    detail = api_for(world.sales_a).get(f"/api/v1/messages/{hidden}").get_json()
    assert linked(detail) == {("partner", dossier.partner_id)}
    assert {link["by"] for link in detail["links"]} == {world.sales_a.email}
    # ... and Zofia sees only hers
    theirs = api_for(world.sales_b).get(f"/api/v1/messages/{hidden}").get_json()
    assert linked(theirs) == {("partner", dossier.other_partner_id)}


def test_tags_and_replies_do_not_file_into_hidden_deals_and_threads(
    api_for: ApiFor, world: World, dossier: Dossier, hidden: int, database: Database
) -> None:
    with database.session() as s:
        theirs = [
            deals.create(s, world.sales_b, {"title": t, "partner_id": dossier.other_partner_id}).id
            for t in ("Mléko 2027", "Sýry 2027")
        ]
        colleagues = deals.create(
            s,
            world.sales_a2,
            {"title": "Petrův tajný obchod", "partner_id": dossier.partner_id, "private": True},
        ).id
    tags = " ".join(f"[D-{d}]" for d in [*theirs, colleagues])
    stranger = ("Neznámý", "nekdo@gmail.com")
    tagged = post_raw(api_for, world.sales_a, make_mail(subject=f"{tags} Dotaz", sender=stranger))
    assert tagged.get_json()["status"] == "triage" and tagged.get_json()["links"] == []
    reply = make_mail(subject="Re: Zamówienie 77", sender=stranger, in_reply_to=TEAM_B_ORDER_ID)
    answer = post_raw(api_for, world.sales_a, reply).get_json()
    assert answer["status"] == "triage" and answer["links"] == []
    detail = api_for(world.sales_a).get(f"/api/v1/messages/{answer['id']}").get_json()
    assert detail["thread"] == TEAM_B_ORDER_ID  # its own References, not the hidden thread's key
    # nothing reached Tým B's timeline or deals, nor Petr's deal
    zofia = api_for(world.sales_b)
    timeline = zofia.get(f"/api/v1/partners/{dossier.other_partner_id}/timeline").get_json()
    mail = [e["record_id"] for e in timeline["items"] if e["record_type"] == "message"]
    assert mail == [hidden]
    for deal_id in theirs:
        assert zofia.get("/api/v1/messages", deal_id=deal_id).get_json()["total"] == 0
    petr = api_for(world.sales_a2)
    assert petr.get("/api/v1/messages", deal_id=colleagues).get_json()["total"] == 0


def test_a_message_lists_only_the_links_its_reader_may_see(
    api_for: ApiFor, world: World, dossier: Dossier
) -> None:
    body = post_raw(
        api_for, world.admin, make_mail(subject="Společná dodávka"), partner_id=dossier.partner_id
    ).get_json()
    admin = api_for(world.admin)
    added = admin.post(
        f"/api/v1/messages/{body['id']}/links",
        {"record_type": "partner", "record_id": dossier.other_partner_id},
    )
    assert added.status_code == 201
    jana = api_for(world.sales_a).get(f"/api/v1/messages/{body['id']}").get_json()
    assert ("partner", dossier.other_partner_id) not in linked(jana)
    assert ("partner", dossier.partner_id) in linked(jana)
    zofia = api_for(world.sales_b).get(f"/api/v1/messages/{body['id']}").get_json()
    assert linked(zofia) == {("partner", dossier.other_partner_id)}


@pytest.mark.parametrize("change", ["private", "other group"])
def test_the_uploader_loses_mail_whose_partner_left_their_sight_the_mailbox_keeps_it(
    api_for: ApiFor,
    world: World,
    dossier: Dossier,
    database: Database,
    change: str,
) -> None:
    ingest = Ingest(database)
    with database.session() as s:
        petrs = partners.create(s, world.sales_a2, {"name": "Pekárna Beroun", "domains": "pek.cz"})
    mail = make_mail(
        subject="Objednávka rohlíků",
        sender=("Pekárna", "objednavky@pek.cz"),
        attachments=[("objednavka.pdf", "application/pdf", b"%PDF-1.4 rohliky")],
    )
    uploaded = post_raw(api_for, world.sales_a, mail).get_json()
    assert linked(uploaded) == {("partner", petrs.id)}
    # the same order in Jana's own mailbox (its own bytes: other Received headers)
    own = ingest(
        make_mail(subject="Objednávka chleba", sender=("Pekárna", "objednavky@pek.cz")),
        imap_source(world.sales_a.id, 1),
    )
    assert own.status == "archived"
    with database.session() as s:
        values: dict[str, Any] = {"private": True}
        if change == "other group":
            values = {"group_id": world.sales_b.group_ids[0], "salesperson_id": world.sales_b.id}
        actor = world.sales_a2 if change == "private" else world.admin
        partners.update(s, s.merge(actor), petrs.id, values)
    assert unreadable(api_for, world.sales_a, uploaded["id"])
    # her own mailbox's mail stays hers
    api = api_for(world.sales_a)
    assert api.get(f"/api/v1/messages/{own.message_id}").status_code == 200
    assert own.message_id in {m["id"] for m in api.get("/api/v1/messages").get_json()["items"]}
    # who may see the partner still sees both
    keeper = world.sales_a2 if change == "private" else world.sales_b
    assert api_for(keeper).get(f"/api/v1/messages/{uploaded['id']}").status_code == 200
