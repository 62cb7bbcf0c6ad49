"""The demo mail's writer: who writes to whom about what and when, each message composed as real
mail and archived through the rule filer (see the package's docstring). Its words and texts are
data (mail_archive.demo.texts, the TOML files in ``content/``)."""

from __future__ import annotations

import datetime as dt
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.blobs import BlobStore
from crm.db import Database
from crm.demo import DEAL_TITLES, FEMALE, RATE, ico
from crm.models import Deal, Partner, Person, User
from mail_archive.demo.attachments import pdf_document, png_photo, price_list_csv
from mail_archive.demo.texts import (
    BODIES,
    CATALOG,
    LANG,
    OFFER_LABELS,
    SUBJECTS,
    TRIAGE,
    UNKNOWN,
)
from mail_archive.filing import RuleFiler
from mail_archive.ingest import Archive, Source
from mail_archive.models import Message, MessageSource

SEED = 2026
WINDOW_DAYS = 182  # how far back the demo's mail goes
BATCH = 100  # messages per unit of work
KEY_PREFIX = "demo:"
OUR_COMPANY = "Dossier Demo s.r.o."
OUR_ADDRESS = "Na Poříčí 1041/12, 110 00 Praha 1"
NEWSLETTER_FROM = "Betonárna Olomouc a.s."  # the supplier whose newsletter the demo has


# -- time ------------------------------------------------------------------------------------
class _CentralEurope(dt.tzinfo):
    """CET/CEST by the EU rule, for systems without a time zone database."""

    def utcoffset(self, moment: dt.datetime | None) -> dt.timedelta:
        return dt.timedelta(hours=1) + self.dst(moment)

    def dst(self, moment: dt.datetime | None) -> dt.timedelta:
        if moment is None:
            return dt.timedelta(0)
        naive = moment.replace(tzinfo=None)
        start = dt.datetime.combine(_last_sunday(naive.year, 3), dt.time(2))
        end = dt.datetime.combine(_last_sunday(naive.year, 10), dt.time(3))
        return dt.timedelta(hours=1) if start <= naive < end else dt.timedelta(0)

    def tzname(self, moment: dt.datetime | None) -> str:
        return "CEST" if self.dst(moment) else "CET"


def _last_sunday(year: int, month: int) -> dt.date:
    last = dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() + 1) % 7)


def prague() -> dt.tzinfo:
    try:
        return ZoneInfo("Europe/Prague")
    except ZoneInfoNotFoundError:
        return _CentralEurope()


def _workday(day: dt.date) -> dt.date:
    """The day itself, or the Friday before a weekend."""
    return day - dt.timedelta(days=max(0, day.weekday() - 4))


def _add_workdays(day: dt.date, count: int) -> dt.date:
    while count > 0:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            count -= 1
    return day


# -- the people and the words ------------------------------------------------------------------
# Czech addresses men in the vocative (pane Dvořáku); Polish uses the first name's vocative.
CZ_VOCATIVE = {
    "Dvořák": "Dvořáku",
    "Procházka": "Procházko",
    "Kučera": "Kučero",
    "Marek": "Marku",
    "Svoboda": "Svobodo",
}
PL_VOCATIVE = {
    "Krzysztof": "Krzysztofie",
    "Piotr": "Piotrze",
    "Paweł": "Pawle",
    "Łukasz": "Łukaszu",
    "Tomasz": "Tomaszu",
    "Marcin": "Marcinie",
    "Agnieszka": "Agnieszko",
    "Małgorzata": "Małgorzato",
    "Katarzyna": "Katarzyno",
    "Joanna": "Joanno",
    "Ewa": "Ewo",
    "Lucia": "Lucio",
}
SELLERS: dict[str, dict[str, Any]] = {
    "jana@demo.dossier.cz": {"female": True, "phone": "+420 603 218 447", "html": True},
    "petr@demo.dossier.cz": {"female": False, "phone": "+420 737 554 102", "html": False},
    "lucia@demo.dossier.cz": {"female": True, "phone": "+421 905 332 871", "html": False},
    "tomasz@demo.dossier.cz": {"female": False, "phone": "+48 601 447 293", "html": True},
}
MANAGER = ("Martin Beneš", "vedouci@demo.dossier.cz")


# What is written, by scenario: who writes each step (them: the partner's person; us: the
# salesperson) and the key of its text. A thread has the first two steps and maybe more.
STEPS: dict[str, list[tuple[str, str]]] = {
    "inquiry": [
        ("them", "inquiry"),
        ("us", "offer"),
        ("them", "offer_question"),
        ("us", "offer_discount"),
        ("them", "offer_thanks"),
    ],
    "meeting": [
        ("us", "meeting"),
        ("them", "meeting_other_time"),
        ("us", "meeting_confirm"),
        ("them", "meeting_parking"),
    ],
    "order": [
        ("them", "order"),
        ("us", "order_confirm"),
        ("them", "order_driver"),
        ("us", "order_driver_ok"),
    ],
    "complaint": [
        ("them", "complaint"),
        ("us", "complaint_answer"),
        ("them", "complaint_thanks"),
    ],
    "pricelist": [
        ("us", "pricelist"),
        ("them", "pricelist_question"),
        ("us", "pricelist_answer"),
    ],
}
SCENARIOS = {
    "Customer": ("inquiry", "meeting", "order", "complaint", "pricelist"),
    "Prospect": ("inquiry", "meeting", "pricelist"),
    "Supplier": ("inquiry", "meeting", "order", "pricelist"),
}
ATTACHMENTS = {"offer": "pdf", "complaint": "png", "pricelist": "csv"}

