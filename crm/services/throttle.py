"""Login throttling: failed logins counted per account and per client address.

The failures live in the database (``login_failures``), so every server process counts the same
ones. Counted over a sliding window of WINDOW; each further failure past a limit doubles the wait
(from FIRST_WAIT up to WINDOW), measured from the latest failure that counts:

- an address with ADDRESS_LIMIT failures (any accounts) waits: one machine cannot try many
  passwords or spray many accounts;
- an account with ACCOUNT_LIMIT failures (from any address) makes wait every address that has
  failed for it; an address that has not failed for that account in the window may still try.
  So an attacker cannot lock the real user out: the user at their own computer gets in, and even
  one who mistyped under attack waits from their own failures (30 s after one), not the attacker's.

A throttled attempt checks no password and counts nothing more. A successful login forgets the
failures of that account from that address. Nothing is kept longer than WINDOW: rows older than
it are deleted with each new failure.

Concurrent attempts from one attacker are counted once they finish: a burst can exceed a limit by
the number of requests the server runs at once, then waits like any other.
"""

from __future__ import annotations

import datetime as dt
import math

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from crm.errors import DossierError
from crm.models import LoginFailure, utcnow

WINDOW = dt.timedelta(minutes=15)
FIRST_WAIT = dt.timedelta(seconds=30)
ACCOUNT_LIMIT = 5
ADDRESS_LIMIT = 20


class LoginThrottled(DossierError):
    """Too many failed logins; ``retry_after`` seconds until the next attempt is heard."""

    code = "too_many_attempts"
    status = 429

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        minutes = math.ceil(retry_after / 60)
        super().__init__(f"too many failed logins; try again in {minutes} min")


def account_key(email: str) -> str:
    return email.strip().lower()[:254]


def address_key(address: str | None) -> str:
    return (address or "")[:64]


def _wait(failures: int, beyond: int) -> dt.timedelta:
    """The wait after ``failures``: FIRST_WAIT at the limit, doubled with each one past it."""
    return min(WINDOW, FIRST_WAIT * 2 ** min(beyond, 10)) if failures else dt.timedelta(0)


def check(
    session: Session, email: str, address: str | None, now: dt.datetime | None = None
) -> None:
    """Raise LoginThrottled when this address must wait before it may try this account."""
    now = now or utcnow()
    account, addr = account_key(email), address_key(address)
    since = now - WINDOW
    recent = LoginFailure.failed_at > since
    waits: list[dt.datetime] = []

    from_address, address_latest = session.execute(
        select(func.count(), func.max(LoginFailure.failed_at)).where(
            LoginFailure.address == addr, recent
        )
    ).one()
    if from_address >= ADDRESS_LIMIT:
        waits.append(address_latest + _wait(from_address, from_address - ADDRESS_LIMIT))

    for_account = session.scalar(
        select(func.count()).where(LoginFailure.account == account, recent)
    )
    if for_account and for_account >= ACCOUNT_LIMIT:
        pair, pair_latest = session.execute(
            select(func.count(), func.max(LoginFailure.failed_at)).where(
                LoginFailure.account == account, LoginFailure.address == addr, recent
            )
        ).one()
        if pair:  # only the addresses that took part in the failures wait
            beyond = min(for_account - ACCOUNT_LIMIT, pair - 1)
            waits.append(pair_latest + _wait(pair, beyond))

    until = max(waits, default=now)
    if until > now:
        raise LoginThrottled(max(1, math.ceil((until - now).total_seconds())))


def record_failure(session: Session, email: str, address: str | None) -> None:
    now = utcnow()
    session.execute(delete(LoginFailure).where(LoginFailure.failed_at <= now - WINDOW))
    session.add(
        LoginFailure(account=account_key(email), address=address_key(address), failed_at=now)
    )
    session.flush()


def forget(session: Session, email: str, address: str | None) -> None:
    """After a successful login: this address's failures for this account no longer count."""
    session.execute(
        delete(LoginFailure).where(
            LoginFailure.account == account_key(email),
            LoginFailure.address == address_key(address),
        )
    )
