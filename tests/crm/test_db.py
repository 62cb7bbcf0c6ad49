"""Units of work that write at the same time (the background mail sync and a user's request in
one ``dossier serve``): the second waits its turn instead of failing with "database is locked"
(SQLite), and a page view never waits for a writer."""

from __future__ import annotations

import threading
import time

from sqlalchemy import select

from crm.db import Database
from crm.models import User
from tests.conftest import World


def test_two_writers_at_once_both_commit(database: Database, world: World) -> None:
    holding = threading.Event()
    failures: list[BaseException] = []

    def background_sync() -> None:
        try:
            with database.session() as s:
                s.get(User, world.sales_b.id).name = "Petr Svoboda"  # type: ignore[union-attr]
                s.flush()
                holding.set()
                time.sleep(0.5)  # a long batch
        except BaseException as exc:  # reported below
            failures.append(exc)
            holding.set()

    worker = threading.Thread(target=background_sync)
    worker.start()
    assert holding.wait(10)
    # a user's request: reads first, then writes, while the batch above still runs
    with database.session() as s:
        user = s.scalars(select(User).where(User.id == world.sales_a.id)).one()
        user.name = "Jana Dvořáková"
    worker.join(10)
    assert failures == []
    with database.session(write=False) as s:
        assert s.get(User, world.sales_a.id).name == "Jana Dvořáková"  # type: ignore[union-attr]
        assert s.get(User, world.sales_b.id).name == "Petr Svoboda"  # type: ignore[union-attr]


def test_a_reader_does_not_wait_for_a_writer(database: Database, world: World) -> None:
    with database.session() as writer:
        writer.get(User, world.sales_a.id).name = "Jana Dvořáková"  # type: ignore[union-attr]
        writer.flush()
        started = time.monotonic()
        with database.session(write=False) as reader:
            # the committed state, at once (on SQLite the write lock is still held above)
            assert reader.get(User, world.sales_a.id).name == world.sales_a.name  # type: ignore[union-attr]
        assert time.monotonic() - started < 2
