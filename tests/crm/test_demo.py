"""The demo data set has what a first look at the product needs, and plausible identifiers."""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import func, select

from crm.db import Database
from crm.demo import DEMO_USERS, demo_summary, ico, load_demo, polish_nip, polish_regon
from crm.models import Activity, CodebookEntry, Deal, Partner, Person, User
from crm.services.codebooks import entries


def test_the_demo_covers_the_product(database: Database) -> None:
    logins = load_demo(database)
    assert logins == [(email, role) for email, _n, role, _g in DEMO_USERS]
    assert load_demo(database) is None
    counts = demo_summary(database)
    assert counts["partners"] == 40 and counts["persons"] >= 40
    now = dt.datetime.now(dt.UTC)
    today = now.date()
    with database.session() as s:
        partners = list(s.scalars(select(Partner)))
        assert {p.country for p in partners} == {"CZ", "SK", "PL"}
        assert {p.region.label for p in partners if p.region} == {"Tuzemsko", "Zahraničí"}
        assert {p.status for p in partners} == {"active", "passive"}
        assert {p.category for p in partners} == {"A", "B", "C"}
        assert sum(p.private for p in partners) == 1
        assert all(p.domains and p.company_id and p.vat_id and p.phones for p in partners)
        assert any(not p.name.isascii() for p in partners)
        assert all(p.owner_company_id is not None for p in partners)

        deals = list(s.scalars(select(Deal)))
        assert {d.stage_id for d in deals if d.status == "open"} == {
            e.id for e in entries(s, "deal_stage")
        }
        assert {d.status for d in deals} == {"open", "won", "lost"}
        assert all(d.close_reason_id for d in deals if d.status == "lost")
        assert all(d.closed_at and d.closed_at <= now for d in deals if d.status != "open")
        assert {d.currency for d in deals} == {"CZK", "EUR", "PLN"}

        acts = list(s.scalars(select(Activity)))
        assert {a.kind for a in acts} == {"task", "call", "meeting", "letter", "note"}
        assert any(a.done for a in acts) and any(not a.done for a in acts)
        assert any(a.due_date and a.due_date > today and not a.done for a in acts)
        assert any(a.due_date and a.due_date < today for a in acts)
        assert any(a.next_contact_date for a in acts)
        assert any(a.result_id for a in acts)

        # a lived-in history: over a year of it, none of it in the future
        for model in (Partner, Person, Deal, Activity):
            assert s.scalar(select(func.max(model.created_at))) <= now, model
        assert now - min(p.created_at for p in partners) > dt.timedelta(days=365)
        assert all(a.done_at is None or a.created_at <= a.done_at <= now for a in acts)

        users = {u.email: u for u in s.scalars(select(User))}
        manager = users["vedouci@demo.dossier.cz"]
        assert len(manager.groups) == 2
        assert s.scalar(select(func.count()).select_from(CodebookEntry))


def test_identifiers_have_valid_check_digits() -> None:
    rng = random.Random(1)
    for _ in range(200):
        number = ico(rng)
        digits = [int(c) for c in number]
        rest = sum(d * w for d, w in zip(digits[:7], range(8, 1, -1), strict=True)) % 11
        assert len(number) == 8 and digits[7] == (11 - rest) % 10
        nip = polish_nip(rng)
        weights = (6, 5, 7, 2, 3, 4, 5, 6, 7)
        assert int(nip[9]) == sum(int(c) * w for c, w in zip(nip, weights, strict=False)) % 11
        regon = polish_regon(rng)
        weights = (8, 9, 2, 3, 4, 5, 6, 7)
        total = sum(int(c) * w for c, w in zip(regon, weights, strict=False))
        assert int(regon[8]) == total % 11 % 10
    # the check digit of a real company's IČO
    assert ico(_Fixed([2, 5, 5, 9, 6, 6, 4])) == "25596641"


class _Fixed(random.Random):
    """Hands out the given digits in order (randint only)."""

    def __init__(self, digits: list[int]) -> None:
        super().__init__(0)
        self.digits = list(digits)

    def randint(self, a: int, b: int) -> int:
        return self.digits.pop(0)
