"""The demo data set: a Czech sales company with customers in Czechia, Slovakia and Poland.

Everything is created through the services, so the demo obeys the same rules as real input.
Deterministic (a fixed seed); dates are spread over the last eighteen months.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from sqlalchemy import func, select

from crm.db import Database
from crm.models import Activity, Partner, User
from crm.services import codebooks
from crm.services.activities import activities
from crm.services.deals import deals
from crm.services.partners import partners
from crm.services.persons import persons
from crm.services.users import create_user, get_or_create_group

DEMO_PASSWORD = "demo1234"
OWNER = "Dossier Demo s.r.o."
DEMO_USERS = [
    ("admin@demo.dossier.cz", "Alena Horáková", "admin", "Vedení"),
    ("vedouci@demo.dossier.cz", "Martin Beneš", "manager", "Obchod Praha"),
    ("jana@demo.dossier.cz", "Jana Nováková", "sales", "Obchod Praha"),
    ("petr@demo.dossier.cz", "Petr Svoboda", "sales", "Obchod Praha"),
    ("lucia@demo.dossier.cz", "Lucia Kováčová", "sales", "Obchod Bratislava a Kraków"),
    ("tomasz@demo.dossier.cz", "Tomasz Wiśniewski", "sales", "Obchod Bratislava a Kraków"),
]

# name, city, postal code, street, country, industry, kind, domain
CZ = [
    ("Stavby Příbram s.r.o.", "Příbram", "261 01", "Milínská 45", "Construction", "Customer"),
    ("Agro Žatec a.s.", "Žatec", "438 01", "Chmelařská 12", "Agriculture", "Customer"),
    (
        "Zemědělské družstvo Hněvkovice",
        "Hněvkovice",
        "582 94",
        "Hlavní 1",
        "Agriculture",
        "Prospect",
    ),
    (
        "Kovárna Ústí nad Orlicí s.r.o.",
        "Ústí nad Orlicí",
        "562 01",
        "Dukelská 230",
        "Manufacturing",
        "Customer",
    ),
    (
        "Pozemní stavby Třebíč a.s.",
        "Třebíč",
        "674 01",
        "Průmyslová 880",
        "Construction",
        "Customer",
    ),
    ("Dřevovýroba Šumava s.r.o.", "Vimperk", "385 01", "Pivovarská 7", "Manufacturing", "Supplier"),
    ("Čerpací technika Brno s.r.o.", "Brno", "612 00", "Purkyňova 99", "Manufacturing", "Prospect"),
    ("Statek Růžená", "Jindřichův Hradec", "377 01", "Růžená 3", "Agriculture", "Prospect"),
    (
        "Obchodní dům Jihlava, spol. s r.o.",
        "Jihlava",
        "586 01",
        "Masarykovo nám. 14",
        "Retail",
        "Customer",
    ),
    ("Silnice Louny a.s.", "Louny", "440 01", "Žatecká 1733", "Construction", "Customer"),
    ("Úpravna vody Želivka, a.s.", "Želiv", "394 44", "Želiv 60", "Services", "Prospect"),
    ("Železárny Hrádek s.r.o.", "Rokycany", "337 01", "Hrádek 125", "Manufacturing", "Supplier"),
    ("Mléčná farma Čáslav", "Čáslav", "286 01", "Jeníkovská 22", "Agriculture", "Customer"),
    (
        "Dopravní stavby Ostrava s.r.o.",
        "Ostrava",
        "702 00",
        "Nádražní 112",
        "Transport",
        "Customer",
    ),
    ("Střechy Kolín s.r.o.", "Kolín", "280 02", "Havlíčkova 8", "Construction", "Prospect"),
    (
        "Informační systémy Hradec s.r.o.",
        "Hradec Králové",
        "500 02",
        "Gočárova 516",
        "IT",
        "Supplier",
    ),
]
SK = [
    (
        "Poľnohospodárske družstvo Senica",
        "Senica",
        "905 01",
        "Hviezdoslavova 61",
        "Agriculture",
        "Customer",
    ),
    (
        "Stavebná spoločnosť Žilina, a.s.",
        "Žilina",
        "010 01",
        "Kvačalova 2",
        "Construction",
        "Customer",
    ),
    (
        "Agrofarma Dunajská Lužná s.r.o.",
        "Dunajská Lužná",
        "900 42",
        "Jánošíkovská 10",
        "Agriculture",
        "Prospect",
    ),
    (
        "Košické strojárne, s.r.o.",
        "Košice",
        "040 01",
        "Južná trieda 82",
        "Manufacturing",
        "Customer",
    ),
    (
        "Mliekareň Liptovský Mikuláš a.s.",
        "Liptovský Mikuláš",
        "031 01",
        "Priemyselná 3",
        "Agriculture",
        "Prospect",
    ),
    ("Cestné stavby Prešov s.r.o.", "Prešov", "080 01", "Levočská 9", "Construction", "Customer"),
    (
        "Drevárske závody Zvolen a.s.",
        "Zvolen",
        "960 01",
        "Lieskovská cesta 6",
        "Manufacturing",
        "Supplier",
    ),
    ("Vinárstvo Modra s.r.o.", "Modra", "900 01", "Štúrova 38", "Agriculture", "Prospect"),
]
PL = [
    (
        "Budownictwo Łódź Sp. z o.o.",
        "Łódź",
        "90-001",
        "ul. Piotrkowska 104",
        "Construction",
        "Customer",
    ),
    (
        "Gospodarstwo Rolne Żuławy",
        "Nowy Dwór Gdański",
        "82-100",
        "ul. Kopernika 5",
        "Agriculture",
        "Prospect",
    ),
    (
        "Przedsiębiorstwo Drogowe Kraków S.A.",
        "Kraków",
        "30-001",
        "ul. Wielicka 44",
        "Construction",
        "Customer",
    ),
    (
        "Zakłady Mięsne Białystok Sp. z o.o.",
        "Białystok",
        "15-001",
        "ul. Zwierzyniecka 12",
        "Agriculture",
        "Customer",
    ),
    (
        "Spółdzielnia Mleczarska Łowicz",
        "Łowicz",
        "99-400",
        "ul. Przemysłowa 3",
        "Agriculture",
        "Prospect",
    ),
    (
        "Hurtownia Budowlana Poznań Sp. z o.o.",
        "Poznań",
        "60-001",
        "ul. Głogowska 210",
        "Retail",
        "Supplier",
    ),
    (
        "Transport Śląsk Sp. z o.o.",
        "Katowice",
        "40-001",
        "ul. Chorzowska 50",
        "Transport",
        "Customer",
    ),
    (
        "Maszyny Rolnicze Rzeszów S.A.",
        "Rzeszów",
        "35-001",
        "ul. Lwowska 11",
        "Manufacturing",
        "Prospect",
    ),
]
FIRST = {
    "CZ": ["Jan", "Petra", "Tomáš", "Lenka", "Jiří", "Kateřina", "Pavel", "Hana", "Zdeněk"],
    "SK": ["Ján", "Zuzana", "Marek", "Katarína", "Peter", "Mária", "Ľubomír"],
    "PL": ["Krzysztof", "Agnieszka", "Piotr", "Małgorzata", "Paweł", "Katarzyna", "Łukasz"],
}
LAST = {
    "CZ": [
        ("Dvořák", "Dvořáková"),
        ("Černý", "Černá"),
        ("Procházka", "Procházková"),
        ("Kučera", "Kučerová"),
        ("Veselý", "Veselá"),
        ("Marek", "Marková"),
    ],
    "SK": [
        ("Horváth", "Horváthová"),
        ("Varga", "Vargová"),
        ("Tóth", "Tóthová"),
        ("Baláž", "Balážová"),
        ("Szabó", "Szabóová"),
    ],
    "PL": [
        ("Kowalski", "Kowalska"),
        ("Nowak", "Nowak"),
        ("Wójcik", "Wójcik"),
        ("Kamiński", "Kamińska"),
        ("Lewandowski", "Lewandowska"),
    ],
}
FEMALE = {
    "Petra",
    "Lenka",
    "Kateřina",
    "Hana",
    "Zuzana",
    "Katarína",
    "Mária",
    "Agnieszka",
    "Małgorzata",
    "Katarzyna",
}
FUNCTIONS = {
    "CZ": ["jednatel", "nákupčí", "vedoucí stavby", "technický ředitel", "účetní"],
    "SK": ["konateľ", "nákupca", "stavbyvedúci", "riaditeľ"],
    "PL": ["prezes zarządu", "kierownik zakupów", "kierownik budowy", "dyrektor techniczny"],
}
PHONE = {"CZ": "+420", "SK": "+421", "PL": "+48"}
DEAL_TITLES = [
    "Dodávka oceli",
    "Hala pro skladování",
    "Servisní smlouva",
    "Zemědělské stroje",
    "Rekonstrukce střechy",
    "Silniční obrubníky",
    "Zavlažovací systém",
    "Betonové prefabrikáty",
    "Údržba vozového parku",
    "Dřevěné konstrukce",
]
CURRENCY = {"CZ": "CZK", "SK": "EUR", "PL": "PLN"}


def _slug(name: str) -> str:
    from crm.text import fold

    word = fold(name).split()[0].strip(",.")
    return "".join(c for c in word if c.isalnum()) or "firma"


def _ago(rng: random.Random, max_days: int) -> dt.datetime:
    now = dt.datetime.now(dt.UTC)
    return now - dt.timedelta(days=rng.randint(0, max_days), minutes=rng.randint(0, 600))


def load_demo(db: Database) -> list[tuple[str, str]] | None:
    """Loads the demo once; returns (email, role) logins, or None if data already exists."""
    with db.session() as s:
        if s.scalar(select(func.count()).select_from(Partner)):
            return None
    rng = random.Random(2026)
    with db.session() as s:
        group_ids: dict[str, int] = {}
        users: list[User] = []
        for email, name, role, group in DEMO_USERS:
            g = get_or_create_group(s, group, OWNER)
            group_ids[group] = g.id
            users.append(
                create_user(
                    s,
                    email,
                    name,
                    role,
                    [group],
                    DEMO_PASSWORD,
                    language="cs" if role != "admin" else "en",
                )
            )
        prague = [u for u in users if u.role == "sales" and u.groups[0].name == "Obchod Praha"]
        abroad = [u for u in users if u.role == "sales" and u.groups[0].name != "Obchod Praha"]
        stages = codebooks.entries(s, "deal_stage")
        reasons = codebooks.entries(s, "close_reason")
        results = codebooks.entries(s, "activity_result")
        for country, rows in (("CZ", CZ), ("SK", SK), ("PL", PL)):
            team = prague if country == "CZ" else abroad
            for index, (name, city, psc, street, industry, kind) in enumerate(rows):
                owner = team[index % len(team)]
                _partner(
                    s,
                    rng,
                    owner,
                    country,
                    index,
                    name,
                    city,
                    psc,
                    street,
                    industry,
                    kind,
                    stages,
                    reasons,
                    results,
                    team,
                )
    return [(email, role) for email, _n, role, _g in DEMO_USERS]


def _partner(
    s: Any,
    rng: random.Random,
    owner: User,
    country: str,
    index: int,
    name: str,
    city: str,
    psc: str,
    street: str,
    industry: str,
    kind: str,
    stages: list[Any],
    reasons: list[Any],
    results: list[Any],
    team: list[User],
) -> None:
    domain = f"{_slug(name)}-{_slug(city)}.{country.lower()}"
    company_id = str(rng.randint(10_000_000, 99_999_999))
    vat = {"CZ": "CZ", "SK": "SK", "PL": "PL"}[country] + (
        company_id if country == "CZ" else str(rng.randint(10**9, 10**10 - 1))
    )
    partner = partners.create(
        s,
        owner,
        {
            "name": name,
            "kind": kind,
            "industry": industry,
            "region": "Tuzemsko" if country == "CZ" else "Zahraničí",
            "status": "passive" if index % 9 == 8 else "active",
            "category": "ABC"[index % 3],
            "street": street,
            "city": city,
            "postal_code": psc,
            "country": country,
            "company_id": company_id,
            "vat_id": vat,
            "phones": [
                f"{PHONE[country]} {rng.randint(200, 799)} {rng.randint(100, 999)} "
                f"{rng.randint(100, 999)}"
            ],
            "emails": [f"info@{domain}"],
            "web": f"https://www.{domain}",
            "domains": [domain],
            "private": index == 5,
        },
    )
    partner.created_at = _ago(rng, 540)
    people = []
    for _ in range(rng.randint(1, 4)):
        first = rng.choice(FIRST[country])
        last = rng.choice(LAST[country])[1 if first in FEMALE else 0]
        login = "".join(c for c in _slug(f"{first}.{last}") if c.isalnum())
        person = persons.create(
            s,
            owner,
            {
                "partner_id": partner.id,
                "name": f"{first} {last}",
                "function": rng.choice(FUNCTIONS[country]),
                "emails": [f"{login}{rng.randint(1, 99)}@{domain}"],
                "phones": [
                    f"{PHONE[country]} {rng.randint(600, 799)} {rng.randint(100, 999)} "
                    f"{rng.randint(100, 999)}"
                ],
                "birthday": dt.date(
                    rng.randint(1960, 1995), rng.randint(1, 12), rng.randint(1, 28)
                ),
            },
        )
        people.append(person)
    for n in range(rng.randint(1, 3)):
        _deal(s, rng, owner, partner, country, n, people, stages, reasons, results, team)
    note = activities.create(
        s,
        owner,
        {
            "kind": "note",
            "title": f"První kontakt – {partner.name}"[:250],
            "done": True,
            "partner_id": partner.id,
            "note": "Kontakt z veletrhu, zájem o nabídku.",
        },
    )
    note.created_at = partner.created_at + dt.timedelta(hours=2)


def _deal(
    s: Any,
    rng: random.Random,
    owner: User,
    partner: Partner,
    country: str,
    n: int,
    people: list[Any],
    stages: list[Any],
    reasons: list[Any],
    results: list[Any],
    team: list[User],
) -> None:
    stage = stages[(partner.id + n) % len(stages)]
    value = rng.choice([85_000, 240_000, 560_000, 1_250_000, 3_400_000])
    if country != "CZ":
        value = value // (25 if country == "SK" else 6)
    deal = deals.create(
        s,
        owner,
        {
            "title": f"{rng.choice(DEAL_TITLES)} {2025 + n}",
            "partner_id": partner.id,
            "type": rng.choice(
                ["Preliminary interest", "Binding order", "Framework contract", "Service"]
            ),
            "stage": stage.id,
            "value": value,
            "currency": CURRENCY[country],
            "expected_close": (dt.date.today() + dt.timedelta(days=rng.randint(-60, 180))),
            "private": partner.private,
        },
    )
    deal.created_at = partner.created_at + dt.timedelta(days=rng.randint(1, 30))
    person = rng.choice(people)
    past: list[Activity] = []
    for kind in ("call", "meeting", "letter", "task"):
        if rng.random() < 0.35:
            continue
        note = {
            "call": "Telefonicky domluvena schůzka.",
            "meeting": "Prohlídka místa, zaměření.",
            "letter": "Zaslána nabídka poštou.",
            "task": "Připravit podklady k nabídce.",
        }[kind]
        due = dt.date.today() + dt.timedelta(days=rng.randint(-90, 30))
        if kind == "letter":  # letters are not a deal action
            act = activities.create(
                s,
                owner,
                {
                    "kind": "letter",
                    "title": f"Nabídka: {deal.title}",
                    "deal_id": deal.id,
                    "person_id": person.id,
                    "done": True,
                    "note": note,
                },
            )
        else:
            act, _ = activities.deal_action(
                s, owner, deal.id, kind, {"due_date": due, "person_id": person.id, "note": note}
            )
        act.created_at = deal.created_at + dt.timedelta(days=rng.randint(1, 120))
        if act.created_at > dt.datetime.now(dt.UTC):
            act.created_at = dt.datetime.now(dt.UTC) - dt.timedelta(hours=rng.randint(1, 48))
        if act.due_date and act.due_date < dt.date.today() and kind != "task":
            act.done = True
            act.done_at = act.created_at
            act.result_id = rng.choice(results).id
        past.append(act)
    if past and rng.random() < 0.4:
        last = past[-1]
        activities.update(
            s,
            owner,
            last.id,
            {
                "next_contact_date": dt.date.today() + dt.timedelta(days=rng.randint(3, 40)),
                "next_contact_task": f"Zavolat ohledně: {deal.title}"[:250],
                "next_contact_assignee_id": rng.choice(team).id,
            },
        )
    if n == 0 and partner.id % 4 == 0:
        activities.deal_action(
            s, owner, deal.id, "close", {"status": "won", "close_note": "Podepsaná smlouva."}
        )
    elif n == 1 and partner.id % 3 == 0:
        activities.deal_action(
            s,
            owner,
            deal.id,
            "close",
            {
                "status": "lost",
                "close_reason": rng.choice(reasons).id,
                "close_note": "Zákazník zvolil jinou nabídku.",
            },
        )
