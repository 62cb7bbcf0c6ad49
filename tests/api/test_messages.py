"""/api/v1/messages: filing raw mail, listing, reading, raw bytes, links, and bad input."""

from __future__ import annotations

from connector.intake import EMPTY_FILE, NOT_MAIL
from crm.db import Database
from crm.services.partners import partners
from mail_archive.outlook import DAMAGED, NOT_MAIL_CLASSES, OUTLOOK_TYPE
from tests.api.conftest import ApiFor
from tests.conftest import World
from tests.mail_archive.conftest import Dossier
from tests.mailfactory import make_mail
from tests.outlookfactory import CZECH, make_msg

RFC822 = {"content_type": "message/rfc822"}


def post_raw(api_for: ApiFor, user: object, raw: bytes, **query: object) -> object:
    api = api_for(user)  # type: ignore[arg-type]
    return api.raw("POST", "/api/v1/messages", data=raw, query_string=query, **RFC822)


def test_post_files_a_message_and_answers_links_and_duplicate(
    api_for: ApiFor, world: World, dossier: Dossier
) -> None:
    raw = make_mail(subject="Objednávka cihel", message_id="api-1@stavby-pribram.cz")
    first = post_raw(api_for, world.sales_a, raw)
    assert first.status_code == 201, first.get_json()  # type: ignore[attr-defined]
    body = first.get_json()  # type: ignore[attr-defined]
    assert body["status"] == "filed" and body["duplicate"] is False
    assert {(link["record_type"], link["record_id"], link["how"]) for link in body["links"]} == {
        ("person", dossier.person_id, "address"),
        ("partner", dossier.partner_id, "address"),
    }
    again = post_raw(api_for, world.sales_a, raw, deal_id=dossier.deal_id)
    assert again.status_code == 200  # type: ignore[attr-defined]
    repeated = again.get_json()  # type: ignore[attr-defined]
    assert repeated["id"] == body["id"] and repeated["duplicate"] is True
    # the explicit deal given the second time is added
    assert ("deal", dossier.deal_id) in {
        (link["record_type"], link["record_id"]) for link in repeated["links"]
    }

    api = api_for(world.sales_a)
    listed = api.get("/api/v1/messages", partner_id=dossier.partner_id).get_json()
    assert listed["total"] == 1 and listed["items"][0]["subject"] == "Objednávka cihel"
    assert api.get("/api/v1/messages", deal_id=dossier.deal_id).get_json()["total"] == 1
    one = api.get(f"/api/v1/messages/{body['id']}").get_json()
    assert one["from"]["address"] == "jan.novak@stavby-pribram.cz"
    assert "Dobrý den" in one["text"]
    raw_back = api.get(f"/api/v1/messages/{body['id']}/raw")
    assert raw_back.status_code == 200 and raw_back.data == raw
    assert raw_back.mimetype == "message/rfc822"
    raw_back.close()


def test_unmatched_mail_waits_in_triage_and_a_link_files_it(
    api_for: ApiFor, world: World, dossier: Dossier
) -> None:
    raw = make_mail(sender=("Nový", "info@novy-zakaznik.cz"))
    body = post_raw(api_for, world.sales_a, raw).get_json()  # type: ignore[attr-defined]
    assert body["status"] == "triage" and body["links"] == []
    api = api_for(world.sales_a)
    assert api.get("/api/v1/messages", status="triage").get_json()["total"] == 1
    added = api.post(
        f"/api/v1/messages/{body['id']}/links",
        {"record_type": "deal", "record_id": dossier.deal_id},
    )
    assert added.status_code == 201 and added.get_json()["how"] == "manual"
    one = api.get(f"/api/v1/messages/{body['id']}").get_json()
    assert one["status"] == "filed"
    assert {link["record_type"] for link in one["links"]} == {"deal", "partner"}
    link_id = one["links"][0]["id"]
    assert api.delete(f"/api/v1/messages/{body['id']}/links/{link_id}").status_code == 204


def test_bad_input_gets_a_clear_error_and_stores_nothing(
    api_for: ApiFor, world: World, dossier: Dossier
) -> None:
    api = api_for(world.sales_a)
    wrong_type = api.raw("POST", "/api/v1/messages", data=make_mail(), content_type="text/plain")
    assert wrong_type.status_code == 415
    assert "message/rfc822" in wrong_type.get_json()["error"]["message"]
    empty = api.raw("POST", "/api/v1/messages", data=b"", **RFC822)
    assert empty.status_code == 422 and "empty" in empty.get_json()["error"]["message"]
    pdf = api.raw("POST", "/api/v1/messages", data=b"%PDF-1.7\n...", **RFC822)
    assert pdf.status_code == 422 and "not an e-mail" in pdf.get_json()["error"]["message"]
    unknown = post_raw(api_for, world.sales_a, make_mail(), partner=1)
    assert unknown.status_code == 422  # type: ignore[attr-defined]
    bad_id = post_raw(api_for, world.sales_a, make_mail(), partner_id="abc")
    assert bad_id.status_code == 422  # type: ignore[attr-defined]
    # a partner of the other team is not there for this user
    foreign = post_raw(api_for, world.sales_a, make_mail(), partner_id=dossier.other_partner_id)
    assert foreign.status_code == 404  # type: ignore[attr-defined]
    assert api.get("/api/v1/messages", status="triage").get_json()["total"] == 0
    assert api.get("/api/v1/messages").get_json()["total"] == 0
    assert api.get("/api/v1/messages", status="nonsense").status_code == 422
    bad_link = api.post("/api/v1/messages/1/links", {"record_type": "planet", "record_id": 0})
    assert bad_link.status_code == 422
    assert set(bad_link.get_json()["error"]["fields"]) == {"record_type", "record_id"}
    assert api.get("/api/v1/messages/999999").status_code == 404