CZ_MONTHS = (
    *("leden", "únor", "březen", "duben", "květen", "červen"),
    *("červenec", "srpen", "září", "říjen", "listopad", "prosinec"),
)


@dataclass(frozen=True)
class Contact:
    name: str
    addr: str
    female: bool
    country: str
    function: str = ""
    company: str = ""
    address: str = ""
    phone: str = ""
    html: bool = False
    closing: int = 0  # which of the language's closings they use
    mobile: bool = False  # the phone in the signature is a mobile

    @property
    def first(self) -> str:
        return self.name.split()[0]

    @property
    def last(self) -> str:
        return self.name.split()[-1]

    def greeting(self, country: str) -> str:
        """How a letter to this contact begins, in ``country``'s language."""
        template = LANG[country]["hello"][self.female]
        voc = PL_VOCATIVE if country == "PL" else CZ_VOCATIVE
        key = self.first if country == "PL" else self.last
        return str(template.format(last=self.last, voc=voc.get(key, key)))

    def signature(self, country: str) -> list[str]:
        lines = [self.name, self.function, self.company, self.address]
        if self.phone:
            lines.append(f"{LANG[country]['mobile' if self.mobile else 'phone']} {self.phone}")
        return [line for line in lines if line]

    @property
    def domain(self) -> str:
        return self.addr.rpartition("@")[2]


@dataclass
class File:
    name: str
    content_type: str
    data: bytes
    charset: str = ""


@dataclass
class Mail:
    """One message to write, and how it enters the archive."""

    at: dt.datetime  # aware, Europe/Prague
    sender: Contact
    to: list[Contact]
    subject: str
    text: str
    html: str | None = None
    cc: list[Contact] = field(default_factory=list)
    files: list[File] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    message_id: str = ""
    parent: Mail | None = None
    own_text: str = ""  # the text without what it quotes (what a reply quotes)
    boundary: str = ""  # of its MIME parts: as random as a mail program's, but fixed
    # the channel: Source fields other than the key
    user_id: int | None = None
    kind: str = "imap"
    folder: str = "INBOX"
    outgoing: bool = False
    explicit: bool = False
    partner_id: int | None = None
    how: str = "explicit"

    @property
    def references(self) -> list[str]:
        if self.parent is None:
            return []
        return [*self.parent.references, self.parent.message_id][-20:]

    def raw(self) -> bytes:
        msg = EmailMessage()  # policy.default
        msg["From"] = _address(self.sender)
        msg["To"] = tuple(_address(c) for c in self.to)
        if self.cc:
            msg["Cc"] = tuple(_address(c) for c in self.cc)
        msg["Subject"] = self.subject
        msg["Date"] = format_datetime(self.at)
        msg["Message-ID"] = f"<{self.message_id}>"
        if self.parent is not None:
            msg["In-Reply-To"] = f"<{self.parent.message_id}>"
            msg["References"] = " ".join(f"<{r}>" for r in self.references)
        for name, value in self.headers.items():
            msg[name] = value
        msg.set_content(self.text, cte="quoted-printable" if self.html else None)
        if self.html is not None:
            msg.add_alternative(self.html, subtype="html", cte="quoted-printable")
        for f in self.files:
            maintype, _, subtype = f.content_type.partition("/")
            params = {"charset": f.charset} if f.charset else None
            msg.add_attachment(
                f.data, maintype=maintype, subtype=subtype, filename=f.name, params=params
            )
        for n, part in enumerate(p for p in msg.walk() if p.is_multipart()):
            part.set_boundary(f"=_{self.boundary}_{n}")
        return msg.as_bytes()


def _address(contact: Contact) -> Address:
    return Address(display_name=contact.name, addr_spec=contact.addr)


@dataclass(frozen=True)
class DemoMessage:
    raw: bytes
    source: Source
    subject: str


# -- writing ---------------------------------------------------------------------------------
def _paragraph_html(text: str) -> str:
    return "<br>\n".join(escape(line) for line in text.split("\n"))


def compose(
    greeting: str,
    main: str,
    closing: str,
    signature: Sequence[str],
    quote: tuple[str, str] | None = None,
    *,
    html: bool = False,
) -> tuple[str, str, str | None]:
    """The text of a letter, the same without what it quotes, and its HTML (if wanted)."""
    blocks = [b for b in (greeting, main, closing) if b]
    own = "\n\n".join(blocks) + "\n\n" + "\n".join(signature) + "\n"
    text = own
    if quote is not None:
        header, quoted = quote
        text += (
            "\n" + header + "\n" + "\n".join(f"> {line}".rstrip() for line in quoted.split("\n"))
        )
        text = text.rstrip("> \n") + "\n"
    if not html:
        return text, own, None
    paragraphs = [greeting, *main.split("\n\n"), closing]
    parts = [
        '<div style="font-family:Calibri,Arial,sans-serif;font-size:11pt;color:#1f1f1f">',
        *(f"<p>{_paragraph_html(p)}</p>" for p in paragraphs if p),
        '<p style="font-size:9pt;color:#595959;line-height:1.4">'
        f"<b>{escape(signature[0])}</b><br>\n" + _paragraph_html("\n".join(signature[1:])) + "</p>",
        "</div>",
    ]
    if quote is not None:
        parts += [
            '<div style="border-top:1px solid #e1e1e1;margin-top:14px;padding-top:6px;'
            f'font-family:Calibri,Arial,sans-serif;font-size:10pt;color:#595959">{escape(quote[0])}'
            "</div>",
            '<blockquote style="margin:6px 0 0 4px;padding-left:8px;border-left:2px solid #c8c8c8;'
            'font-family:Calibri,Arial,sans-serif;font-size:10pt;color:#404040">'
            f"{_paragraph_html(quote[1].strip())}</blockquote>",
        ]
    body = "\n".join(parts)
    return text, own, f"<!DOCTYPE html>\n<html><body>\n{body}\n</body></html>\n"


