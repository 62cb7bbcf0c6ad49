"""The datetime field kind: ISO 8601 with an offset in, UTC stored and answered, the viewer's
zone in forms; a custom field of that type through the API and the form."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient
from openapi_spec_validator import validate

from crm.db import Database
from crm.fields import FieldSpec, parse_datetime, parse_value
from crm.models import Person
from crm.services import codebooks
from crm.services.partners import partners
from crm.services.persons import persons
from crm.services.users import create_token
from tests.api.conftest import Api
from tests.conftest import World, login, post_form

PRAGUE = zoneinfo.ZoneInfo("Europe/Prague")


@dataclass
class Dossier:
    partner: int
    person: int


@pytest.fixture
def dossier(database: Database, world: World) -> Dossier:
    """A Tým A partner of Jana's with one person."""
    with database.session() as s:
        partner = partners.create(s, world.sales_a, {"name": "Stavby Příbram s.r.o."})
        person = persons.create(s, world.sales_a, {"partner_id": partner.id, "name": "Jan Dvořák"})
        return Dossier(partner.id, person.id)


@pytest.mark.parametrize(
    "raw, utc",
    [
        ("2026-12-02T14:30:00+01:00", "2026-12-02T13:30:00+00:00"),
        ("2026-12-02T13:30Z", "2026-12-02T13:30:00+00:00"),
        ("2026-07-02 08:00:00.5-04:00", "2026-07-02T12:00:00.500000+00:00"),
    ],
)
def test_iso_8601_with_an_offset_is_stored_as_utc(raw: str, utc: str) -> None:
    assert parse_datetime(raw).isoformat() == utc


def test_without_an_offset_it_is_refused_unless_a_zone_is_given() -> None:
    with pytest.raises(ValueError, match="time zone offset"):
        parse_datetime("2026-12-02T14:30")
    summer = parse_datetime("2026-07-02T14:30", PRAGUE)
    assert summer == dt.datetime(2026, 7, 2, 12, 30, tzinfo=dt.UTC)  # CEST is UTC+2


@pytest.mark.parametrize(
    "raw", ["2026-02-30T10:00Z", "zítra v deset", "2026-12-02", "1800-01-01T00:00Z"]
)
def test_bad_moments_are_refused(raw: str) -> None:
    with pytest.raises(ValueError):
        parse_value(None, FieldSpec("at", "At", "datetime"), raw)  # type: ignore[arg-type]


def add_meeting_field(database: Database, world: World) -> None:
    with database.session() as s:
        codebooks.add_custom_field(
            s,
            world.admin,
            {
                "record_type": "person",
                "key": "schuzka",
                "label": "Příští schůzka",
                "field_type": "datetime",
            },
        )


def test_a_datetime_custom_field_round_trips_through_the_api(
    client: FlaskClient, database: Database, world: World, dossier: Dossier
) -> None:
    add_meeting_field(database, world)
    with database.session() as s:
        api = Api(client, create_token(s, world.sales_a.email, "tests"))
    spec = api.get("/api/v1/openapi.json").get_json()
    validate(spec)
    custom = spec["components"]["schemas"]["Person"]["properties"]["custom"]["properties"]
    assert custom["schuzka"]["format"] == "date-time"
    url = f"/api/v1/persons/{dossier.person}"
    naive = api.patch(url, {"custom": {"schuzka": "2026-12-02T14:30"}})
    assert naive.status_code == 422
    assert "time zone offset" in naive.get_json()["error"]["message"]
    saved = api.patch(url, {"custom": {"schuzka": "2026-12-02T14:30:00+01:00"}})
    assert saved.status_code == 200, saved.get_json()
    assert saved.get_json()["custom"]["schuzka"] == "2026-12-02T13:30:00+00:00"
    assert api.get(url).get_json()["custom"]["schuzka"] == "2026-12-02T13:30:00+00:00"


def test_the_form_reads_and_shows_it_in_the_viewers_zone(
    client: FlaskClient, database: Database, world: World, dossier: Dossier
) -> None:
    add_meeting_field(database, world)
    login(client, world.sales_a)
    url = f"/persons/{dossier.person}/edit"
    form = client.get(url).get_data(as_text=True)
    assert re.search(
        r'<input type="datetime-local" id="f-custom-schuzka" name="custom.schuzka"', form
    )
    saved = post_form(
        client,
        url,
        {
            "partner_id": dossier.partner,
            "last_name": "Dvořák",
            "custom.schuzka": "2026-12-02T14:30",
        },
    )
    assert saved.status_code == 302, saved.get_data(as_text=True)
    with database.session() as s:
        person = s.get(Person, dossier.person)
        assert person is not None
        assert person.custom["schuzka"] == "2026-12-02T13:30:00+00:00"  # 14:30 in Prague
    assert 'value="2026-12-02T14:30"' in client.get(url).get_data(as_text=True)
    assert "2 Dec 2026, 14:30" in client.get(f"/persons/{dossier.person}").get_data(as_text=True)
    bad = post_form(client, url, {"partner_id": dossier.partner, "custom.schuzka": "zítra"})
    assert bad.status_code == 422 and "must be a date and time" in bad.get_data(as_text=True)