def test_a_user_sees_only_mail_of_records_they_may_see(
    api_for: ApiFor, world: World, dossier: Dossier, database: Database
) -> None:
    body = post_raw(api_for, world.sales_a, make_mail()).get_json()  # type: ignore[attr-defined]
    other_team = api_for(world.sales_b)
    assert other_team.get(f"/api/v1/messages/{body['id']}").status_code == 404
    refused = other_team.get(f"/api/v1/messages/{body['id']}/raw")
    assert refused.status_code == 404
    assert other_team.get("/api/v1/messages").get_json()["total"] == 0
    assert api_for(world.manager_a).get(f"/api/v1/messages/{body['id']}").status_code == 200
    # a private partner's mail stays with its salesperson
    with database.session() as s:
        partners.update(s, world.sales_a, dossier.partner_id, {"private": True})
    assert api_for(world.sales_a2).get(f"/api/v1/messages/{body['id']}").status_code == 404
    assert api_for(world.sales_a).get(f"/api/v1/messages/{body['id']}").status_code == 200


def test_the_list_filters_by_text_and_direction_and_sorts(
    api_for: ApiFor, world: World, dossier: Dossier
) -> None:
    post_raw(api_for, world.sales_a, make_mail(subject="Objednávka cihel"))
    sent = make_mail(
        subject="Cenová nabídka",
        sender=("Jana Nováková", world.sales_a.email),
        to=[("Jan Novák", "jan.novak@stavby-pribram.cz")],
    )
    post_raw(api_for, world.sales_a, sent)
    api = api_for(world.sales_a)

    def subjects(**query: str) -> list[str]:
        answer = api.get("/api/v1/messages", **query)
        assert answer.status_code == 200, answer.get_json()
        return [m["subject"] for m in answer.get_json()["items"]]

    assert subjects(sort="subject") == ["Cenová nabídka", "Objednávka cihel"]
    assert subjects(sort="-subject") == ["Objednávka cihel", "Cenová nabídka"]
    assert subjects(direction="out") == ["Cenová nabídka"]
    assert subjects(q="cihel") == ["Objednávka cihel"]
    bad = api.get("/api/v1/messages", sort="secret", direction="up")
    assert bad.status_code == 422
    assert set(bad.get_json()["error"]["fields"]) == {"sort", "direction"}


def test_an_outlook_msg_is_filed_by_its_content_and_a_file_that_is_no_mail_says_why(
    api_for: ApiFor, world: World, dossier: Dossier
) -> None:
    api = api_for(world.sales_a)
    data = make_msg(CZECH)
    first = api.raw("POST", "/api/v1/messages", data=data, content_type=OUTLOOK_TYPE)
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    assert body["status"] == "filed" and body["duplicate"] is False
    one = api.get(f"/api/v1/messages/{body['id']}").get_json()
    assert one["subject"] == CZECH.subject
    assert one["from"] == {"name": "Jan Novák", "address": "jan.novak@stavby-pribram.cz"}
    original = one["attachments"][-1]
    assert (original["filename"], original["content_type"]) == (
        f"{CZECH.subject}.msg",
        OUTLOOK_TYPE,
    )
    download = api.get(original["url"])
    assert download.data == data  # the original .msg, byte for byte
    download.close()
    raw = api.get(one["raw_url"])
    assert raw.mimetype == "message/rfc822" and raw.data.startswith(b"From: ")
    raw.close()
    # told by content: the same .msg sent as message/rfc822 is the same message
    again = api.raw("POST", "/api/v1/messages", data=data, **RFC822)
    assert again.status_code == 200 and again.get_json()["id"] == body["id"]
    assert again.get_json()["duplicate"] is True

    for refused, reason in (
        (b"", EMPTY_FILE),
        (b"%PDF-1.7\n", NOT_MAIL),
        (data[:700], DAMAGED),
        (make_msg(message_class="IPM.Appointment"), NOT_MAIL_CLASSES["ipm.appointment"]),
    ):
        answer = api.raw("POST", "/api/v1/messages", data=refused, content_type=OUTLOOK_TYPE)
        assert answer.status_code == 422
        error = answer.get_json()["error"]
        assert error["message"] == reason and error["fields"] == {"message": reason}
    wrong_type = api.raw("POST", "/api/v1/messages", data=data, content_type="application/pdf")
    assert wrong_type.status_code == 415
    assert OUTLOOK_TYPE in wrong_type.get_json()["error"]["message"]
    assert api.get("/api/v1/messages").get_json()["total"] == 1