def _date_long(day: dt.date, country: str) -> str:
    return f"{day:%d.%m.%Y}" if country == "PL" else f"{day.day}. {day.month}. {day.year}"


def _date_short(day: dt.date, country: str) -> str:
    return f"{day:%d.%m.}" if country == "PL" else f"{day.day}. {day.month}."


def _day_phrase(day: dt.date, country: str) -> str:
    """'ve čtvrtek 26. 11.', 'vo štvrtok 26. 11.', 'w czwartek 26.11.'"""
    return f"{LANG[country]['days_loc'][day.weekday()]} {_date_short(day, country)}"


def _money(amount: float, country: str) -> str:
    return str(LANG[country]["money"]).format(n=f"{round(amount):,}".replace(",", " "))


def _strip_reply_prefix(subject: str) -> str:
    return re.sub(r"^((re|odp|aw|fw|fwd)\s*:\s*)+", "", subject, flags=re.IGNORECASE)


@dataclass
class _Dossier:
    """A partner with what the demo writes about: its people and deals, its salesperson."""

    partner: Partner
    contacts: list[Contact]
    deals: list[Deal]
    seller: User
    us: Contact

    @property
    def country(self) -> str:
        return self.partner.country

    @property
    def domain(self) -> str:
        return self.partner.domains[0]


@dataclass(frozen=True)
class _Draws:
    """What chance decides about a thread, drawn at once before its dates are known, so that
    what the dates decide later does not shift the draws of the threads after it."""

    count: int  # damaged pieces
    item: int  # index into CATALOG
    items: list[int]
    quantities: list[int]
    order: int
    meet: int  # working days from the first message to the proposed meeting
    alt: int  # and from it to the other date
    meet_time: str
    alt_time: str
    deliver: int
    replace: int
    back: int  # when the person is back from holiday
    delivered: int
    months: int  # until the work the inquiry is about
    deadline: int
    value: int
    quotes: list[bool]  # whether each reply quotes the message before

    @classmethod
    def of(cls, rng: random.Random, country: str, steps: int) -> _Draws:
        return cls(
            count=rng.randint(5, 12),
            item=rng.randrange(len(CATALOG)),
            items=rng.sample(range(len(CATALOG)), rng.randint(2, 3)),
            quantities=[rng.choice((20, 40, 60, 120, 200)) for _ in range(3)],
            order=rng.randint(100, 999),
            meet=rng.randint(5, 8),
            alt=rng.randint(1, 2),
            meet_time=rng.choice(("8:30", "9:00", "10:00", "13:00", "14:00")),
            alt_time=rng.choice(("8:00", "9:30", "11:00", "13:30")),
            deliver=rng.randint(8, 15),
            replace=rng.randint(5, 7),
            back=rng.randint(2, 3),
            delivered=rng.randint(1, 4),
            months=rng.randint(2, 6),
            deadline=rng.randint(60, 150),
            value=rng.choice((85_000, 240_000, 560_000, 1_250_000)) // RATE[country],
            quotes=[rng.random() < 0.6 for _ in range(steps)],
        )


@dataclass(frozen=True)
class _Plan:
    """A thread decided, not yet written."""

    dossier: _Dossier
    scenario: str
    steps: list[tuple[str, str]]
    times: list[dt.datetime]  # local (Europe/Prague), naive
    person: Contact
    cc: list[Contact]
    deal: Deal | None
    use_tag: bool
    cc_manager: bool
    draws: _Draws
    auto_reply: bool


