"""The mail list pages by position (keyset paging): a salesperson who walks it page by page,
forward from the first page or back from the last, in every sort, sees each message she may see
exactly once, in order, ties on the sort key included, and never one of another team's."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert

from crm.db import Database
from crm.services.partners import partners
from mail_archive.models import Message, MessageLink, sort_text
from mail_archive.service import list_messages
from tests.conftest import World, login

SUBJECTS = ["Nabídka", "objednávka", "Faktura", "Nabídka", "Zamówienie", "Cenník"]
SENDERS = [("Jan Novák", "jan@stavby.cz"), ("", "info@mleko.pl"), ("Žaneta", "z@firma.sk")]
LINK = re.compile(r'<a href="([^"]+)" rel="(first|prev|next|last)"')
ROW = re.compile(r'href="/mail/(\d+)"')


@pytest.fixture
def archive(database: Database, world: World) -> dict[str, Any]:
    """25 messages of Jana's team and 8 of Zofia's, with dates, subjects and senders that
    repeat across both."""
    with database.session() as s:
        ours = partners.create(s, world.sales_a, {"name": "Stavby Příbram s.r.o."}).id
        theirs = partners.create(s, world.sales_b, {"name": "Mlékárna Kraków sp. z o.o."}).id
        start = dt.datetime(2027, 1, 4, 9, 0, tzinfo=dt.UTC)
        visible, hidden = [], []
        for i in range(33):
            partner = theirs if i % 4 == 3 else ours
            name, addr = SENDERS[i % len(SENDERS)]
            at = start + dt.timedelta(hours=i // 3)  # three messages share each date
            message_id = s.execute(
                insert(Message).returning(Message.id),
                {
                    "sha256": f"{i:064x}",
                    "size": 100,
                    "subject": SUBJECTS[i % len(SUBJECTS)],
                    "from_name": name,
                    "from_addr": addr,
                    "sort_at": at,
                    "sent_at": at,
                    "thread_key": f"{i}@test",
                    "status": "filed",
                },
            ).scalar_one()
            s.execute(
                insert(MessageLink),
                {
                    "message_id": message_id,
                    "target": f"partner:{partner}",
                    "partner_id": partner,
                    "how": "address",
                },
            )
            (hidden if partner == theirs else visible).append((message_id, name, addr, at, i))
    return {"visible": visible, "hidden": {m[0] for m in hidden}}


def expected(rows: list[tuple[int, str, str, dt.datetime, int]], sort: str) -> list[int]:
    keys = {
        "date": lambda r: (r[3], r[0]),
        "subject": lambda r: (sort_text(SUBJECTS[r[4] % len(SUBJECTS)]), r[0]),
        "from": lambda r: (sort_text(r[1] or r[2]), r[0]),
    }
    key = keys[sort.removeprefix("-") or "date"]
    descending = not sort or sort.startswith("-")
    return [r[0] for r in sorted(rows, key=key, reverse=descending)]


def links_of(html: str) -> dict[str, str]:
    return {rel: href.replace("&amp;", "&") for href, rel in LINK.findall(html)}


def shown(html: str) -> list[int]:
    table = html.split('<table class="list mail">', 1)[1].split("</table>", 1)[0]
    return [int(x) for x in ROW.findall(table)]


def walk(client: FlaskClient, url: str, rel: str) -> list[list[int]]:
    pages = []
    for _ in range(50):
        html = client.get(url).get_data(as_text=True)
        pages.append(shown(html))
        found = links_of(html)
        if rel not in found:
            return pages
        url = found[rel]
    raise AssertionError("the walk never ended")


@pytest.fixture
def jana(app: Flask, client: FlaskClient, world: World) -> FlaskClient:
    settings = app.config["DOSSIER_SETTINGS"]
    app.config["DOSSIER_SETTINGS"] = dataclasses.replace(settings, page_size=4)
    login(client, world.sales_a)
    return client


@pytest.mark.parametrize("sort", ["", "date", "-date", "subject", "-subject", "from", "-from"])
def test_walking_every_page_shows_each_visible_message_once_in_order(
    jana: FlaskClient, archive: dict[str, Any], sort: str
) -> None:
    base = f"/mail/?sort={sort}" if sort else "/mail/"
    order = expected(archive["visible"], sort)
    forward = walk(jana, base, "next")
    assert [m for page in forward for m in page] == order
    assert all(len(page) == 4 for page in forward[:-1])
    last = links_of(jana.get(base).get_data(as_text=True))["last"]
    backward = walk(jana, last, "prev")
    # the same pages, counted from the end: the last holds what is left over
    assert backward == forward[::-1]
    assert not {m for page in forward for m in page} & archive["hidden"]


def test_the_pager_says_where_the_user_is(jana: FlaskClient, archive: dict[str, Any]) -> None:
    first = jana.get("/mail/").get_data(as_text=True)
    assert "25 messages · page 1 of 7" in first
    assert 'rel="prev"' not in first and 'rel="first"' not in first
    second = jana.get(links_of(first)["next"]).get_data(as_text=True)
    assert "page 2 of 7" in second
    last_url = links_of(first)["last"]
    last = jana.get(last_url).get_data(as_text=True)
    assert "page 7 of 7" in last and len(shown(last)) == 1
    assert 'rel="next"' not in last
    again = jana.get(last_url)  # a bookmarked link shows the same page
    assert shown(again.get_data(as_text=True)) == shown(last)


def test_a_numbered_bookmark_still_opens_its_page(
    jana: FlaskClient, archive: dict[str, Any]
) -> None:
    order = expected(archive["visible"], "")
    html = jana.get("/mail/?page=3").get_data(as_text=True)
    assert shown(html) == order[8:12] and "page 3 of 7" in html


@pytest.mark.parametrize(
    "query", ["after=x", "after=12:not-a-date", "before=0:2027-01-04", "sort=subject&after=1"]
)
def test_a_broken_position_shows_the_list_from_the_start_with_the_reason(
    jana: FlaskClient, archive: dict[str, Any], query: str
) -> None:
    answer = jana.get(f"/mail/?{query}")
    assert answer.status_code == 400
    html = answer.get_data(as_text=True)
    assert "is not a position in this list" in html
    assert shown(html) == expected(archive["visible"], "")[:4]


def test_past_the_count_limit_pages_are_counted_from_either_end(
    database: Database, world: World, archive: dict[str, Any]
) -> None:
    """A big archive is counted only so far: the list says "more than", numbers pages from
    the start and from the end, and still walks to every message."""
    order = expected(archive["visible"], "")
    with database.session() as s:
        first = list_messages(s, world.sales_a, per_page=4, count_limit=10)
        assert first.more and first.total == 10 and first.page == 1
        last = list_messages(s, world.sales_a, per_page=4, last=True, count_limit=10)
        assert last.page == -1 and [m.id for m in last.items] == order[-4:]
        seen = [m.id for m in last.items]
        page = last
        while page.has_prev:
            page = list_messages(
                s, world.sales_a, per_page=4, before=page.first, page=page.page - 1, count_limit=10
            )
            seen = [m.id for m in page.items] + seen
        assert seen == order and page.page == 1
