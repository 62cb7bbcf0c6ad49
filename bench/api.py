"""Latency of the partner list and the partner page on a large CRM (issue: the foundation).

Builds a fresh SQLite data directory with N partners (default 10,000), 5 persons and 3 deals
each, plus one partner with a 200-entry timeline, then measures through the real WSGI app,
logged in as a salesperson (so the permission rule is in every query):

  - the partner list, filtered by region and kind, sorted, page 3 of 50 rows (HTML and API);
  - the partner page with a 200-entry timeline (HTML) and the timeline through the API.

Prints median and p95 in milliseconds and whether p95 meets the 50 ms target.
Run: .venv/bin/python bench/api.py [--partners N] [--requests R]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert

from crm.bootstrap import initialize
from crm.models import Activity, Deal, Partner, PartnerDomain, Person
from crm.services import codebooks
from crm.services.users import create_token, create_user
from crm.settings import Settings
from crm.text import fold
from web import create_app

TARGET_MS = 50.0
PASSWORD = "bench-password"


def build(home: Path, n_partners: int) -> dict[str, object]:
    db = initialize(Settings(home=home, secret_key="bench"))
    rng = random.Random(7)
    start = time.perf_counter()
    with db.session() as s:
        seller = create_user(s, "jana@bench.cz", "Jana Nováková", "sales", ["Obchod"], PASSWORD)
        other = create_user(s, "petr@bench.cz", "Petr Dvořák", "sales", ["Obchod"], PASSWORD)
        group_id = seller.groups[0].id
        kinds = [e.id for e in codebooks.entries(s, "partner_kind")]
        regions = [e.id for e in codebooks.entries(s, "region")]
        industries = [e.id for e in codebooks.entries(s, "industry")]
        stages = [e.id for e in codebooks.entries(s, "deal_stage")]
        token = create_token(s, seller.email)
        seller_id, other_id = seller.id, other.id
    now = dt.datetime.now(dt.UTC)
    words = ["Stavby", "Agro", "Kovárna", "Dřevo", "Mlékárna", "Budowy", "Poľno", "Železo"]
    cities = ["Příbram", "Žatec", "Brno", "Łódź", "Senica", "Kraków", "Žilina", "Olomouc"]
    with db.session() as s:
        partners, persons, deals, domains = [], [], [], []
        for i in range(1, n_partners + 1):
            name = f"{rng.choice(words)} {rng.choice(cities)} {i} s.r.o."
            owner = seller_id if i % 2 else other_id
            partners.append(
                dict(
                    id=i,
                    name=name,
                    name_key=fold(name),
                    kind_id=rng.choice(kinds),
                    region_id=rng.choice(regions),
                    industry_id=rng.choice(industries),
                    status="active",
                    street="Hlavní 1",
                    city=rng.choice(cities),
                    postal_code="",
                    country="CZ",
                    phones=["+420 777 000 000"],
                    emails=[f"info@firma{i}.cz"],
                    web="",
                    company_id=str(10_000_000 + i),
                    vat_id="",
                    category="ABC"[i % 3],
                    note="",
                    custom={},
                    group_id=group_id,
                    salesperson_id=owner,
                    owner_company_id=None,
                    private=i % 10 == 0,
                    created_at=now - dt.timedelta(minutes=i),
                    updated_at=now,
                )
            )
            domains.append(dict(partner_id=i, domain=f"firma{i}.cz"))
            for j in range(5):
                pname = f"Osoba {i}-{j}"
                persons.append(
                    dict(
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
            for j in range(3):
                title = f"Zakázka {i}-{j}"
                deals.append(
                    dict(
                        title=title,
                        title_key=fold(title),
                        partner_id=i,
                        stage_id=rng.choice(stages),
                        value=rng.randint(10, 5000) * 1000,
                        currency="CZK",
                        status="open",
                        close_note="",
                        custom={},
                        group_id=group_id,
                        salesperson_id=owner,
                        owner_company_id=None,
                        private=False,
                        created_at=now - dt.timedelta(minutes=i, seconds=j),
                        updated_at=now,
                    )
                )
        for model, rows in (
            (Partner, partners),
            (PartnerDomain, domains),
            (Person, persons),
            (Deal, deals),
        ):
            for k in range(0, len(rows), 5000):
                s.execute(insert(model), rows[k : k + 5000])
        # one partner whose dossier has a long history: 200 activities
        busy = 1
        s.execute(
            insert(Activity),
            [
                dict(
                    kind=rng.choice(["call", "meeting", "note", "task", "letter"]),
                    title=f"Aktivita {k}",
                    title_key=f"aktivita {k}",  # fold(title), as the service stores it
                    note="Poznámka " * 10,
                    done=k % 2 == 0,
                    # due from ten days ago to ten days ahead: My day has overdue and this week's
                    due_date=now.date() + dt.timedelta(days=k % 21 - 10),
                    partner_id=busy,
                    next_contact_task="",
                    custom={},
                    group_id=group_id,
                    salesperson_id=seller_id,
                    owner_company_id=None,
                    private=False,
                    created_at=now - dt.timedelta(hours=k),
                    updated_at=now,
                )
                for k in range(200)
            ],
        )
    # what dossier serve's housekeeping worker does at start and hourly (crm.housekeeping)
    db.refresh_statistics()
    db.dispose()
    return {
        "token": token,
        "region": regions[0],
        "kind": kinds[0],
        "busy": busy,
        "build_s": time.perf_counter() - start,
    }


def measure(call: object, requests: int) -> tuple[float, float]:
    times = []
    for _ in range(5):  # warm-up
        call()  # type: ignore[operator]
    for _ in range(requests):
        t = time.perf_counter()
        response = call()  # type: ignore[operator]
        times.append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200, response.status_code
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partners", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dossier-bench-") as tmp:
        home = Path(tmp)
        info = build(home, args.partners)
        print(
            f"built {args.partners} partners, {args.partners * 5} persons, "
            f"{args.partners * 3} deals, 200 activities in {info['build_s']:.1f} s (SQLite)"
        )
        app = create_app(Settings(home=home, secret_key="bench"))
        client = app.test_client()
        client.get("/login")
        with client.session_transaction() as sess:
            csrf = sess["csrf"]
        client.post(
            "/login", data={"email": "jana@bench.cz", "password": PASSWORD, "csrf_token": csrf}
        )
        bearer = {"Authorization": f"Bearer {info['token']}"}
        query = f"region={info['region']}&kind={info['kind']}&sort=name&page=3"
        cases = {
            "partner list, filtered, page of 50 (HTML)": lambda: client.get(f"/partners/?{query}"),
            "partner list, filtered, page of 50 (API)": lambda: client.get(
                f"/api/v1/partners?{query}&per_page=50", headers=bearer
            ),
            "partner page, 200-entry timeline (HTML)": lambda: client.get(
                f"/partners/{info['busy']}?timeline=200"
            ),
            "partner timeline, 200 entries (API)": lambda: client.get(
                f"/api/v1/partners/{info['busy']}/timeline?limit=200", headers=bearer
            ),
            "My day, the home page (HTML)": lambda: client.get("/"),
            "deal list with totals per currency (HTML)": lambda: client.get(
                "/deals/?status=open&sort=-value"
            ),
            "pipeline board (HTML)": lambda: client.get("/deals/board"),
        }
        page = client.get(f"/partners/{info['busy']}?timeline=200").get_data(as_text=True)
        shown = page.count('class="tl tl-')
        assert shown == 200, f"the partner page shows {shown} timeline entries, not 200"
        print(f"{'case':46} {'median ms':>10} {'p95 ms':>8}  target p95 < {TARGET_MS:.0f} ms")
        for name, call in cases.items():
            median, p95 = measure(call, args.requests)
            verdict = "met" if p95 < TARGET_MS else "MISSED"
            print(f"{name:46} {median:10.1f} {p95:8.1f}  {verdict}")


if __name__ == "__main__":
    main()