class _Writer:
    def __init__(self, session: Session, now: dt.datetime) -> None:
        self.s = session
        self.rng = random.Random(SEED)
        self.tz = prague()
        self.local_now = now.astimezone(self.tz).replace(tzinfo=None)
        self.today = self.local_now.date()
        self.first_day = self.today - dt.timedelta(days=WINDOW_DAYS)
        self.mails: list[Mail] = []
        self.plans: list[_Plan] = []
        self.offer_numbers: dict[int, int] = {}
        self.claims = 0
        self.our_company_id = ico(random.Random(SEED))
        self.users = {
            u.email: u for u in session.scalars(select(User).where(User.email.in_(SELLERS)))
        }

    # -- people --------------------------------------------------------------------------------
    def seller_contact(self, user: User, country: str) -> Contact:
        facts = SELLERS[user.email]
        lang = LANG[country]
        return Contact(
            user.name,
            user.email,
            bool(facts["female"]),
            country,
            function=lang["seller_title"][facts["female"]],
            company=OUR_COMPANY,
            address=OUR_ADDRESS,
            phone=str(facts["phone"]),
            html=bool(facts["html"]),
            mobile=True,
        )

    def dossiers(self) -> list[_Dossier]:
        persons: dict[int, list[Person]] = {}
        for person in self.s.scalars(select(Person).order_by(Person.id)):
            persons.setdefault(person.partner_id, []).append(person)
        deals: dict[int, list[Deal]] = {}
        for deal in self.s.scalars(select(Deal).order_by(Deal.id)):
            deals.setdefault(deal.partner_id, []).append(deal)
        found = []
        for partner in self.s.scalars(select(Partner).order_by(Partner.id)):
            seller = partner.salesperson
            people = [p for p in persons.get(partner.id, []) if p.emails]
            if seller is None or seller.email not in SELLERS or not people or not partner.domains:
                continue
            contacts = [self.person_contact(partner, p) for p in people]
            found.append(
                _Dossier(
                    partner,
                    contacts,
                    deals.get(partner.id, []),
                    seller,
                    self.seller_contact(seller, partner.country),
                )
            )
        return found

    def person_contact(self, partner: Partner, person: Person) -> Contact:
        rng = self.rng
        html, closing = rng.random() < 0.3, rng.randrange(3)
        return Contact(
            person.name,
            person.emails[0],
            person.name.split()[0] in FEMALE,
            partner.country,
            function=person.function,
            company=partner.name,
            address=f"{partner.street}, {partner.postal_code} {partner.city}",
            phone=person.phones[0] if person.phones else "",
            html=html,
            closing=closing,
        )

    # -- time ----------------------------------------------------------------------------------
    def schedule(
        self, start: dt.date, count: int, max_gap: int, forced: dict[int, int] | None = None
    ) -> list[dt.datetime]:
        """Office-hour moments of a thread's messages, the first on ``start`` (or the Friday
        before), each reply some minutes to ``max_gap`` working days after the one before;
        ``forced``: step -> working days after the first. Nothing lies in the future: a thread
        that would end after now moves back by whole weeks."""
        rng = self.rng
        moment = dt.datetime.combine(
            _workday(start), dt.time(rng.randint(7, 15), rng.randint(0, 59))
        )
        times = [moment]
        for step in range(1, count):
            soon = rng.random() < 0.45
            minutes, days = rng.randint(25, 200), rng.randint(1, max_gap)
            at = dt.time(rng.randint(7, 16), rng.randint(0, 59))
            later = moment + dt.timedelta(minutes=minutes)
            if forced and step in forced:
                day = _add_workdays(times[0].date(), forced[step])
                moment = dt.datetime.combine(day, dt.time(8, at.minute))
            elif soon and later.hour < 17 and later.date() == moment.date():
                moment = later
            else:
                moment = dt.datetime.combine(_add_workdays(moment.date(), days), at)
            times.append(moment)
        while times[-1] > self.local_now - dt.timedelta(minutes=30):
            times = [t - dt.timedelta(days=7) for t in times]
        return times

    def aware(self, moment: dt.datetime) -> dt.datetime:
        return moment.replace(tzinfo=self.tz)

    def window(self, dossier: _Dossier, deal: Deal | None = None) -> tuple[dt.date, dt.date]:
        """The days a thread may start on: the last half year, after the partner (and around
        the deal) came to be, not after the deal was closed."""
        first = max(self.first_day, dossier.partner.created_at.date() + dt.timedelta(days=2))
        last = self.today
        if deal is not None:
            first = max(first, deal.created_at.date() - dt.timedelta(days=10))
            if deal.closed_at is not None:
                last = min(last, deal.closed_at.date() - dt.timedelta(days=3))
        return first, last

    def start_day(self, first: dt.date, last: dt.date) -> dt.date:
        return first + dt.timedelta(days=self.rng.randint(0, max(0, (last - first).days)))

    # -- numbers -------------------------------------------------------------------------------
    def offer_number(self, year: int) -> str:
        self.offer_numbers[year] = self.offer_numbers.get(year, 0) + 1
        return f"{year}-{self.offer_numbers[year]:03d}"

    def claim_number(self, year: int, country: str) -> str:
        self.claims += 1
        return f"RK/{year}/{self.claims:03d}" if country == "PL" else f"R-{year}-{self.claims:03d}"

    # -- messages ------------------------------------------------------------------------------
    def add(self, mail: Mail) -> Mail:
        """Give the mail its Message-ID (as a mail program would) and keep it."""
        stamp = mail.at.astimezone(dt.UTC)
        token = self.rng.getrandbits(40)
        mail.message_id = f"{stamp:%Y%m%d%H%M%S}.{token:010x}@{mail.sender.domain}"
        mail.boundary = f"{self.rng.getrandbits(48):012x}"
        self.mails.append(mail)
        return mail

    def letter(
        self,
        at: dt.datetime,
        sender: Contact,
        recipient: Contact,
        country: str,
        subject: str,
        main: str,
        *,
        parent: Mail | None = None,
        quote: bool = False,
        cc: Sequence[Contact] = (),
        files: Sequence[File] = (),
    ) -> Mail:
        lang = LANG[country]
        quoted = None
        if parent is not None and quote:
            when = parent.at
            header = str(lang["quote"]).format(
                date=_date_long(when.date(), country),
                time=f"{when:%H:%M}",
                name=parent.sender.name,
                addr=parent.sender.addr,
            )
            quoted = (header, parent.own_text)
        text, own, html = compose(
            recipient.greeting(country),
            main,
            lang["closing"][sender.closing],
            sender.signature(country),
            quoted,
            html=sender.html,
        )
        return Mail(
            at=at,
            sender=sender,
            to=[recipient],
            cc=list(cc),
            subject=subject,
            text=text,
            own_text=own,
            html=html,
            files=list(files),
            parent=parent,
        )

    def tokens(self, sender: Contact, recipient: Contact, country: str) -> dict[str, str]:
        """The words that depend on who writes to whom (gender)."""
        lang = LANG[country]
        return {
            "glad": lang["glad"][sender.female],
            "a": "a" if sender.female else "",
            "would": "Chciałabym" if sender.female else "Chciałbym",
            "you_inst": "Panią" if recipient.female else "Panem",
            "you_dat": "Pani" if recipient.female else "Panu",
            "you_acc": "Panią" if recipient.female else "Pana",
        }

    def plan(self, dossier: _Dossier, scenario: str, *, auto_reply: bool = False) -> None:
        """Decide a thread: who, about which deal, how long, when. It is written later, in the
        order of the plans' offers, so that offer and claim numbers rise with the date."""
        rng = self.rng
        steps = STEPS[scenario]
        steps = steps[: max(3 if auto_reply else 2, rng.randint(2, len(steps)))]
        person = dossier.contacts[rng.randrange(len(dossier.contacts))]
        colleague = dossier.contacts[rng.randrange(len(dossier.contacts))]
        cc_colleague = colleague is not person and rng.random() < 0.25
        deal = self.pick_deal(dossier, scenario)
        use_tag = rng.random() < 0.7
        cc_manager = rng.random() < 0.3
        draws = _Draws.of(rng, dossier.country, len(steps))
        first, last = self.window(dossier, deal)
        forced = {1: draws.back} if auto_reply else None
        times = self.schedule(
            self.start_day(first, last), len(steps), 1 if scenario == "meeting" else 3, forced
        )
        self.plans.append(
            _Plan(
                dossier,
                scenario,
                steps,
                times,
                person,
                [colleague] if cc_colleague else [],
                deal,
                use_tag,
                cc_manager,
                draws,
                auto_reply,
            )
        )

    def write(self, plan: _Plan) -> None:
        """Write a planned thread."""
        dossier, scenario, steps, times = plan.dossier, plan.scenario, plan.steps, plan.times
        person, deal, draws = plan.person, plan.deal, plan.draws
        country = dossier.country
        lang = LANG[country]
        start = times[0].date()
        topic = re.sub(r"\s+\d{4}$", "", deal.title) if deal else self.topic(dossier)
        value = float(deal.value) if deal and deal.value else float(draws.value)
        meet = _add_workdays(start, draws.meet)
        alt = _add_workdays(meet, draws.alt)
        month = start.replace(day=1) + dt.timedelta(days=32 * draws.months)
        next_month = (start.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        items = [
            f"- {q} {LANG[country]['unit_pcs'] if CATALOG[i][1] == 'pcs' else CATALOG[i][1]} "
            f"{CATALOG[i][3][country]}"
            for i, q in zip(draws.items, draws.quantities, strict=False)
        ]
        order_no = {
            "CZ": f"OBJ-{start.year}-{draws.order:04d}",
            "SK": f"OBJ/{start.year}/{draws.order}",
            "PL": f"ZAM/{draws.order}/{start.year}",
        }[country]
        values = {
            "topic": topic,
            "tag": f" [D-{deal.id}]" if deal is not None and plan.use_tag else "",
            "offer_no": self.offer_number(start.year) if scenario in ("inquiry", "order") else "",
            "value": _money(value, country),
            "value_discount": _money(round(value * 0.97, -2), country),
            "lead_time": lang["lead_time"],
            "season": f"{lang['seasons'][month.month % 12 // 3]} {month.year}",
            "deadline": _date_long(start + dt.timedelta(days=draws.deadline), country),
            "street": dossier.partner.street,
            "postal": dossier.partner.postal_code,
            "city": dossier.partner.city,
            "meet_day": _day_phrase(meet, country),
            "meet_day_nom": f"{lang['days_nom'][meet.weekday()]} {_date_short(meet, country)}",
            "meet_time": draws.meet_time,
            "alt_day": _day_phrase(alt, country),
            "alt_time": draws.alt_time,
            "order_no": order_no,
            "items": "\n".join(items),
            "deliver_date": _date_long(_add_workdays(start, draws.deliver), country),
            "their_phone": person.phone,
            "delivery_date": _date_long(
                _add_workdays(start - dt.timedelta(days=7), draws.delivered), country
            ),
            "count": str(draws.count),
            "item": lang["quoted"].format(CATALOG[draws.item][3][country]),
            "claim_no": self.claim_number(start.year, country) if scenario == "complaint" else "",
            "replace_day": _day_phrase(_add_workdays(start, draws.replace), country),
            "valid_from": _date_long(next_month, country),
            "office": dossier.partner.emails[0] if dossier.partner.emails else person.addr,
            "back_day": _day_phrase(_add_workdays(start, draws.back), country),
        }
        parent: Mail | None = None
        for n, ((who, key), moment) in enumerate(zip(steps, times, strict=True)):
            ours = who == "us"
            sender, recipient = (dossier.us, person) if ours else (person, dossier.us)
            words = {**values, **self.tokens(sender, recipient, country)}
            if key in SUBJECTS[country]:
                subject = SUBJECTS[country][key].format(**words)
            else:
                assert parent is not None
                prefix = "RE: " if sender.html and country != "PL" else lang["re"]
                subject = prefix + _strip_reply_prefix(parent.subject)
            files = self.files(key, country, dossier, words, moment)
            cc = list(plan.cc)
            if key == "offer" and plan.cc_manager:
                cc.append(Contact(*MANAGER, False, country))
            mail = self.letter(
                self.aware(moment),
                sender,
                recipient,
                country,
                subject,
                BODIES[country][key].format(**words),
                parent=parent,
                quote=draws.quotes[n],
                cc=cc,
                files=files,
            )
            mail.user_id = dossier.seller.id
            mail.outgoing = ours
            mail.folder = "Sent" if ours else "INBOX"
            parent = self.add(mail)
            if plan.auto_reply and n == 0:
                self.out_of_office(dossier, mail, person, values)

    def out_of_office(
        self, dossier: _Dossier, original: Mail, person: Contact, values: dict[str, str]
    ) -> None:
        """The person's automatic answer, filed by the salesperson into CRM/<partner>."""
        country = dossier.country
        lang = LANG[country]
        text, own, _html = compose(
            lang["hello_plain"],
            BODIES[country]["auto"].format(**values),
            "",
            [person.name, person.company],
        )
        mail = Mail(
            at=original.at + dt.timedelta(minutes=self.rng.randint(1, 3)),
            sender=person,
            to=[dossier.us],
            subject=lang["auto"] + original.subject,
            text=text,
            own_text=own,
            parent=original,
            headers={"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All"},
            user_id=dossier.seller.id,
            folder=f"CRM/{dossier.partner.name}",
            explicit=True,
            partner_id=dossier.partner.id,
            how="folder",
        )
        self.add(mail)

    def topic(self, dossier: _Dossier) -> str:
        return self.rng.choice(DEAL_TITLES[dossier.country])

    def pick_deal(self, dossier: _Dossier, scenario: str) -> Deal | None:
        """A deal the thread is about: a won one for orders and complaints, else an open one;
        one whose time fits the last half year."""
        if scenario == "pricelist":
            return None
        fitting = []
        for deal in dossier.deals:
            first, last = self.window(dossier, deal)
            if (last - first).days >= 5:
                fitting.append(deal)
        wanted = "won" if scenario in ("order", "complaint") else "open"
        ranked = [d for d in fitting if d.status == wanted] or [
            d for d in fitting if d.status != "lost"
        ]
        return self.rng.choice(ranked) if ranked else None

    def files(
        self, key: str, country: str, dossier: _Dossier, words: dict[str, str], moment: dt.datetime
    ) -> list[File]:
        kind = ATTACHMENTS.get(key)
        if kind == "pdf":
            name = {"CZ": "Nabídka č. {}", "SK": "Ponuka č. {}", "PL": "Oferta nr {}"}[country]
            title = name.format(words["offer_no"])
            data = pdf_document(
                title, self.offer_lines(country, dossier, words, moment), self.aware(moment)
            )
            return [File(f"{title}.pdf", "application/pdf", data)]
        if kind == "png":
            name = {
                "CZ": "foto_poskozeni_{}.png",
                "SK": "foto_poskodenie_{}.png",
                "PL": "zdjecie_uszkodzenia_{}.png",
            }[country]
            return [File(name.format(1), "image/png", png_photo(self.rng.randint(0, 10**6)))]
        if kind == "csv":
            name = {"CZ": "Ceník", "SK": "Cenník", "PL": "Cennik"}[country]
            data = price_list_csv(country, words["valid_from"])
            return [File(f"{name} {moment:%Y-%m}.csv", "text/csv", data, charset="windows-1250")]
        return []

    def offer_lines(
        self, country: str, dossier: _Dossier, words: dict[str, str], moment: dt.datetime
    ) -> list[tuple[str, int, bool]]:
        """The offer's page: (text, font size, bold) line by line."""
        partner, seller, label = dossier.partner, dossier.us, OFFER_LABELS[country]
        value = float(re.sub(r"[^\d]", "", words["value"]))
        vat = int(LANG[country]["vat"])
        customer_id = partner.vat_id[2:] if country == "PL" else partner.company_id
        customer = f"{partner.name}, {partner.street}, {partner.postal_code} {partner.city}"
        blank = ("", 0, False)
        return [
            (f"{label['heading']} {words['offer_no']}", 18, True),
            blank,
            (
                f"{label['supplier']}: {OUR_COMPANY}, {OUR_ADDRESS}, IČO {self.our_company_id}",
                10,
                False,
            ),
            (f"{label['customer']}: {customer}, {label['id']} {customer_id}", 10, False),
            (
                f"{label['date']}: {_date_long(moment.date(), country)}    {label['valid']}",
                10,
                False,
            ),
            blank,
            (f"{label['subject']}: {words['topic']}", 12, True),
            blank,
            (f"{label['net']}: {_money(value, country)}", 11, False),
            (f"{label['vat'].format(vat)}: {_money(value * vat / 100, country)}", 11, False),
            (f"{label['gross']}: {_money(value * (100 + vat) / 100, country)}", 11, True),
            blank,
            (f"{label['lead']}: {words['lead_time']} {label['lead_after']}", 10, False),
            (f"{label['terms']}", 10, False),
            blank,
            (
                f"{label['author']}{words['a']}: {seller.name}, {seller.addr}, {seller.phone}",
                10,
                False,
            ),
        ]

    # -- the rest of the mailbox ---------------------------------------------------------------
    def unknown_people(self, dossiers: Sequence[_Dossier]) -> None:
        """People at partners' domains whom the CRM does not know (filed by the domain): an
        accountant asking about an invoice (and the salesperson's answer, filed by the thread),
        a new buyer introducing themselves."""
        rng = self.rng
        for country in ("CZ", "SK", "PL"):
            eligible = [d for d in dossiers if d.country == country and not d.partner.private]
            chosen = rng.sample(eligible, min(3, len(eligible)))
            people = UNKNOWN[country]
            for dossier, (name, mailbox, female, function) in zip(
                chosen, [*people["invoice"], *people["colleague"]], strict=False
            ):
                kind = "invoice" if mailbox in {p[1] for p in people["invoice"]} else "colleague"
                them = Contact(
                    name,
                    f"{mailbox}@{dossier.domain}",
                    female,
                    country,
                    function=function,
                    company=dossier.partner.name,
                    closing=rng.randrange(3),
                )
                first, last = self.window(dossier)
                times = self.schedule(self.start_day(first, last), 2, 2)
                year = times[0].year
                serial = rng.randint(200, 900)
                invoice = (
                    f"FV/{serial:04d}/{year}" if country == "PL" else f"FV-{year}-{serial:04d}"
                )
                words = {"invoice_no": invoice}
                mail = self.letter(
                    self.aware(times[0]),
                    them,
                    dossier.us,
                    country,
                    SUBJECTS[country][kind].format(**words),
                    BODIES[country][kind].format(**words),
                )
                mail.user_id = dossier.seller.id
                self.add(mail)
                if kind == "invoice":
                    lang = LANG[country]
                    prefix = "RE: " if dossier.us.html and country != "PL" else lang["re"]
                    answer = self.letter(
                        self.aware(times[1]),
                        dossier.us,
                        them,
                        country,
                        prefix + mail.subject,
                        BODIES[country]["invoice_answer"],
                        parent=mail,
                        quote=True,
                    )
                    answer.user_id = dossier.seller.id
                    answer.outgoing = True
                    answer.folder = "Sent"
                    self.add(answer)

    def newsletter(self, dossiers: Sequence[_Dossier]) -> None:
        """A supplier's newsletter: HTML with remote images (which the archive blocks) and a
        tracking pixel; filed to the supplier by its domain."""
        czech = [d for d in dossiers if d.country == "CZ" and not d.partner.private]
        named = [d for d in czech if d.partner.name == NEWSLETTER_FROM]
        if not (named or czech):
            return
        dossier = (named or czech)[0]
        partner, domain = dossier.partner, dossier.domain
        day = _workday(self.today - dt.timedelta(days=self.rng.randint(25, 35)))
        at = self.aware(dt.datetime.combine(day, dt.time(10, self.rng.randint(0, 10))))
        subject = f"{partner.name} – novinky {CZ_MONTHS[at.month - 1]} {at.year}"
        tracking = f"{self.rng.getrandbits(64):016x}"
        folder = f"https://www.{domain}/newsletter/{at:%Y-%m}"
        from_day = _date_long(
            (at.date().replace(day=1) + dt.timedelta(days=32)).replace(day=1), "CZ"
        )
        products = [
            ("Opěrné L-stěny", "nově i ve výšce 150 cm"),
            ("Silážní žlaby", "s hladkým povrchem odolným kyselinám"),
            ("Obrubníky 100/25/15", "s expresním dodáním do 48 hodin"),
        ]
        address = f"{partner.name}, {partner.street}, {partner.postal_code} {partner.city}"
        unsubscribe = f"https://www.{domain}/newsletter/odhlasit?u={tracking}"
        items = "".join(f"<li><b>{escape(a)}</b> {escape(b)}</li>" for a, b in products)
        html = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{escape(subject)}</title>
<style>body {{ margin: 0; }} .button:hover {{ opacity: .9; }}</style></head>
<body style="margin:0;background:#eef1f4">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" bgcolor="#eef1f4">
<tr><td align="center" style="padding:20px 0">
<table role="presentation" width="600" cellpadding="0" cellspacing="0" bgcolor="#ffffff"
 style="font-family:Arial,Helvetica,sans-serif;color:#333333">
<tr><td><img src="{folder}/hlavicka.jpg" width="600" height="160" alt="{escape(partner.name)}"
 style="display:block"></td></tr>
<tr><td style="padding:24px 32px;font-size:14px;line-height:1.5">
<h1 style="font-size:22px;color:#1d4f91;margin:0 0 12px">Nové prefabrikáty pro zemědělské
 a silniční stavby</h1>
<p>Vážení obchodní partneři,</p>
<p>od {from_day} rozšiřujeme výrobu o nové typy prefabrikátů. Co je nového:</p>
<ul>{items}</ul>
<p><img src="{folder}/l-steny.jpg" width="536" height="220" alt="Opěrné L-stěny"
 style="display:block"></p>
<p>Expedice má nově otevřeno v pracovní dny od 6:00 do 18:00 a v sobotu od 7:00 do 12:00.</p>
<p style="text-align:center;padding:12px 0"><a class="button"
 href="https://www.{domain}/produkty?utm_source=newsletter&amp;utm_medium=email"
 style="background-color:#1d4f91;color:#ffffff;padding:10px 20px;text-decoration:none;
 border-radius:4px">Prohlédnout sortiment</a></p>
</td></tr>
<tr><td style="padding:16px 32px;font-size:11px;color:#888888;background-color:#f6f7f9">
{escape(address)}<br>
Tento e-mail jste obdrželi jako obchodní partner naší společnosti.
<a href="{unsubscribe}" style="color:#888888">Odhlásit odběr</a></td></tr>
</table></td></tr></table>
<img src="https://mail.{domain}/o/{tracking}.gif" width="1" height="1" alt="">
</body></html>
"""
        lines = "\n".join(f"- {a} {b}" for a, b in products)
        text = (
            "Nové prefabrikáty pro zemědělské a silniční stavby\n\n"
            "Vážení obchodní partneři,\n\n"
            f"od {from_day} rozšiřujeme výrobu o nové typy prefabrikátů. Co je nového:\n\n"
            f"{lines}\n\n"
            "Expedice má nově otevřeno v pracovní dny od 6:00 do 18:00 a v sobotu od 7:00 "
            "do 12:00.\n\n"
            f"Prohlédnout sortiment: https://www.{domain}/produkty\n\n"
            f"{address}\nOdhlásit odběr: {unsubscribe}\n"
        )
        sender = Contact(partner.name, f"newsletter@{domain}", False, "CZ")
        mail = Mail(
            at=at,
            sender=sender,
            to=[dossier.us],
            subject=subject,
            text=text,
            html=html,
            headers={
                "Reply-To": f"obchod@{domain}",
                "List-Unsubscribe": f"<{unsubscribe}>, <mailto:{sender.addr}?subject=unsubscribe>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                "Precedence": "bulk",
            },
            user_id=dossier.seller.id,
        )
        self.add(mail)

    def strangers(self) -> None:
        """Mail from people the CRM does not know, which a salesperson filed by hand (an upload,
        a dropped file): it waits in their triage queue."""
        rng = self.rng
        for email, letters in TRIAGE.items():
            user = self.users.get(email)
            if user is None:
                continue
            country = {"lucia": "SK", "tomasz": "PL"}.get(email.split("@")[0], "CZ")
            us = self.seller_contact(user, country)
            for n, (name, addr, subject, body) in enumerate(letters):
                day = _workday(self.today - dt.timedelta(days=rng.randint(1, 20)))
                moment = dt.datetime.combine(day, dt.time(rng.randint(7, 16), rng.randint(0, 59)))
                while moment > self.local_now - dt.timedelta(minutes=30):
                    moment -= dt.timedelta(days=7)
                year = {"next_year": str(self.today.year + 1)}
                mail = Mail(
                    at=self.aware(moment),
                    sender=Contact(name, addr, False, country),
                    to=[us],
                    subject=subject.format(**year),
                    text=body.format(**year),
                    user_id=user.id,
                    kind=("upload", "file")[n % 2],
                    folder="",
                    explicit=True,
                )
                self.add(mail)

    def build(self) -> list[DemoMessage]:
        rng = self.rng
        dossiers = self.dossiers()
        for n, dossier in enumerate(dossiers):
            count = 1 if dossier.partner.status == "passive" else rng.choice((1, 2, 2, 3))
            kind = dossier.partner.kind.label if dossier.partner.kind else "Customer"
            chosen = rng.sample(SCENARIOS.get(kind, SCENARIOS["Customer"]), count)
            if n == 0:  # the first partner's first thread has the out-of-office reply
                chosen = ["meeting", *(c for c in chosen if c != "meeting")][: max(2, count)]
            for k, scenario in enumerate(chosen):
                self.plan(dossier, scenario, auto_reply=n == 0 and k == 0)
        for plan in sorted(self.plans, key=lambda p: p.times[min(1, len(p.times) - 1)]):
            self.write(plan)
        self.unknown_people(dossiers)
        self.newsletter(dossiers)
        self.strangers()
        ordered = sorted(self.mails, key=lambda m: m.at)  # stable: a reply comes after its parent
        return [
            DemoMessage(
                mail.raw(),
                Source(
                    kind=mail.kind,
                    key=f"{KEY_PREFIX}{n}",
                    user_id=mail.user_id,
                    folder=mail.folder,
                    explicit=mail.explicit,
                    partner_id=mail.partner_id,
                    how=mail.how,
                    outgoing=mail.outgoing,
                ),
                mail.subject,
            )
            for n, mail in enumerate(ordered, start=1)
        ]


def demo_messages(session: Session, now: dt.datetime | None = None) -> list[DemoMessage]:
    """The demo's mail as raw messages with their sources, oldest first (nothing stored)."""
    return _Writer(session, now or dt.datetime.now(dt.UTC)).build()


def load_demo_mail(db: Database) -> int:
    """Archive the demo's mail (after ``crm.demo.load_demo``); returns how many messages were
    stored. Once only: when demo mail is there already, stores nothing and returns 0."""
    with db.session() as s:
        loaded = select(MessageSource.id).where(MessageSource.key.startswith(KEY_PREFIX))
        if s.scalar(loaded.limit(1)) is not None:
            return 0
        messages = demo_messages(s)
    blobs = BlobStore(db.settings.blob_dir)
    filer = RuleFiler()
    stored = 0
    for start in range(0, len(messages), BATCH):
        with db.session() as s:
            archive = Archive(s, blobs, filer)
            for message in messages[start : start + BATCH]:
                result = archive.ingest(message.raw, message.source)
                stored += result.status in ("archived", "triaged")
    return stored


def message_count(db: Database) -> int:
    with db.session(write=False) as s:
        return s.scalar(select(func.count()).select_from(Message)) or 0
