"""A partner's timeline: every activity, deal, mail, document and meeting, newest first.

One query path: each capability registers a ``TimelineSource`` (crm registers activities and
deals; mail_archive, doc_library and calendar_bridge register theirs when they are imported).
A source returns its newest ``limit`` entries for a partner that the user may see; the timeline
merges them. Sources do their own permission filtering with ``crm.permissions.visible``.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.models import Activity, Deal, User
from crm.permissions import visible


@dataclass(frozen=True)
class TimelineEntry:
    at: dt.datetime
    kind: str  # activity kinds, "deal", later "mail", "document", "meeting"
    record_type: str
    record_id: int
    title: str
    summary: str = ""
    who: str = ""
    done: bool | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "at": self.at.isoformat(),
            "kind": self.kind,
            "record_type": self.record_type,
            "record_id": self.record_id,
            "title": self.title,
            "summary": self.summary,
            "who": self.who,
            "done": self.done,
            **({"extra": self.extra} if self.extra else {}),
        }


# (session, user, partner_id, limit) -> newest entries first
TimelineSource = Callable[[Session, User, int, int], list[TimelineEntry]]
SOURCES: dict[str, TimelineSource] = {}


def register_source(name: str, source: TimelineSource) -> None:
    SOURCES[name] = source


def partner_timeline(
    session: Session, user: User, partner_id: int, limit: int = 200, offset: int = 0
) -> list[TimelineEntry]:
    """Newest first. The caller has checked that the partner is visible."""
    wanted = limit + offset
    streams = [source(session, user, partner_id, wanted) for source in SOURCES.values()]
    merged = heapq.merge(*streams, key=lambda e: e.at, reverse=True)
    return list(merged)[offset:wanted]


def _activities(session: Session, user: User, partner_id: int, limit: int) -> list[TimelineEntry]:
    rows = session.execute(
        select(
            Activity.id,
            Activity.kind,
            Activity.title,
            Activity.note,
            Activity.created_at,
            Activity.done,
            Activity.due_date,
        )
        .where(Activity.partner_id == partner_id, visible(user, Activity))
        .order_by(Activity.created_at.desc(), Activity.id.desc())
        .limit(limit)
    )
    return [
        TimelineEntry(
            at=r.created_at,
            kind=r.kind,
            record_type="activity",
            record_id=r.id,
            title=r.title,
            summary=(r.note or "")[:200],
            done=r.done,
            extra={"due_date": r.due_date.isoformat()} if r.due_date else {},
        )
        for r in rows
    ]


def _deals(session: Session, user: User, partner_id: int, limit: int) -> list[TimelineEntry]:
    rows = session.execute(
        select(Deal.id, Deal.title, Deal.status, Deal.created_at, Deal.value, Deal.currency)
        .where(Deal.partner_id == partner_id, visible(user, Deal))
        .order_by(Deal.created_at.desc(), Deal.id.desc())
        .limit(limit)
    )
    return [
        TimelineEntry(
            at=r.created_at,
            kind="deal",
            record_type="deal",
            record_id=r.id,
            title=r.title,
            summary=r.status,
            extra={"value": f"{r.value} {r.currency}"} if r.value is not None else {},
        )
        for r in rows
    ]


register_source("activities", _activities)
register_source("deals", _deals)
