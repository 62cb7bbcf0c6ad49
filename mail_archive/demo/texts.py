"""The demo mail's words and texts, read from the TOML files in ``content/`` (one per language, the
product catalogue, the strangers' mail of the triage queues), shaped as the writer uses them."""

from __future__ import annotations

import tomllib
from importlib.resources import files
from typing import Any

COUNTRIES = ("CZ", "SK", "PL")


def _read(name: str) -> dict[str, Any]:
    text = files("mail_archive.demo").joinpath("content").joinpath(name).read_text(encoding="utf-8")
    return tomllib.loads(text)


def _words(table: dict[str, Any]) -> dict[str, Any]:
    # The alternatives (male/female, weekdays, seasons) are indexed: kept as tuples.
    return {k: tuple(v) if isinstance(v, list) else v for k, v in table.items()}


_BY_COUNTRY = {country: _read(f"{country}.toml") for country in COUNTRIES}

LANG: dict[str, dict[str, Any]] = {c: _words(t["words"]) for c, t in _BY_COUNTRY.items()}
# New subjects (a step without one answers the one before: "Re: ...").
SUBJECTS: dict[str, dict[str, str]] = {c: t["subjects"] for c, t in _BY_COUNTRY.items()}
# The texts between greeting and closing. Czech and Slovak go on in lower case after the
# greeting's comma; Polish starts a new sentence.
BODIES: dict[str, dict[str, str]] = {c: t["bodies"] for c, t in _BY_COUNTRY.items()}
OFFER_LABELS: dict[str, dict[str, str]] = {c: t["offer_labels"] for c, t in _BY_COUNTRY.items()}
# People at a partner's domain whom the CRM does not know: (name, mailbox, female, function)
UNKNOWN: dict[str, dict[str, list[tuple[str, str, bool, str]]]] = {
    c: {
        kind: [(p["name"], p["mailbox"], p["female"], p["function"]) for p in people]
        for kind, people in t["unknown"].items()
    }
    for c, t in _BY_COUNTRY.items()
}
# code, unit, price in CZK, and the name in each language
CATALOG: list[tuple[str, str, int, dict[str, str]]] = [
    (p["code"], p["unit"], p["price"], p["names"]) for p in _read("catalog.toml")["product"]
]
# Strangers' mail that waits in a salesperson's triage queue: sender, address, subject, body.
TRIAGE: dict[str, list[tuple[str, str, str, str]]] = {
    seller: [(m["sender"], m["address"], m["subject"], m["body"]) for m in mails]
    for seller, mails in _read("triage.toml").items()
}
