"""Latency of the mail pages at an archive's real size (issue: the mail list at real size).

Seeds a fresh data directory with N archived messages (default 100,000) by bulk inserts into
the real schema, on SQLite and on PostgreSQL (a throwaway cluster, as tests/servers/postgres.py
starts it): one partner holds half of them, the rest spread over 1,000 partners, some of which
the salesperson measured here may not see (private to a colleague, another team); every message
has a source (a mailbox copy, a tenth of them the salesperson's own) and a link, some a deal
link; a few hundred wait in the salesperson's triage queue. Subjects, senders and dates repeat,
so every sort has ties. Then it measures through the real WSGI app, logged in as that
salesperson (the permission rule is in every query), and as an admin for the default list:

  - the mail list's first, middle and last page in date order, and first and last page of every
    other sort, by the links the pager offers;
  - a partner's dossier with 50,000 mails;
  - the triage page, and its weight in bytes.

Prints median and p95 in milliseconds per case and backend, and whether p95 meets 50 ms.
Run: .venv/bin/python bench/mail.py [--messages N] [--requests R] [--backend sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask.testing import FlaskClient
from sqlalchemy import insert, select

from crm.bootstrap import initialize
from crm.models import Deal, Partner, Person, User
from crm.services import codebooks
from crm.services.users import create_user
from crm.settings import Settings
from crm.text import fold
from mail_archive.models import Message, MessageLink, MessageSource
from web import create_app

TARGET_MS = 50.0
PASSWORD = "bench-password"
PARTNERS = 1000
BUSY = 1  # the partner that holds half the archive
WORDS = [
    "Nabídka",
    "Objednávka",
    "Faktura",
    "Reklamace",
    "Smlouva",
    "Cenník",
    "Zamówienie",
    "Oferta",
    "Dodávka",
    "Termín",
    "Schůzka",
    "Příloha",
]
FIRST = ["Jana", "Petr", "Eva", "Marek", "Zuzana", "Łukasz", "Ondřej", "Katarína", "Paweł"]
LAST = ["Nováková", "Dvořák", "Horváth", "Kowalski", "Černý", "Wiśniewska", "Kováč", "Svoboda"]


def seed(settings: Settings, n_messages: int, body_size: int) -> dict[str, Any]:
    """The archive; returns what the measurements need."""
    db = initialize(settings)
    rng = random.Random(11)
    start = time.perf_counter()
    with db.session() as s:
        admin = create_user(s, "admin@bench.cz", "Admin", "admin", [], PASSWORD)
        jana = create_user(s, "jana@bench.cz", "Jana Nováková", "sales", ["Obchod"], PASSWORD)
        petr = create_user(s, "petr@bench.cz", "Petr Dvořák", "sales", ["Obchod"], PASSWORD)
        eva = create_user(s, "eva@bench.cz", "Eva Horváthová", "sales", ["Export"], PASSWORD)
        obchod, export = jana.groups[0].id, eva.groups[0].id
        stages = [e.id for e in codebooks.entries(s, "deal_stage")]
        ids = {"admin": admin.id, "jana": jana.id, "petr": petr.id, "eva": eva.id}
    now = dt.datetime(2027, 3, 1, 12, 0, tzinfo=dt.UTC)
    partners, persons, deals = [], [], []
    for i in range(1, PARTNERS + 1):
        name = f"{rng.choice(WORDS)} {rng.choice(LAST)} {i} s.r.o."
        other_team = i % 7 == 0 and i != BUSY
        partners.append(
            dict(
                id=i,
                name=name,
                name_key=fold(name),
                status="active" if i % 5 else "passive",
                street="Hlavní 1",
                city="Brno",
                postal_code="",
                country="CZ",
                phones=[],
                emails=[],
                web="",
                company_id=str(20_000_000 + i),
                vat_id="",
                category="",
                note="",
                custom={},
                group_id=export if other_team else obchod,
                salesperson_id=ids["eva"] if other_team else ids["petr"],
                owner_company_id=None,
                private=i % 10 == 0 and i != BUSY,  # private to Petr: Jana does not see it
                created_at=now,
                updated_at=now,
            )
        )
        pname = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        persons.append(
            dict(
                id=i,
                partner_id=i,
                name=pname,
                name_key=fold(pname),
                function="",
                emails=[],
                phones=[],
                notes="",
                custom={},
                created_at=now,
                updated_at=now,
            )
        )
        for j in range(2):
            title = f"{rng.choice(WORDS)} {i}-{j}"
            deals.append(
                dict(
                    id=2 * i - 1 + j,
                    title=title,
                    title_key=fold(title),
                    partner_id=i,
                    stage_id=rng.choice(stages),
                    value=rng.randint(10, 5000) * 1000,
                    currency="CZK",
                    status="open",
                    close_note="",
                    custom={},
                    group_id=export if other_team else obchod,
                    salesperson_id=ids["eva"] if other_team else ids["petr"],
                    owner_company_id=None,
                    private=False,
                    created_at=now,
                    updated_at=now,
                )
            )
    filler = "Dobrý den, posíláme podklady k zakázce. " * (body_size // 40 + 1)
    triage_rows = 300
    with db.session() as s:
        for model, rows in ((Partner, partners), (Person, persons), (Deal, deals)):
            s.execute(insert(model), rows)
        messages: list[dict[str, Any]] = []
        sources: list[dict[str, Any]] = []
        links: list[dict[str, Any]] = []
        link_id = 0

        def flush() -> None:
            for model, rows in ((Message, messages), (MessageSource, sources)):
                if rows:
                    s.execute(insert(model), rows)
                rows.clear()
            if links:
                s.execute(insert(MessageLink), links)
            links.clear()

        for m in range(1, n_messages + 1):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            partner = BUSY if m % 2 else rng.randint(2, PARTNERS)
            status = "filed"
            if m % (n_messages // triage_rows) == 0:
                status = "triage"
            # minutes, so that dates tie now and then
            sort_at = now - dt.timedelta(minutes=rng.randint(0, 2 * 365 * 24 * 60))
            body = filler[rng.randint(0, 40) :][:body_size]
            messages.append(
                dict(
                    id=m,
                    sha256=f"{m:064x}",
                    internet_id=f"{m}@bench.cz",
                    size=len(body) * 3,
                    subject=f"{rng.choice(WORDS)} č. {rng.randint(1, 400)}",
                    from_name="" if m % 13 == 0 else f"{first} {last}",
                    from_addr=f"{fold(first)}.{fold(last)}@firma{partner}.cz",
                    to_addrs=[["Jana Nováková", "jana@bench.cz"]],
                    cc_addrs=[],
                    sent_at=sort_at,
                    archived_at=now,
                    sort_at=sort_at,
                    direction="out" if m % 3 == 0 else "in",
                    in_reply_to="",
                    references=[],
                    thread_key=f"{m}@bench.cz",
                    body_text=body,
                    body_html=f"<p>{body}</p><p>{body}</p>",
                    remote_blocked=0,
                    defects=[],
                    auto=False,
                    has_attachments=m % 4 == 0,
                    status=status,
                    owner_id=ids["jana"] if status == "triage" else None,
                )
            )
            mailbox_user = ids["jana"] if m % 10 == 0 else ids[rng.choice(["petr", "eva"])]
            sources.append(
                dict(
                    message_id=m,
                    kind="imap",
                    key=f"imap:1:INBOX:1:{m}",
                    account_id=1,
                    folder="INBOX",
                    sha256=f"{m:064x}",
                    user_id=mailbox_user,
                    created_at=now,
                )
            )
            if status == "filed":
                link_id += 1
                links.append(
                    dict(
                        id=link_id,
                        message_id=m,
                        target=f"partner:{partner}",
                        partner_id=partner,
                        how="address",
                        created_at=now,
                        sort_at=sort_at,
                        removed=False,
                    )
                )
                if m % 10 == 1:
                    link_id += 1
                    deal = 2 * partner - 1
                    links.append(
                        dict(
                            id=link_id,
                            message_id=m,
                            target=f"deal:{deal}",
                            deal_id=deal,
                            how="tag",
                            created_at=now,
                            sort_at=sort_at,
                            removed=False,
                        )
                    )
            if len(messages) >= 2000:
                flush()
        flush()
    # what dossier serve's housekeeping worker does at start and hourly (crm.housekeeping)
    db.refresh_statistics()
    db.dispose()
    return {"build_s": time.perf_counter() - start, "triage": triage_rows}


@contextmanager
def backend_settings(backend: str, home: Path) -> Iterator[Settings]:
    if backend == "sqlite":
        yield Settings(home=home, secret_key="bench")
        return
    from tests.servers.postgres import postgres_server

    with postgres_server() as server:
        server.admin_sql("CREATE DATABASE bench")
        yield Settings(home=home, database_url=server.url("bench"), secret_key="bench")


def logged_in(settings: Settings, email: str) -> FlaskClient:
    app = create_app(settings)
    client = app.test_client()
    client.get("/login")
    with client.session_transaction() as sess:
        csrf = sess["csrf"]
    answer = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf})
    assert answer.status_code == 302, answer.status_code
    return client


def measure(call: Callable[[], Any], requests: int) -> tuple[float, float]:
    times = []
    for _ in range(3):  # warm-up
        call()
    for _ in range(requests):
        t = time.perf_counter()
        response = call()
        times.append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200, response.status_code
    times.sort()
    return statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)]


PAGER_LINK = re.compile(r'<a href="([^"]+)" rel="(first|prev|next|last)"')


def pager_links(client: FlaskClient, url: str) -> dict[str, str]:
    html = client.get(url).get_data(as_text=True)
    return {rel: href.replace("&amp;", "&") for href, rel in PAGER_LINK.findall(html)}


def page_url(client: FlaskClient, base: str, which: str, pages: int) -> str:
    """The URL of the first, middle or last page as the pager leads there: its "last" link
    when it has one (else ?page=N); the middle page by walking "next" from the first, or by
    ?page=N on a pager that numbers its pages."""
    joiner = "&" if "?" in base else "?"
    if which == "first":
        return base
    links = pager_links(client, base)
    if which == "last":
        return links.get("last") or f"{base}{joiner}page={pages}"
    if "last" not in links:
        return f"{base}{joiner}page={pages // 2}"
    url = base
    for _ in range(pages // 2 - 1):
        url = pager_links(client, url)["next"]
    return url


def pages_of(settings: Settings, email: str) -> int:
    """How many pages of 50 the user's whole list has (the page says so only up to
    mail_archive.service.COUNT_LIMIT messages)."""
    from crm.db import Database
    from mail_archive.service import list_messages

    db = Database(settings)
    try:
        with db.session(write=False) as s:
            user = s.scalars(select(User).where(User.email == email)).one()
            return math.ceil(list_messages(s, user, per_page=1).total / 50)
    finally:
        db.dispose()


def run(backend: str, args: argparse.Namespace) -> list[tuple[str, float, float, str]]:
    rows: list[tuple[str, float, float, str]] = []
    with (
        tempfile.TemporaryDirectory(prefix="dossier-bench-mail-") as tmp,
        backend_settings(backend, Path(tmp)) as settings,
    ):
        info = seed(settings, args.messages, args.body_size)
        print(
            f"[{backend}] seeded {args.messages:,} messages ({args.messages // 2:,} for one "
            f"partner), {PARTNERS} partners in {info['build_s']:.0f} s",
            flush=True,
        )
        jana = logged_in(settings, "jana@bench.cz")
        admin = logged_in(settings, "admin@bench.cz")
        cases: dict[str, tuple[FlaskClient, str]] = {}
        pages = pages_of(settings, "jana@bench.cz")
        for which in ("first", "middle", "last"):
            cases[f"mail list, date, {which} page"] = (
                jana,
                page_url(jana, "/mail/", which, pages),
            )
        for sort in ("date", "-date", "subject", "-subject", "from", "-from"):
            base = f"/mail/?sort={sort}"
            for which in ("first", "last"):
                cases[f"mail list, sort={sort}, {which} page"] = (
                    jana,
                    page_url(jana, base, which, pages),
                )
        admin_pages = pages_of(settings, "admin@bench.cz")
        for which in ("first", "last"):
            cases[f"mail list as admin, {which} page"] = (
                admin,
                page_url(admin, "/mail/", which, admin_pages),
            )
        cases["partner dossier, 50,000 mails"] = (jana, f"/partners/{BUSY}")
        cases["triage page"] = (jana, "/mail/triage")
        weight = len(jana.get("/mail/triage").get_data())
        for name, (client, url) in cases.items():
            median, p95 = measure(lambda c=client, u=url: c.get(u), args.requests)
            verdict = "met" if p95 < TARGET_MS else "MISSED"
            rows.append((name, median, p95, verdict))
            print(f"[{backend}] {name:40} {median:8.1f} {p95:8.1f}  {verdict}", flush=True)
        print(f"[{backend}] triage page weight: {weight / 1024:.0f} KB", flush=True)
        rows.append(("triage page weight (KB)", weight / 1024, weight / 1024, ""))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--body-size", type=int, default=2000, help="characters of text body")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    os.environ.pop("DATABASE_URL", None)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results = {backend: run(backend, args) for backend in backends}
    print(f"\n{'case':40} " + " ".join(f"{b + ' p50':>16} {b + ' p95':>16}" for b in backends))
    for i, (name, *_rest) in enumerate(results[backends[0]]):
        figures = " ".join(f"{results[b][i][1]:16.1f} {results[b][i][2]:16.1f}" for b in backends)
        print(f"{name:40} {figures}")
    print(f"target: p95 < {TARGET_MS:.0f} ms on every page")


if __name__ == "__main__":
    main()
