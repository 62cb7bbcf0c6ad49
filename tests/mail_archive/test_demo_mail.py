"""The demo's mail (mail_archive.demo): every message stored, filed by each of the rules, in the
partners' languages, waiting in each salesperson's triage queue for them alone; loaded once by
``dossier demo``, the same on every fresh database.

Loading is idempotent: ``load_demo_mail`` finds the demo's sources (keys ``demo:<n>``) and
stores nothing a second time (returns 0), so ``dossier demo`` may call it whenever it loaded the
demo's records.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from crm.bootstrap import initialize
from crm.db import Database
from crm.demo import load_demo
from crm.models import Partner, User
from crm.settings import Settings
from mail_archive import service
from mail_archive.demo import KEY_PREFIX, demo_messages, load_demo_mail, message_count, prague
from mail_archive.models import Attachment, Message, MessageLink, MessageSource
from mail_archive.parse import parse

SALES = (
    "jana@demo.dossier.cz",
    "petr@demo.dossier.cz",
    "lucia@demo.dossier.cz",
    "tomasz@demo.dossier.cz",
)
GREETING = {"CZ": "Dobrý den", "SK": "Dobrý deň", "PL": "Dzień dobry"}


@pytest.fixture
def demo(database: Database) -> Database:
    assert load_demo(database) is not None
    return database


def test_every_demo_message_is_stored_and_filed_by_the_rules(demo: Database) -> None:
    with demo.session() as s:
        made = demo_messages(s)
    # well-formed mail: no parse defects, Prague time with its offset, replies refer to a parent
    for message in made:
        parsed = parse(message.raw)
        assert not parsed.defects, (message.subject, parsed.defects)
        assert parsed.internet_id and parsed.subject == message.subject
        assert not re.search(r"\d\.\.|\{|\}", parsed.body_text), parsed.body_text  # filled in
        assert re.search(rb"^Date: .* \+0[12]00$", message.raw, re.M), message.subject
        if message.subject.startswith(("Re: ", "RE: ", "Odp: ")):
            assert parsed.in_reply_to and parsed.references[-1] == parsed.in_reply_to
    assert len({m.source.key for m in made}) == len(made)
    assert all(m.source.key.startswith(KEY_PREFIX) for m in made)

    stored = load_demo_mail(demo)
    assert stored == len(made) and 150 <= stored <= 300  # none skipped, none a duplicate
    now = dt.datetime.now(dt.UTC)
    with demo.session() as s:
        assert s.scalar(select(func.count()).select_from(Message)) == stored
        assert Counter(s.scalars(select(Message.status))).keys() == {"filed", "triage"}
        assert all(not d for d in s.scalars(select(Message.defects)))

        # filed by each rule: tag, thread, address, domain (and the CRM folder)
        hows = Counter(s.scalars(select(MessageLink.how)))
        assert {"tag", "thread", "address", "domain", "folder"} <= hows.keys()
        for subject, deal_id in s.execute(
            select(Message.subject, MessageLink.deal_id)
            .join(MessageLink, MessageLink.message_id == Message.id)
            .where(MessageLink.how == "tag", MessageLink.deal_id.is_not(None))
        ):
            assert f"[D-{deal_id}]" in subject
        domain_senders = s.scalars(
            select(Message.from_addr)
            .join(MessageLink, MessageLink.message_id == Message.id)
            .where(MessageLink.how == "domain")
        ).all()
        assert domain_senders and all(not a.startswith("info@") for a in domain_senders)

        # on partners of all three countries, in their languages
        rows = s.execute(
            select(Partner.country, Message.body_text, Message.remote_blocked)
            .join(MessageLink, MessageLink.partner_id == Partner.id)
            .join(Message, Message.id == MessageLink.message_id)
        ).all()
        assert {country for country, _body, _blocked in rows} == {"CZ", "SK", "PL"}
        for country, body, blocked in rows:
            if not blocked:  # the newsletter has a headline first
                assert body.startswith(GREETING[country]), body[:80]

        # attachments: the offer PDFs, price lists, photos; the newsletter's blocked images
        attachments = list(s.scalars(select(Attachment)))
        types = {a.content_type for a in attachments}
        assert {"application/pdf", "text/csv", "image/png"} <= types
        assert any(
            a.filename.startswith(("Nabídka č.", "Ponuka č.", "Oferta nr")) for a in attachments
        )
        price_list = next(a for a in attachments if a.content_type == "text/csv")
        assert "Kód;" in price_list.text or "Kod;" in price_list.text  # windows-1250, decoded
        assert (s.scalar(select(func.count()).where(Message.has_attachments)) or 0) >= 10
        newsletter = s.scalars(select(Message).where(Message.remote_blocked > 0)).one()
        assert newsletter.body_html and newsletter.status == "filed"
        assert [link.how for link in newsletter.active_links] == ["domain"]
        assert (s.scalar(select(func.count()).where(Message.body_html != "")) or 0) > 20

        # the out-of-office reply: automatic, inside a thread, filed by its CRM folder only
        auto = s.scalars(select(Message).where(Message.auto)).one()
        assert auto.in_reply_to and auto.status == "filed"
        assert [link.how for link in auto.active_links] == ["folder"]
        parent = s.scalars(select(Message).where(Message.internet_id == auto.in_reply_to)).one()
        assert parent.thread_key == auto.thread_key and parent.direction == "out"

        # the last half year, office hours in Prague, nothing in the future
        zone = prague()
        for sent in s.scalars(select(Message.sent_at)):
            assert sent is not None and now - dt.timedelta(days=200) < sent <= now
            local = sent.astimezone(zone)
            assert local.weekday() < 5 and 7 <= local.hour < 18, local

    # a second call stores nothing
    assert load_demo_mail(demo) == 0
    assert message_count(demo) == stored


def test_each_salesperson_has_triage_items_only_they_see(demo: Database) -> None:
    load_demo_mail(demo)
    with demo.session() as s:
        users = {u.email: u for u in s.scalars(select(User))}
        queues: dict[str, set[int]] = {}
        for email in SALES:
            user = users[email]
            queue = service.triage_queue(s, user)
            assert 2 <= queue.total <= 3, email
            assert all(
                m.owner_id == user.id and m.status == "triage" and not m.active_links
                for m in queue.items
            )
            assert {src.kind for m in queue.items for src in m.sources} <= {"upload", "file"}
            queues[email] = {m.id for m in queue.items}
            listed = service.list_messages(s, user, status="triage", per_page=500)
            assert {m.id for m in listed.items} == queues[email]
        for email, ids in queues.items():
            for other in (*SALES, "vedouci@demo.dossier.cz"):
                if other == email:
                    continue
                assert not ids & {m.id for m in service.triage_queue(s, users[other]).items}
                page = service.list_messages(s, users[other], status=None, per_page=500)
                assert not ids & {m.id for m in page.items}, (email, other)
        admin = users["admin@demo.dossier.cz"]
        assert service.triage_count(s, admin) == sum(len(ids) for ids in queues.values())

        # filed mail: each salesperson sees their partners' mail; the private partner's stays
        # with its salesperson (and the manager)
        for email in SALES:
            assert service.list_messages(s, users[email]).total > 20, email
        private = s.scalars(select(Partner).where(Partner.private)).one()
        assert private.salesperson is not None
        on_private = set(
            s.scalars(select(MessageLink.message_id).where(MessageLink.partner_id == private.id))
        )
        assert on_private
        for email in SALES:
            seen = {m.id for m in service.list_messages(s, users[email], per_page=500).items}
            assert bool(on_private & seen) == (email == private.salesperson.email), email


def _snapshot(db: Database) -> list[tuple[Any, ...]]:
    with db.session() as s:
        rows = s.execute(
            select(
                Message.subject,
                Message.from_addr,
                Message.internet_id,
                Message.status,
                Message.has_attachments,
            ).order_by(Message.id)
        ).all()
        links = Counter(s.scalars(select(MessageLink.how)))
        keys = s.scalars(select(MessageSource.key).order_by(MessageSource.message_id)).all()
    return [*(tuple(r) for r in rows), tuple(sorted(links.items())), tuple(keys)]


def test_the_demo_mail_is_the_same_every_time_and_loads_once(
    settings: Settings, database: Database, tmp_path: Path
) -> None:
    """Another fresh database gets the very same mail; loading again adds nothing. (The
    command itself, with its printed count, runs in tests/test_readme.py: make demo.)"""
    load_demo(database)
    count = load_demo_mail(database)
    assert count == message_count(database) and 150 <= count <= 300
    assert load_demo_mail(database) == 0
    assert message_count(database) == count
    other = initialize(Settings(home=tmp_path / "other", secret_key="test-secret"))
    try:
        load_demo(other)
        assert load_demo_mail(other) == count
        assert _snapshot(other) == _snapshot(database)
    finally:
        other.dispose()


def test_the_demo_mail_needs_no_connector() -> None:
    """The demo lives beside the archive and its filing rules, apart from the protocol code."""
    import subprocess
    import sys

    probe = (
        "import sys, mail_archive.demo; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'connector'))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
