"""Web login sessions kept in the database, so that they can be ended.

The browser's cookie carries a random session id; the table keeps only its SHA-256, with who,
when, from which device and address. A request whose id has no row is not logged in, so a
copied cookie stops working when its session ends: at logout, when the password changes (every
other session of the user), when an admin signs the user out everywhere or deactivates them,
and after IDLE_LIFETIME without use. ``last_seen_at`` is written at most once per TOUCH_EVERY,
so page views stay reads.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from crm.models import User, UserSession, utcnow
from crm.passwords import token_digest

IDLE_LIFETIME = dt.timedelta(days=14)
TOUCH_EVERY = dt.timedelta(minutes=1)
MAX_SESSION_ID = 100


@dataclass(frozen=True)
class ActiveSession:
    """A session as its owner sees it on the account page."""

    id: int
    device: str
    client_address: str
    created_at: dt.datetime
    last_seen_at: dt.datetime
    current: bool


def _digest(session_id: str) -> str | None:
    if not session_id or len(session_id) > MAX_SESSION_ID:
        return None
    return token_digest(session_id)


def start(session: Session, user: User, user_agent: str, address: str | None) -> str:
    """A new session of ``user``; returns the id for the cookie (not stored anywhere)."""
    now = utcnow()
    session.execute(
        delete(UserSession).where(
            UserSession.user_id == user.id, UserSession.last_seen_at < now - IDLE_LIFETIME
        )
    )
    session_id = secrets.token_urlsafe(32)
    session.add(
        UserSession(
            user_id=user.id,
            token_hash=token_digest(session_id),
            created_at=now,
            last_seen_at=now,
            user_agent=user_agent[:300],
            client_address=(address or "")[:64],
        )
    )
    session.flush()
    return session_id


def find(session: Session, session_id: str) -> UserSession | None:
    """The live session of this cookie id, or None (ended, expired, or never issued)."""
    digest = _digest(session_id)
    if digest is None:
        return None
    row = session.scalar(select(UserSession).where(UserSession.token_hash == digest))
    if row is None or row.last_seen_at < utcnow() - IDLE_LIFETIME:
        return None
    return row


def touch_due(row: UserSession, now: dt.datetime | None = None) -> bool:
    return row.last_seen_at <= (now or utcnow()) - TOUCH_EVERY


def touch(session: Session, row_id: int) -> None:
    """Record a use; one conditional UPDATE, so racing requests write it once a minute."""
    now = utcnow()
    session.execute(
        update(UserSession)
        .where(UserSession.id == row_id, UserSession.last_seen_at <= now - TOUCH_EVERY)
        .values(last_seen_at=now)
    )


def end(session: Session, session_id: str) -> None:
    digest = _digest(session_id)
    if digest is not None:
        session.execute(delete(UserSession).where(UserSession.token_hash == digest))


def end_all(session: Session, user_id: int) -> int:
    """End every session of the user; how many ended."""
    result = session.execute(delete(UserSession).where(UserSession.user_id == user_id))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def list_active(session: Session, user: User, current: str | None) -> list[ActiveSession]:
    """The user's live sessions, the most recently used first."""
    current_digest = _digest(current) if current else None
    rows = session.scalars(
        select(UserSession)
        .where(
            UserSession.user_id == user.id,
            UserSession.last_seen_at >= utcnow() - IDLE_LIFETIME,
        )
        .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
    )
    return [
        ActiveSession(
            id=r.id,
            device=describe_device(r.user_agent),
            client_address=r.client_address,
            created_at=r.created_at,
            last_seen_at=r.last_seen_at,
            current=r.token_hash == current_digest,
        )
        for r in rows
    ]


# (pattern, name), the first match wins: Edge and Opera say "Chrome" too, Chrome says "Safari"
BROWSERS = (
    (r"Edg(e|A|iOS)?/", "Edge"),
    (r"OPR/|Opera", "Opera"),
    (r"Firefox/|FxiOS/", "Firefox"),
    (r"Chrome/|CriOS/|Chromium/", "Chrome"),
    (r"Safari/", "Safari"),
    (r"Thunderbird/", "Thunderbird"),
    (r"Outlook|Microsoft Office", "Outlook"),
)
SYSTEMS = (
    (r"Android", "Android"),
    (r"iPhone|iPad|iOS", "iOS"),
    (r"Windows", "Windows"),
    (r"Mac OS X|Macintosh", "macOS"),
    (r"CrOS", "ChromeOS"),
    (r"Linux|X11", "Linux"),
)


def describe_device(user_agent: str) -> str:
    """A short name a person recognises (“Firefox, Linux”), else the agent string itself."""
    browser = next((name for pattern, name in BROWSERS if re.search(pattern, user_agent)), "")
    system = next((name for pattern, name in SYSTEMS if re.search(pattern, user_agent)), "")
    described = ", ".join(part for part in (browser, system) if part)
    return described or user_agent[:80]
