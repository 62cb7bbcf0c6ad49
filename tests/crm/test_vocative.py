"""The vocative suggested for salutations, on real Czech names."""

from __future__ import annotations

import pytest

from crm.person_names import NameParts, split_name
from crm.vocative import salutations, suggest_salutation, vocative


@pytest.mark.parametrize(
    "name, expected",
    [
        ("Dvořák", "Dvořáku"),
        ("Novák", "Nováku"),
        ("Svoboda", "Svobodo"),
        ("Němec", "Němče"),
        ("Marek", "Marku"),
        ("Procházka", "Procházko"),
        ("Černý", "Černý"),
        ("Král", "Králi"),
        ("Beneš", "Beneši"),
        ("Růžička", "Růžičko"),
        ("Havel", "Havle"),
        ("Pospíšil", "Pospíšile"),
        ("Zeman", "Zemane"),
        ("Petr", "Petře"),
        ("Jan", "Jane"),
    ],
)
def test_mens_names(name: str, expected: str) -> None:
    assert vocative(name) == expected


@pytest.mark.parametrize("name", ["Nováková", "Černá", "Dvořáková"])
def test_womens_surnames_do_not_change(name: str) -> None:
    assert vocative(name, female=True) == name


def test_salutation_of_a_man_and_a_woman() -> None:
    assert suggest_salutation(split_name("Ing. Pavel Dvořák")) == "Vážený pane Dvořáku"
    assert suggest_salutation(split_name("Marie Marková")) == "Vážená paní Marková"
    assert suggest_salutation(split_name("Eva Černá")) == "Vážená paní Černá"


def test_a_degree_may_replace_the_name() -> None:
    assert salutations(split_name("Ing. Jan Novák, Ph.D.")) == [
        "Vážený pane Nováku",
        "Vážený pane inženýre",
    ]
    assert salutations(split_name("doc. Ing. Jana Svobodová")) == [
        "Vážená paní Svobodová",
        "Vážená paní docentko",
    ]


def test_no_suggestion_without_a_usable_name() -> None:
    assert suggest_salutation(NameParts()) == ""
    assert suggest_salutation(NameParts(last_name="Novák, Jan")) == ""
