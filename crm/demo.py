"""The demo data set: a Czech sales company with customers in Czechia, Slovakia and Poland.

Everything is created through the services, so the demo obeys the same rules as real input;
only the timestamps are moved back afterwards, so that the timelines look lived-in (the last
eighteen months). Deterministic: a fixed seed, and dates relative to the day of loading.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.db import Database
from crm.models import Activity, Deal, Partner, Person, User
from crm.services import codebooks
from crm.services.activities import activities
from crm.services.deals import deals
from crm.services.partners import partners
from crm.services.persons import persons
from crm.services.users import create_user, get_or_create_group
from crm.text import fold

DEMO_PASSWORD = "demo1234"
OWNER = "Dossier Demo s.r.o."
PRAGUE = "Obchod Praha"
ABROAD = "Obchod Bratislava a Kraków"
# email, name, role, groups (the first is the user's home team)
DEMO_USERS: list[tuple[str, str, str, tuple[str, ...]]] = [
    ("admin@demo.dossier.cz", "Alena Horáková", "admin", ("Vedení",)),
    ("vedouci@demo.dossier.cz", "Martin Beneš", "manager", (PRAGUE, ABROAD)),
    ("jana@demo.dossier.cz", "Jana Nováková", "sales", (PRAGUE,)),
    ("petr@demo.dossier.cz", "Petr Svoboda", "sales", (PRAGUE,)),
    ("lucia@demo.dossier.cz", "Lucia Kováčová", "sales", (ABROAD,)),
    ("tomasz@demo.dossier.cz", "Tomasz Wiśniewski", "sales", (ABROAD,)),
]
# The UI language of each (others: Czech): Lucia works in Bratislava, Tomasz in Kraków.
LANGUAGE = {
    "lucia@demo.dossier.cz": "sk",
    "tomasz@demo.dossier.cz": "pl",
    "admin@demo.dossier.cz": "en",
}

# country|name|city|postal code|street|industry|kind (industry and kind: codebook labels)
PARTNERS = """
CZ|Stavby Příbram s.r.o.|Příbram|261 01|Milínská 45|Construction|Customer
CZ|Agro Žatec a.s.|Žatec|438 01|Chmelařská 12|Agriculture|Customer
CZ|Zemědělské družstvo Hněvkovice|Hněvkovice|582 94|Hlavní 1|Agriculture|Prospect
CZ|Kovárna Ústí nad Orlicí s.r.o.|Ústí nad Orlicí|562 01|Dukelská 230|Manufacturing|Customer
CZ|Pozemní stavby Třebíč a.s.|Třebíč|674 01|Průmyslová 880|Construction|Customer
CZ|Dřevovýroba Šumava s.r.o.|Vimperk|385 01|Pivovarská 7|Manufacturing|Supplier
CZ|Čerpací technika Brno s.r.o.|Brno|612 00|Purkyňova 99|Manufacturing|Prospect
CZ|Statek Růžená|Jindřichův Hradec|377 01|Růžená 3|Agriculture|Prospect
CZ|Obchodní dům Jihlava, spol. s r.o.|Jihlava|586 01|Masarykovo nám. 14|Retail|Customer
CZ|Silnice Louny a.s.|Louny|440 01|Žatecká 1733|Construction|Customer
CZ|Úpravna vody Želivka, a.s.|Želiv|394 44|Želiv 60|Services|Prospect
CZ|Železárny Hrádek s.r.o.|Rokycany|337 01|Hrádek 125|Manufacturing|Supplier
CZ|Mléčná farma Čáslav|Čáslav|286 01|Jeníkovská 22|Agriculture|Customer
CZ|Dopravní stavby Ostrava s.r.o.|Ostrava|702 00|Nádražní 112|Transport|Customer
CZ|Střechy Kolín s.r.o.|Kolín|280 02|Havlíčkova 8|Construction|Prospect
CZ|Informační systémy Hradec s.r.o.|Hradec Králové|500 02|Gočárova 516|IT|Supplier
CZ|Chmelařství Rakovník s.r.o.|Rakovník|269 01|Lubenská 2140|Agriculture|Customer
CZ|Betonárna Olomouc a.s.|Olomouc|779 00|Pražská 41|Construction|Supplier
CZ|Zahradnictví Lednice, s.r.o.|Lednice|691 44|Břeclavská 12|Agriculture|Prospect
CZ|Autodoprava Pelhřimov s.r.o.|Pelhřimov|393 01|Nádražní 1550|Transport|Customer
SK|Poľnohospodárske družstvo Senica|Senica|905 01|Hviezdoslavova 61|Agriculture|Customer
SK|Stavebná spoločnosť Žilina, a.s.|Žilina|010 01|Kvačalova 2|Construction|Customer
SK|Agrofarma Dunajská Lužná s.r.o.|Dunajská Lužná|900 42|Jánošíkovská 10|Agriculture|Prospect
SK|Košické strojárne, s.r.o.|Košice|040 01|Južná trieda 82|Manufacturing|Customer
SK|Mliekareň Liptovský Mikuláš a.s.|Liptovský Mikuláš|031 01|Priemyselná 3|Agriculture|Prospect
SK|Cestné stavby Prešov s.r.o.|Prešov|080 01|Levočská 9|Construction|Customer
SK|Drevárske závody Zvolen a.s.|Zvolen|960 01|Lieskovská cesta 6|Manufacturing|Supplier
SK|Vinárstvo Modra s.r.o.|Modra|900 01|Štúrova 38|Agriculture|Prospect
SK|Agrodružstvo Topoľčany|Topoľčany|955 01|Nitrianska 7|Agriculture|Customer
SK|Stavebniny Banská Bystrica s.r.o.|Banská Bystrica|974 01|Zvolenská cesta 14|Retail|Customer
PL|Budownictwo Łódź Sp. z o.o.|Łódź|90-001|ul. Piotrkowska 104|Construction|Customer
PL|Gospodarstwo Rolne Żuławy|Nowy Dwór Gdański|82-100|ul. Kopernika 5|Agriculture|Prospect
PL|Przedsiębiorstwo Drogowe Kraków S.A.|Kraków|30-001|ul. Wielicka 44|Construction|Customer
PL|Zakłady Mięsne Białystok Sp. z o.o.|Białystok|15-001|ul. Zwierzyniecka 12|Agriculture|Customer
PL|Spółdzielnia Mleczarska Łowicz|Łowicz|99-400|ul. Przemysłowa 3|Agriculture|Prospect
PL|Hurtownia Budowlana Poznań Sp. z o.o.|Poznań|60-001|ul. Głogowska 210|Retail|Supplier
PL|Transport Śląsk Sp. z o.o.|Katowice|40-001|ul. Chorzowska 50|Transport|Customer
PL|Maszyny Rolnicze Rzeszów S.A.|Rzeszów|35-001|ul. Lwowska 11|Manufacturing|Prospect
PL|Spółdzielnia Rolnicza Łęczyca|Łęczyca|99-100|ul. Ozorkowska 18|Agriculture|Customer
PL|Inżynieria Mostowa Wrocław Sp. z o.o.|Wrocław|50-001|ul. Legnicka 55|Construction|Prospect
"""

FIRST = {
    "CZ": ["Jan", "Petra", "Tomáš", "Lenka", "Jiří", "Kateřina", "Pavel", "Hana", "Zdeněk"],
    "SK": ["Ján", "Zuzana", "Marek", "Katarína", "Peter", "Mária", "Ľubomír"],
    "PL": ["Krzysztof", "Agnieszka", "Piotr", "Małgorzata", "Paweł", "Katarzyna", "Łukasz"],
}
FEMALE = {"Petra", "Lenka", "Kateřina", "Hana", "Zuzana", "Katarína", "Mária"}
FEMALE |= {"Agnieszka", "Małgorzata", "Katarzyna"}
# (male, female) surnames
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
FUNCTIONS = {
    "CZ": ["jednatel", "nákupčí", "vedoucí stavby", "technický ředitel", "účetní"],
    "SK": ["konateľ", "nákupca", "stavbyvedúci", "riaditeľ", "ekonómka"],
    "PL": ["prezes zarządu", "kierownik zakupów", "kierownik budowy", "dyrektor techniczny"],
}
PHONE = {"CZ": "+420", "SK": "+421", "PL": "+48"}
CURRENCY = {"CZ": "CZK", "SK": "EUR", "PL": "PLN"}
RATE = {"CZ": 1, "SK": 25, "PL": 6}  # CZK per unit, for values of a similar size
DEAL_TITLES = {
    "CZ": [
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
    ],
    "SK": [
        "Dodávka ocele",
        "Hala na skladovanie",
        "Servisná zmluva",
        "Poľnohospodárske stroje",
        "Rekonštrukcia strechy",
        "Zavlažovací systém",
        "Betónové prefabrikáty",
        "Drevené konštrukcie",
    ],
    "PL": [
        "Dostawa stali",
        "Hala magazynowa",
        "Umowa serwisowa",
        "Maszyny rolnicze",
        "Remont dachu",
        "System nawadniania",
        "Prefabrykaty betonowe",
        "Konstrukcje drewniane",
    ],
}
# What the salespeople write, in the customer's language.
TEXT: dict[str, dict[str, Any]] = {
    "CZ": {
        "first": ("První kontakt", "Kontakt z veletrhu Stavotech, zájem o nabídku."),
        "letter": "Nabídka",
        "next": "Zavolat ohledně",
        "won": "Podepsaná smlouva, záloha uhrazena.",
        "lost": "Zákazník zvolil jinou nabídku.",
        "call": ["Telefonicky domluvena schůzka.", "Upřesnění termínu dodávky.", "Nezastižen."],
        "meeting": ["Prohlídka místa, zaměření.", "Prezentace nabídky u zákazníka."],
        "letter_note": ["Zaslána nabídka poštou.", "Zaslána smlouva k podpisu."],
        "task": ["Připravit podklady k nabídce.", "Ověřit termín dodání u výroby."],
    },
    "SK": {
        "first": ("Prvý kontakt", "Kontakt z veľtrhu Agrokomplex, záujem o ponuku."),
        "letter": "Ponuka",
        "next": "Zavolať ohľadom",
        "won": "Podpísaná zmluva.",
        "lost": "Zákazník si vybral inú ponuku.",
        "call": ["Telefonicky dohodnuté stretnutie.", "Upresnenie termínu dodávky."],
        "meeting": ["Obhliadka miesta, zameranie.", "Prezentácia ponuky u zákazníka."],
        "letter_note": ["Ponuka zaslaná poštou.", "Zmluva zaslaná na podpis."],
        "task": ["Pripraviť podklady k ponuke.", "Overiť termín dodania."],
    },
    "PL": {
        "first": ("Pierwszy kontakt", "Kontakt z targów Budma, zainteresowanie ofertą."),
        "letter": "Oferta",
        "next": "Zadzwonić w sprawie",
        "won": "Umowa podpisana.",
        "lost": "Klient wybrał inną ofertę.",
        "call": ["Umówiono spotkanie telefonicznie.", "Ustalenie terminu dostawy."],
        "meeting": ["Wizja lokalna, pomiary.", "Prezentacja oferty u klienta."],
        "letter_note": ["Oferta wysłana pocztą.", "Umowa wysłana do podpisu."],
        "task": ["Przygotować materiały do oferty.", "Sprawdzić termin dostawy."],
    },
}
WON_REASONS = ("Good relationship", "Price", "Quality")


@dataclass(frozen=True)
class Row:
    country: str
    name: str
    city: str
    postal_code: str
    street: str
    industry: str
    kind: str


def partner_rows() -> list[Row]:
    return [
        Row(*(cell.strip() for cell in line.split("|"))) for line in PARTNERS.strip().splitlines()
    ]


# -- identifiers with valid check digits ----------------------------------------------------
def ico(rng: random.Random) -> str:
    """A Czech or Slovak company ID (IČO): seven digits and a mod-11 check digit."""
    digits = [rng.randint(1, 9), *(rng.randint(0, 9) for _ in range(6))]
    rest = sum(d * w for d, w in zip(digits, range(8, 1, -1), strict=True)) % 11
    check = {0: 1, 1: 0}.get(rest, 11 - rest)
    return "".join(map(str, digits)) + str(check)


def slovak_vat_id(rng: random.Random) -> str:
    """IČ DPH: SK and a ten-digit DIČ divisible by 11."""
    return "SK" + str(rng.randrange(2_020_000_000 // 11 + 1, 2_029_999_999 // 11) * 11)


def polish_nip(rng: random.Random) -> str:
    while True:
        digits = [rng.randint(1, 9), *(rng.randint(0, 9) for _ in range(8))]
        check = sum(d * w for d, w in zip(digits, (6, 5, 7, 2, 3, 4, 5, 6, 7), strict=True)) % 11
        if check != 10:
            return "".join(map(str, digits)) + str(check)


def polish_regon(rng: random.Random) -> str:
    digits = [rng.randint(1, 9), *(rng.randint(0, 9) for _ in range(7))]
    check = sum(d * w for d, w in zip(digits, (8, 9, 2, 3, 4, 5, 6, 7), strict=True)) % 11
    return "".join(map(str, digits)) + str(check % 10)


def _word(text: str) -> str:
    return "".join(c for c in fold(text).split()[0] if c.isalnum())


def _phone(rng: random.Random, country: str) -> str:
    first = {"CZ": (601, 799), "SK": (901, 949), "PL": (501, 799)}[country]
    return f"{PHONE[country]} {rng.randint(*first)} {rng.randint(100, 999)} {rng.randint(100, 999)}"


# -- loading ------------------------------------------------------------------------------
class _Loader:
    def __init__(self, session: Session, users: dict[str, User], seed: int = 2026) -> None:
        self.s = session
        self.rng = random.Random(seed)
        self.now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
        self.today = self.now.date()
        self.users = users
        self.stages = codebooks.entries(session, "deal_stage")
        self.types = codebooks.entries(session, "deal_type")
        self.results = codebooks.entries(session, "activity_result")
        reasons = codebooks.entries(session, "close_reason")
        self.won_reasons = [r for r in reasons if r.label in WON_REASONS] or reasons
        self.lost_reasons = [r for r in reasons if r.label not in WON_REASONS] or reasons
        self.deal_count = 0
        self.open_count = 0

    def at_or_before_now(self, moment: dt.datetime) -> dt.datetime:
        return min(moment, self.now - dt.timedelta(minutes=self.rng.randint(5, 600)))

    def office_hours(self, day: dt.datetime) -> dt.datetime:
        return day.replace(hour=self.rng.randint(7, 16), minute=self.rng.choice((0, 15, 30, 45)))

    def stamp(self, record: Partner | Person | Deal | Activity, at: dt.datetime) -> None:
        record.created_at = at
        record.updated_at = at

    def partner(self, index: int, row: Row, owner: User, colleague: User) -> None:
        rng, country = self.rng, row.country
        domain = f"{_word(row.name)}-{_word(row.city)}.{country.lower()}"
        if country == "PL":
            company_id, vat_id = polish_regon(rng), "PL" + polish_nip(rng)
        else:
            company_id = ico(rng)
            vat_id = "CZ" + company_id if country == "CZ" else slovak_vat_id(rng)
        partner = partners.create(
            self.s,
            owner,
            {
                "name": row.name,
                "kind": row.kind,
                "industry": row.industry,
                "region": "Tuzemsko" if country == "CZ" else "Zahraničí",
                "status": "passive" if index % 8 == 7 else "active",
                "category": "ABC"[rng.choice((0, 1, 1, 2, 2, 2))],
                "street": row.street,
                "city": row.city,
                "postal_code": row.postal_code,
                "country": country,
                "company_id": company_id,
                "vat_id": vat_id,
                "phones": [_phone(rng, country)],
                "emails": [f"info@{domain}"],
                "web": f"https://www.{domain}",
                "domains": [domain],
                # one partner only its salesperson (and the manager) sees
                "private": (country, index) == ("CZ", 5),
            },
        )
        born = self.office_hours(self.now - dt.timedelta(days=rng.randint(90, 540)))
        self.stamp(partner, born)
        people = self.people(partner, country, owner, born)
        text = TEXT[country]
        first = activities.create(
            self.s,
            owner,
            {
                "kind": "note",
                "title": f"{text['first'][0]} – {partner.name}"[:250],
                "note": text["first"][1],
                "done": True,
                "partner_id": partner.id,
                "person_id": people[0].id,
            },
        )
        self.stamp(first, born + dt.timedelta(hours=1))
        first.done_at = first.created_at
        age = (self.now - born).days
        for n in range(1 if partner.status == "passive" else rng.randint(1, 3)):
            start = born + dt.timedelta(days=rng.randint(3, max(4, age - 20)), hours=n)
            self.deal(partner, country, n, people, owner, colleague, start)

    def people(self, partner: Partner, country: str, owner: User, born: dt.datetime) -> list[Any]:
        rng = self.rng
        names: list[tuple[str, str]] = []
        for _ in range(rng.randint(1, 4)):
            first = rng.choice(FIRST[country])
            last = rng.choice(LAST[country])[1 if first in FEMALE else 0]
            if all(first != f and last[:4] != la[:4] for f, la in names):
                names.append((first, last))
        domain = partner.domains[0]
        created = []
        for k, (first, last) in enumerate(names):
            person = persons.create(
                self.s,
                owner,
                {
                    "partner_id": partner.id,
                    "first_name": first,
                    "last_name": last,
                    # Some hold a doctorate; the salutation is suggested from the name (vocative).
                    "title_after": "Ph.D." if (partner.id + k) % 9 == 0 else "",
                    "function": FUNCTIONS[country][(partner.id + k) % len(FUNCTIONS[country])],
                    "emails": [f"{fold(first)}.{fold(last)}@{domain}"],
                    "phones": [_phone(rng, country)],
                    "birthday": dt.date(
                        rng.randint(1962, 1995), rng.randint(1, 12), rng.randint(1, 28)
                    )
                    if rng.random() < 0.7
                    else None,
                },
            )
            self.stamp(person, born + dt.timedelta(minutes=20 + k))
            created.append(person)
        return created

    def deal(
        self,
        partner: Partner,
        country: str,
        n: int,
        people: Sequence[Person],
        owner: User,
        colleague: User,
        start: dt.datetime,
    ) -> None:
        rng, text = self.rng, TEXT[country]
        self.deal_count += 1
        number = self.deal_count
        # every fourth deal won, every fifth lost (if it is old enough), the rest open
        outcome = "open"
        if (self.now - start).days > 45:
            outcome = "won" if number % 4 == 0 else "lost" if number % 5 == 0 else "open"
            if partner.status == "passive":  # a partner set passive after a lost deal
                outcome = "lost"
        if outcome == "won":
            stage = self.stages[-1]
        elif outcome == "lost":
            stage = rng.choice(self.stages)
        else:  # open deals go round the pipeline, so every stage has some
            stage = self.stages[self.open_count % len(self.stages)]
            self.open_count += 1
        value = rng.choice([85_000, 240_000, 560_000, 1_250_000, 3_400_000]) // RATE[country]
        deal = deals.create(
            self.s,
            owner,
            {
                "title": f"{rng.choice(DEAL_TITLES[country])} {start.year + rng.randint(0, 1)}",
                "partner_id": partner.id,
                "type": rng.choice(self.types).id,
                "stage": stage.id,
                "value": round(value, -2),
                "currency": CURRENCY[country],
                "expected_close": self.today + dt.timedelta(days=rng.randint(14, 180)),
                "private": partner.private,
            },
        )
        start = self.office_hours(start)
        self.stamp(deal, start)
        person = rng.choice(people)
        moment = start
        # a closed deal's history ended some days ago; an open one's goes on into the future
        horizon = self.now - dt.timedelta(days=10 if outcome != "open" else 0)
        last_due = self.today - dt.timedelta(days=1) if outcome != "open" else None
        history: list[Activity] = []
        for kind in ("call", "meeting", "letter", "call", "task"):
            if rng.random() < 0.3:
                continue
            moment = self.office_hours(moment + dt.timedelta(days=rng.randint(2, 30)))
            if moment > horizon:
                break
            note = rng.choice(text["letter_note" if kind == "letter" else kind])
            if kind == "letter":  # letters are not a deal action
                act = activities.create(
                    self.s,
                    owner,
                    {
                        "kind": "letter",
                        "title": f"{text['letter']}: {deal.title}",
                        "deal_id": deal.id,
                        "person_id": person.id,
                        "done": True,
                        "note": note,
                    },
                )
                act.done_at = moment
            else:
                due = (moment + dt.timedelta(days=rng.randint(0, 14))).date()
                if last_due is not None:
                    due = min(due, last_due)
                done = due < self.today and (kind != "task" or rng.random() < 0.85)
                data: dict[str, Any] = {"due_date": due, "person_id": person.id, "note": note}
                if done:
                    data["done"] = True
                    if kind in ("call", "meeting"):
                        data["result"] = rng.choice(self.results).id
                act, _ = activities.deal_action(self.s, owner, deal.id, kind, data)
                if done:
                    day = dt.datetime.combine(due, dt.time(), tzinfo=dt.UTC)
                    act.done_at = max(self.office_hours(day), moment + dt.timedelta(minutes=30))
            self.stamp(act, moment)
            history.append(act)
        if outcome == "open" and partner.status == "active" and rng.random() < 0.6:
            self.planned(deal, person, owner, text, moment)
        if outcome != "open":
            closed = self.at_or_before_now(moment + dt.timedelta(days=rng.randint(3, 20)))
            close_data: dict[str, Any] = {"status": outcome, "close_note": text[outcome]}
            if outcome == "lost" or rng.random() < 0.5:
                reasons = self.won_reasons if outcome == "won" else self.lost_reasons
                close_data["close_reason"] = rng.choice(reasons).id
            note, deal = activities.deal_action(self.s, owner, deal.id, "close", close_data)
            deal.closed_at = closed
            deal.expected_close = closed.date()
            deal.updated_at = closed
            self.stamp(note, closed)
            note.done_at = closed
            for act in history:  # nothing stays open on a closed deal
                if not act.done:
                    act.done = True
                    act.done_at = closed
        elif history and history[-1].done and history[-1].done_at and rng.random() < 0.7:
            last = history[-1]
            assert last.done_at is not None
            follow_on = max(
                (last.done_at + dt.timedelta(days=rng.randint(5, 40))).date(),
                self.today + dt.timedelta(days=rng.randint(-7, 21)),
            )
            task = f"{text['next']}: {deal.title}"[:250]
            activities.update(
                self.s,
                owner,
                last.id,
                {
                    "next_contact_date": follow_on,
                    "next_contact_task": task,
                    "next_contact_assignee_id": rng.choice((owner, owner, colleague)).id,
                },
            )
            follow_up = self.s.scalars(
                select(Activity).where(
                    Activity.deal_id == deal.id, Activity.kind == "task", Activity.title == task
                )
            ).first()
            if follow_up is not None:
                self.stamp(follow_up, last.done_at)
            last.updated_at = last.done_at

    def planned(
        self, deal: Deal, person: Person, owner: User, text: dict[str, Any], after: dt.datetime
    ) -> None:
        """What the salesperson plans next: agreed in the last days, due in the coming weeks."""
        rng = self.rng
        kind = rng.choice(("call", "meeting", "meeting", "task"))
        agreed = self.office_hours(self.now - dt.timedelta(days=rng.randint(1, 12)))
        act, _ = activities.deal_action(
            self.s,
            owner,
            deal.id,
            kind,
            {
                "due_date": self.today + dt.timedelta(days=rng.randint(1, 21)),
                "person_id": person.id,
                "note": rng.choice(text[kind]),
            },
        )
        self.stamp(act, self.at_or_before_now(max(agreed, after + dt.timedelta(hours=2))))


def load_demo(db: Database) -> list[tuple[str, str]] | None:
    """Loads the demo once; returns the (email, role) logins, or None if partners exist."""
    with db.session() as s:
        if s.scalar(select(func.count()).select_from(Partner)):
            return None
    with db.session() as s:
        users: dict[str, User] = {}
        for email, name, role, groups in DEMO_USERS:
            for group in groups:
                get_or_create_group(s, group, OWNER)
            users[email] = create_user(
                s, email, name, role, list(groups), DEMO_PASSWORD, LANGUAGE.get(email, "cs")
            )
        teams = {
            "CZ": [users["jana@demo.dossier.cz"], users["petr@demo.dossier.cz"]],
            "SK": [users["lucia@demo.dossier.cz"], users["tomasz@demo.dossier.cz"]],
            "PL": [users["tomasz@demo.dossier.cz"], users["lucia@demo.dossier.cz"]],
        }
        loader = _Loader(s, users)
        counters: dict[str, int] = {}
        for row in partner_rows():
            index = counters[row.country] = counters.get(row.country, -1) + 1
            team = teams[row.country]
            # Prague splits its customers; abroad, Slovakia is Lucia's and Poland Tomasz's,
            # each with a few of the other's
            owner = team[index % 2] if row.country == "CZ" else team[int(index % 4 == 3)]
            colleague = team[1] if owner is team[0] else team[0]
            loader.partner(index, row, owner, colleague)
    return [(email, role) for email, _name, role, _groups in DEMO_USERS]


def demo_summary(db: Database) -> dict[str, int]:
    """Counts of what the demo holds (for the command's message and the tests)."""
    with db.session() as s:
        return {
            model.__tablename__: s.scalar(select(func.count()).select_from(model)) or 0
            for model in (Partner, Person, Deal, Activity)
        }
