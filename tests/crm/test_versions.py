"""No lost updates (issue 9 §6): a save based on an old version is refused, also in a race."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import pytest

from crm.db import Database
from crm.errors import StaleRecord
from crm.models import Partner
from crm.services.deals import deals
from crm.services.partners import partners
from tests.conftest import World


def make_partner(database: Database, world: World) -> int:
    with database.session() as s:
        partner = partners.create(s, world.sales_a, {"name": "Pila Hůrka s.r.o.", "city": "Písek"})
        return partner.id


def test_every_save_counts_the_version_and_names_who_saved(
    database: Database, world: World
) -> None:
    partner_id = make_partner(database, world)
    with database.session() as s:
        partner = partners.get(s, world.sales_a, partner_id)
        assert (partner.version, partner.updated_by_id) == (1, world.sales_a.id)
        assert partners.as_dict(partner)["version"] == 1
    with database.session() as s:
        partners.update(s, world.manager_a, partner_id, {"city": "Tábor"}, expected_version=1)
    with database.session() as s:
        partner = partners.get(s, world.sales_a, partner_id)
        assert (partner.version, partner.updated_by_id) == (2, world.manager_a.id)


def test_a_save_based_on_an_old_version_is_refused_with_who_and_when(
    database: Database, world: World
) -> None:
    partner_id = make_partner(database, world)
    with database.session() as s:
        partners.update(s, world.manager_a, partner_id, {"phones": ["+420 777 111 222"]})
    with pytest.raises(StaleRecord) as err, database.session() as s:
        partners.update(s, world.sales_a, partner_id, {"note": "volat ráno"}, expected_version=1)
    assert err.value.status == 412
    assert err.value.updated_by == world.manager_a.name
    assert err.value.updated_at is not None
    assert err.value.current["phones"] == ["+420 777 111 222"]
    assert err.value.current["version"] == 2
    with database.session() as s:
        partner = s.get(Partner, partner_id)
        assert partner is not None and partner.note == ""
    with pytest.raises(StaleRecord), database.session() as s:
        partners.delete(s, world.manager_a, partner_id, expected_version=1)
    with database.session() as s:
        partners.delete(s, world.manager_a, partner_id, expected_version=2)
        gone = s.get(Partner, partner_id)
        assert gone is not None and gone.deleted_at is not None  # in the trash


def test_no_expected_version_keeps_saving_as_before(database: Database, world: World) -> None:
    partner_id = make_partner(database, world)
    for city in ("Tábor", "Strakonice"):
        with database.session() as s:
            partners.update(s, world.sales_a, partner_id, {"city": city})
    with database.session() as s:
        assert partners.get(s, world.sales_a, partner_id).version == 3


def test_closing_a_deal_counts_its_version(database: Database, world: World) -> None:
    partner_id = make_partner(database, world)
    with database.session() as s:
        deal_id = deals.create(s, world.sales_a, {"title": "Krov", "partner_id": partner_id}).id
    with database.session() as s:
        deals.close(s, world.sales_a, deal_id, {"status": "won"})
    with database.session() as s:
        assert deals.get(s, world.sales_a, deal_id).version == 2


def test_two_threads_saving_the_same_version_exactly_one_wins(
    database: Database, world: World
) -> None:
    """Both read version 1 before either writes; the UPDATE ... WHERE version = 1 decides.

    On PostgreSQL the loser's UPDATE waits for the winner's row lock and then matches no row;
    on SQLite the write lock taken at BEGIN makes the loser read version 2 (the barrier times
    out for it while the winner holds the lock).
    """
    partner_id = make_partner(database, world)
    barrier = threading.Barrier(2, timeout=3)
    outcome: dict[str, Any] = {}
    changes = {
        "manager": (world.manager_a, {"phones": ["+420 777 111 222"], "city": "Tábor"}),
        "sales": (world.sales_a, {"note": "volat ráno"}),
    }

    def save(who: str) -> None:
        actor, data = changes[who]
        session = database.new_session()
        try:
            partners.get(session, actor, partner_id)
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait()
            partners.update(session, actor, partner_id, data, expected_version=1)
            session.commit()
            outcome[who] = "saved"
        except StaleRecord as exc:
            session.rollback()
            outcome[who] = exc
        finally:
            session.close()

    threads = [threading.Thread(target=save, args=(who,)) for who in changes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    winners = [who for who, result in outcome.items() if result == "saved"]
    losers = [who for who, result in outcome.items() if isinstance(result, StaleRecord)]
    assert len(winners) == 1 and len(losers) == 1, outcome
    with database.session() as s:
        partner = partners.get(s, world.admin, partner_id)
        stored = partners.as_dict(partner)
    assert stored["version"] == 2
    for key, value in changes[winners[0]][1].items():
        assert stored[key] == value
    loser_error = outcome[losers[0]]
    assert loser_error.current["version"] == 2
    assert loser_error.updated_by == changes[winners[0]][0].name
