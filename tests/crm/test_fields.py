"""Input parsing shared by forms and the API: what users type in Czech, Slovak and Polish."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from crm.fields import FieldSpec, normalize_domain, parse_date, parse_decimal, parse_list
from crm.text import fold


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("12 500,50", Decimal("12500.50")),
        ("12500.5", Decimal("12500.5")),
        (7, Decimal(7)),
        ("1\u00a0000", Decimal(1000)),
    ],
)
def test_amounts_as_typed_in_czech_locale(typed: object, expected: Decimal) -> None:
    assert parse_decimal(typed) == expected


@pytest.mark.parametrize("bad", ["abc", "1,2,3", "NaN", "Infinity", True, None, [1]])
def test_bad_amounts_are_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_decimal(bad)


@pytest.mark.parametrize("typed", ["2026-12-24", "24.12.2026", "24. 12. 2026"])
def test_dates_iso_and_czech(typed: str) -> None:
    assert parse_date(typed) == dt.date(2026, 12, 24)


@pytest.mark.parametrize("bad", ["31.02.2026", "tomorrow", "2026-13-01", 20261224])
def test_bad_dates_are_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_date(bad)


def test_lists_from_a_textarea_or_json() -> None:
    spec = FieldSpec("emails", "Emails", "list", item="email")
    typed = "Obchod@Stavby-Pribram.cz\n info@stavby-pribram.cz ; obchod@stavby-pribram.cz"
    assert parse_list(spec, typed) == ["obchod@stavby-pribram.cz", "info@stavby-pribram.cz"]
    assert parse_list(spec, ["a@b.cz"]) == ["a@b.cz"]
    with pytest.raises(ValueError, match="not an email"):
        parse_list(spec, "jana.novakova@")
    with pytest.raises(ValueError):
        parse_list(spec, [1, 2])


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("@Firma.CZ", "firma.cz"), ("stavby-příbram.cz", "stavby-příbram.cz"), ("x.sk.", "x.sk")],
)
def test_mail_domains_normalised(typed: str, expected: str) -> None:
    assert normalize_domain(typed) == expected


@pytest.mark.parametrize("bad", ["localhost", "-bad.cz", "a..b.cz", "a b.cz", "x" * 64 + ".cz"])
def test_bad_domains_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        normalize_domain(bad)


def test_fold_makes_accents_optional() -> None:
    assert fold("Příbram") == fold("PRIBRAM") == "pribram"
    assert fold("Łódź") == "lodz"
    assert fold("Žilina – Považie") == "zilina – povazie"
