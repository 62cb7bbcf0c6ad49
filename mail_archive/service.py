"""Reading and curating the archive: lists, one message, threads, links, the triage queue.

Every read goes through ``crm.permissions.visible(user, Message)``; a message a user may not see
is indistinguishable from one that does not exist. A message may be linked to records of other
teams too: what it is filed to is shown through ``visible_links`` (and ``filed_to``,
``sources_seen``), which leave out every record the viewer may not see, so a message never names
a hidden partner or deal, nor who filed it there. Views and the API call these functions only.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import ColumnElement, exists, func, literal, or_, select, true, tuple_
from sqlalchemy.orm import Session, defer, selectinload

from crm import audit
from crm.errors import NotFound, ValidationError
from crm.models import Deal, Partner, Person, User, utcnow
from crm.permissions import load_visible, visible
from crm.services.maildomains import public_mail_domains
from crm.services.partners import partners
from crm.services.persons import persons
from crm.services.records import MAX_PER_PAGE, Page, write_outbox
from crm.text import N_, Text
from crm.timeline import TimelineEntry, register_source
from mail_archive.models import (
    DIRECTIONS,
    LINK_TYPES,
    SORT_KEY_LENGTH,
    Attachment,
    Message,
    MessageLink,
    target_of,
)

RECORD_MODELS: dict[str, type] = {"partner": Partner, "person": Person, "deal": Deal}
audit.register_record_type("message", Message)
# A list shows no bodies: they can be megabytes each.
LIST_COLUMNS_ONLY = (defer(Message.body_text), defer(Message.body_html))


def _linked_to(record_type: str, record_id: int) -> ColumnElement[bool]:
    column = getattr(MessageLink, f"{record_type}_id")
    return exists(
        select(true()).where(
            MessageLink.message_id == Message.id,
            column == record_id,
            MessageLink.removed.is_(False),
        )
    )


SORT_KEYS: dict[str, Any] = {
    "date": Message.sort_at,
    "subject": Message.sort_subject,
    "from": Message.sort_from,
}
# A web list counts at most this many visible messages: each one counted costs a permission
# check (on PostgreSQL counting 10,000 of 100,000 took a second), so a page of a big archive
# says "more than 1,000" and numbers its pages from either end.
COUNT_LIMIT = 1_000
CURSOR = re.compile(r"(?P<id>[1-9][0-9]{0,17}):(?P<key>.*)", re.DOTALL)


@dataclass
class MailPage(Page[Message]):
    """A page of mail read by position (keyset paging): from the start, from the end, after or
    before a row. ``page`` is its number from the start or, while the total is not known
    (``more``: there are more than ``total``), negative from the end (-1: the last page);
    ``first`` and ``last`` are cursors of its first and last row for the links to the pages
    before and after it."""

    more: bool = False
    has_prev: bool = False
    has_next: bool = False
    first: str = ""
    last: str = ""


def cursor_of(message: Message, sort: str) -> str:
    """Where ``message`` stands in a list sorted by ``sort``: its id and sort key."""
    value = getattr(message, SORT_KEYS[sort.removeprefix("-") or "date"].key)
    return f"{message.id}:{value.isoformat() if isinstance(value, dt.datetime) else value}"


def _parse_cursor(sort_key: str, raw: str) -> tuple[Any, int] | None:
    found = CURSOR.fullmatch(raw)
    if found is None:
        return None
    key: Any = found["key"]
    if sort_key == "date":
        try:
            key = dt.datetime.fromisoformat(key)
        except ValueError:
            return None
        if key.tzinfo is None:
            return None
    elif len(key) > SORT_KEY_LENGTH:
        return None
    return key, int(found["id"])


def list_messages(
    session: Session,
    user: User,
    *,
    partner_id: int | None = None,
    deal_id: int | None = None,
    person_id: int | None = None,
    status: str | None = "filed",
    text: str = "",
    direction: str = "",
    sort: str = "",
    page: int = 1,
    per_page: int = 50,
    after: str = "",
    before: str = "",
    last: bool = False,
    count_limit: int | None = None,
) -> MailPage:
    """Newest first unless ``sort`` (date, subject or from; ``-`` before it: descending) says
    otherwise; filtered by what the user may see, the records asked for, ``direction`` (in,
    out) and ``text`` in the subject, sender or an address. ValidationError for a sort key,
    direction or position that does not exist.

    Which page: the rows ``after`` or ``before`` a cursor (``cursor_of``, what the pager's
    links carry; ``page`` is then only the number shown), the ``last`` page, or page ``page``
    from the start (a bookmark of a numbered page: the rows before it are read, as OFFSET
    does). A page by cursor or from either end is read from the sort's index and costs the
    same at any depth. ``count_limit``: count at most that many (web pages; the API counts
    all)."""
    errors: dict[str, str] = {}
    key = sort.removeprefix("-") or "date"
    if sort and key not in SORT_KEYS:
        errors["sort"] = Text(N_("cannot sort by %(key)s"), key=sort)
        key = "date"
    if direction and direction not in DIRECTIONS:
        errors["direction"] = N_("must be in or out")
    seek = None
    if after or before:
        seek = _parse_cursor(key, after or before)
        if seek is None:
            errors["after" if after else "before"] = N_("is not a position in this list")
    if errors:
        raise ValidationError(errors)
    conditions = [visible(user, Message)]
    if direction:
        conditions.append(Message.direction == direction)
    text = " ".join(text.split())[:200]
    if text:
        conditions.append(
            or_(
                Message.subject.icontains(text, autoescape=True),
                Message.from_name.icontains(text, autoescape=True),
                Message.from_addr.icontains(text, autoescape=True),
            )
        )
    for record_type, record_id in (
        ("partner", partner_id),
        ("deal", deal_id),
        ("person", person_id),
    ):
        if record_id is not None:
            conditions.append(_linked_to(record_type, record_id))
    if status:
        conditions.append(Message.status == status)
    per_page = min(max(1, per_page), MAX_PER_PAGE)
    counted = select(Message.id).where(*conditions)
    if count_limit is not None:
        counted = counted.limit(count_limit + 1)
    total = session.scalar(select(func.count()).select_from(counted.subquery())) or 0
    more = count_limit is not None and total > count_limit
    if count_limit is not None:
        total = min(total, count_limit)
    pages = max(1, math.ceil(total / per_page))
    column = SORT_KEYS[key]
    descending = not sort or sort.startswith("-")
    query = (
        select(Message)
        .where(*conditions)
        .options(*LIST_COLUMNS_ONLY, selectinload(Message.links).selectinload(MessageLink.partner))
    )
    if seek is not None:
        row = tuple_(column, Message.id)
        at = tuple_(literal(seek[0], column.type), literal(seek[1]))
        # the rows that follow the cursor in the list's order, or those that precede it
        query = query.where(row < at if descending == bool(after) else row > at)
    forward = [column.desc(), Message.id.desc()] if descending else [column, Message.id]
    backward = [column, Message.id] if descending else [column.desc(), Message.id.desc()]
    if before or (last and not after):
        wanted = per_page
        if not before:
            # the last page holds what is left over, so that the pages before it are those
            # counted from the start; with no known total, simply the last rows
            wanted = per_page if more else total - (pages - 1) * per_page
            page = -1 if more else pages
        items = list(session.scalars(query.order_by(*backward).limit(wanted + 1)))
        has_prev = len(items) > wanted
        items = items[:wanted][::-1]
        has_next = bool(before)
        if not has_prev:
            page = 1
    else:
        page = max(page, 1)
        if seek is None and page > 1:
            query = query.offset((page - 1) * per_page)
        items = list(session.scalars(query.order_by(*forward).limit(per_page + 1)))
        has_next = len(items) > per_page
        items = items[:per_page]
        has_prev = seek is not None or page > 1
    if not more:  # a known total: the number stays within it (a stale link's number)
        page = pages if has_prev and not has_next else min(max(page, 1), pages)
    return MailPage(
        items,
        total,
        page,
        per_page,
        more=more,
        has_prev=has_prev,
        has_next=has_next,
        first=cursor_of(items[0], sort) if items else "",
        last=cursor_of(items[-1], sort) if items else "",
    )


def visible_ids(session: Session, user: User, record_type: str, ids: Iterable[int]) -> set[int]:
    """Those of the ``record_type`` records ``ids`` that the user may see."""
    wanted = set(ids)
    if not wanted or user.role == "admin":
        return wanted
    model: Any = RECORD_MODELS[record_type]
    return set(session.scalars(select(model.id).where(model.id.in_(wanted), visible(user, model))))


def visible_links(
    session: Session, user: User, messages: Sequence[Message]
) -> dict[int, list[MessageLink]]:
    """Each message's links (those no user removed) to records the user may see, by message
    id: one query per kind of record for a whole page."""
    wanted: dict[str, set[int]] = {}
    for m in messages:
        for link in m.active_links:
            wanted.setdefault(link.record_type, set()).add(link.record_id)
    seen = {kind: visible_ids(session, user, kind, ids) for kind, ids in wanted.items()}
    return {
        m.id: [link for link in m.active_links if link.record_id in seen[link.record_type]]
        for m in messages
    }


def filed_to(session: Session, user: User, messages: Sequence[Message]) -> dict[int, list[Partner]]:
    """The partners each message is filed to that the user may see (what a list shows)."""
    return {
        message_id: [link.partner for link in links if link.partner is not None]
        for message_id, links in visible_links(session, user, messages).items()
    }


def sources_seen(user: User, message: Message) -> list[tuple[str, str | None]]:
    """(kind, folder) of each copy: the folder only of the user's own copies (a colleague's
    ``CRM/<partner>`` folder would name the partner)."""
    return [
        (s.kind, (s.folder or None) if user.role == "admin" or s.user_id == user.id else None)
        for s in message.sources
    ]


def partner_names(session: Session, user: User, partner_ids: Iterable[int]) -> dict[int, str]:
    """The names of those partners the user may see (a shared deal of a private partner must
    not name it)."""
    seen = visible_ids(session, user, "partner", partner_ids)
    if not seen:
        return {}
    rows = session.execute(select(Partner.id, Partner.name).where(Partner.id.in_(seen)))
    return {partner_id: name for partner_id, name in rows}


def load_message(session: Session, user: User, message_id: int) -> Message:
    return load_visible(session, user, Message, message_id)


def find_message(session: Session, user: User, message_id: int | None) -> Message | None:
    """The message if the user may see it, else None (a filing channel's answer to a copy of a
    message that is not theirs: it names nothing)."""
    if message_id is None:
        return None
    return session.scalars(
        select(Message).where(Message.id == message_id, visible(user, Message))
    ).first()


def load_attachment(session: Session, user: User, message_id: int, position: int) -> Attachment:
    row = session.scalars(
        select(Attachment).where(
            Attachment.message_id == message_id,
            Attachment.position == position,
            visible(user, Attachment),
        )
    ).first()
    if row is None:
        raise NotFound(f"attachment {position} of message {message_id} not found")
    return row


def record_download(
    session: Session, user: User, message: Message, attachment: Attachment | None = None
) -> None:
    """Who fetched a raw message or an attachment (the caller commits before sending it)."""
    what = {"attachment": (None, attachment.filename)} if attachment else {"raw": (None, True)}
    audit.record(session, user, "download", "message", message.id, what)


def thread_of(session: Session, user: User, message: Message) -> list[Message]:
    """The visible messages of the message's thread, oldest first."""
    return list(
        session.scalars(
            select(Message)
            .options(defer(Message.body_html))  # the thread shows the start of each text
            .where(
                Message.thread_key == message.thread_key,
                Message.status != "dismissed",
                visible(user, Message),
            )
            .order_by(Message.sort_at, Message.id)
        )
    )


def _triage(user: User) -> list[ColumnElement[bool]]:
    """Mail that came through an explicit channel and matched nothing: the user's own (every
    user's for an admin)."""
    conditions = [Message.status == "triage"]
    if user.role != "admin":
        conditions.append(Message.owner_id == user.id)
    return conditions


def triage_queue(session: Session, user: User, page: int = 1, per_page: int = 50) -> Page[Message]:
    page = max(1, page)
    items = list(
        session.scalars(
            select(Message)
            .options(*LIST_COLUMNS_ONLY)
            .where(*_triage(user))
            .order_by(Message.sort_at.desc(), Message.id.desc())
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
    )
    return Page(items, triage_count(session, user), page, per_page)


def triage_count(session: Session, user: User) -> int:
    return session.scalar(select(func.count()).select_from(Message).where(*_triage(user))) or 0


def add_link(
    session: Session, user: User, message: Message, record_type: str, record_id: int
) -> MessageLink:
    """Link by hand (``how`` manual). The user must see the record; a deal brings its partner,
    a person theirs. A link the user removed before comes back."""
    if record_type not in LINK_TYPES:
        raise ValidationError({"record_type": f"must be one of {', '.join(LINK_TYPES)}"})
    record: Any = load_visible(session, user, RECORD_MODELS[record_type], record_id)
    link = _ensure_link(session, user, message, record_type, record_id)
    partner_id = getattr(record, "partner_id", None)
    if partner_id is not None:
        _ensure_link(session, user, message, "partner", partner_id)
    if message.status != "filed":
        message.status = "filed"
    session.flush()
    write_outbox(session, "message", message.id, "update", payload={"links": ["added"]})
    audit.record(session, user, "link", record_type, record_id, {"message_id": (None, message.id)})
    return link


def _ensure_link(
    session: Session, user: User, message: Message, record_type: str, record_id: int
) -> MessageLink:
    target = target_of(record_type, record_id)
    for link in message.links:
        if link.target == target:
            if link.removed:
                link.removed = False
                link.removed_by_id = None
                link.how = "manual"
                link.created_by_id = user.id
                link.created_at = utcnow()
            return link
    link = MessageLink(
        target=target,
        how="manual",
        created_by_id=user.id,
        sort_at=message.sort_at,
        **{f"{record_type}_id": record_id},
    )
    message.links.append(link)
    session.flush()
    return link


def remove_link(session: Session, user: User, message: Message, link_id: int) -> None:
    """Unlink; the link stays as a tombstone so that no rule adds it again. A message left with
    no link goes back to the triage queue of its owner (or of the user who unlinked it)."""
    link = next((x for x in message.links if x.id == link_id and not x.removed), None)
    if link is None:
        raise NotFound(f"link {link_id} not found")
    load_visible(session, user, RECORD_MODELS[link.record_type], link.record_id)
    link.removed = True
    link.removed_by_id = user.id
    audit.record(
        session,
        user,
        "unlink",
        link.record_type,
        link.record_id,
        {"message_id": (message.id, None)},
    )
    if not message.active_links:
        message.status = "triage"
        if message.owner_id is None:
            message.owner_id = user.id
    session.flush()
    write_outbox(session, "message", message.id, "update", payload={"links": ["removed"]})


def removed_link(session: Session, user: User, message: Message, link_id: int) -> MessageLink:
    """A link of the message that was removed, to a record the user sees (to undo it)."""
    link = next((x for x in message.links if x.id == link_id and x.removed), None)
    if link is None:
        raise NotFound(f"link {link_id} not found")
    load_visible(session, user, RECORD_MODELS[link.record_type], link.record_id)
    return link


def restore_link(session: Session, user: User, message: Message, link_id: int) -> MessageLink:
    """Undo ``remove_link``: the link is back as it was (how it was made, who made it)."""
    link = removed_link(session, user, message, link_id)
    link.removed = False
    link.removed_by_id = None
    message.status = "filed"
    session.flush()
    write_outbox(session, "message", message.id, "update", payload={"links": ["added"]})
    audit.record(
        session, user, "link", link.record_type, link.record_id, {"message_id": (None, message.id)}
    )
    return link


def check_choice(session: Session, user: User, partner_id: int | None, deal_id: int | None) -> None:
    """A user's explicit choice of where mail goes (triage, upload, the API, sending, ``dossier
    file``): records the user can see, and when both are chosen, a deal of that partner; else
    the mail would show in another partner's dossier than the one the user picked."""
    partner = load_visible(session, user, Partner, partner_id) if partner_id is not None else None
    deal = load_visible(session, user, Deal, deal_id) if deal_id is not None else None
    if partner is not None and deal is not None and deal.partner_id != partner.id:
        raise ValidationError(
            {
                "deal_id": Text(
                    "the deal “%(deal)s” is not a deal of %(partner)s: choose one of its deals, "
                    "or no deal",
                    deal=deal.title,
                    partner=partner.name,
                )
            }
        )


def file_from_triage(
    session: Session,
    user: User,
    message: Message,
    partner_id: int | None,
    deal_id: int | None = None,
) -> None:
    if not partner_id and not deal_id:
        raise ValidationError({"partner_id": "choose a partner or a deal"})
    check_choice(session, user, partner_id or None, deal_id or None)
    if deal_id:
        add_link(session, user, message, "deal", deal_id)
    if partner_id:
        add_link(session, user, message, "partner", partner_id)


@dataclass(frozen=True)
class SenderSuggestion:
    """What triage offers to create from a message's sender: a partner named after the
    sender's domain, with that domain (unless a public one such as gmail.com), and the sender
    as its person. Every value is a suggestion the user edits."""

    partner_name: str
    domain: str
    person_name: str
    email: str


def sender_suggestion(session: Session, message: Message) -> SenderSuggestion:
    address = message.from_addr.strip().lower()
    domain = address.rpartition("@")[2] if "@" in address else ""
    if domain in public_mail_domains(session):
        domain = ""  # never a partner's domain: mail from every gmail user would file to it
    label = domain.split(".")[-2] if domain.count(".") >= 1 else ""
    partner_name = label.replace("-", " ").title() if label else message.from_name
    return SenderSuggestion(partner_name, domain, message.from_name, address)


def file_to_new_partner(
    session: Session,
    user: User,
    message: Message,
    partner_data: dict[str, Any],
    person_data: dict[str, Any],
) -> Partner:
    """Triage: a new partner (and, when named, its person) from the sender, and the message
    filed to it, in the caller's one unit of work: refused whole (errors keyed ``partner.…``
    and ``person.…``) or done whole."""
    if message.status != "triage":
        raise ValidationError(
            {"status": N_("only a message waiting in triage can be filed this way")}
        )
    try:
        partner = partners.create(session, user, partner_data)
    except ValidationError as exc:
        raise ValidationError({f"partner.{k}": v for k, v in exc.errors.items()}) from exc
    if any(str(v).strip() for v in person_data.values()):
        try:
            persons.create(session, user, {**person_data, "partner_id": partner.id})
        except ValidationError as exc:
            raise ValidationError({f"person.{k}": v for k, v in exc.errors.items()}) from exc
    file_from_triage(session, user, message, partner.id)
    return partner


def dismiss(session: Session, user: User, message: Message) -> None:
    """Not CRM mail: hidden from the queue, kept (nothing is lost)."""
    if message.status != "triage":
        raise ValidationError({"status": "only a message waiting in triage can be dismissed"})
    message.status = "dismissed"
    session.flush()
    write_outbox(session, "message", message.id, "update", payload={"fields": ["status"]})
    audit.record(
        session, user, "dismiss", "message", message.id, {"status": ("triage", "dismissed")}
    )


class Addressed(Protocol):
    """A message or a row of its columns: what ``counterpart`` reads."""

    direction: str
    to_addrs: list[list[str]]
    from_name: str
    from_addr: str


def counterpart(message: Addressed) -> str:
    """Who the mail is with: the sender of incoming mail, the first recipient of outgoing."""
    if message.direction == "out" and message.to_addrs:
        name, addr = message.to_addrs[0]
        return name or addr
    return message.from_name or message.from_addr


def _timeline(session: Session, user: User, partner_id: int, limit: int) -> list[TimelineEntry]:
    """The partner's newest ``limit`` visible messages, read from the top of the links' index
    on (partner, removed, date): a partner with 50,000 mails reads the rows it shows, and the
    start of the text of those only."""
    newest = (
        select(MessageLink.message_id)
        .join(Message, Message.id == MessageLink.message_id)
        .where(
            MessageLink.partner_id == partner_id,
            MessageLink.removed.is_(False),
            visible(user, Message),
        )
        .order_by(MessageLink.sort_at.desc(), MessageLink.message_id.desc())
        .limit(limit)
    )
    shown = list(session.scalars(newest))
    if not shown:
        return []
    rows = session.execute(
        select(
            Message.id,
            Message.subject,
            Message.sort_at,
            Message.direction,
            Message.from_name,
            Message.from_addr,
            Message.to_addrs,
            Message.has_attachments,
            func.substr(Message.body_text, 1, 300).label("body_start"),  # not whole bodies
        )
        .where(Message.id.in_(shown))
        .order_by(Message.sort_at.desc(), Message.id.desc())
    )
    entries = []
    for r in rows:
        entries.append(
            TimelineEntry(
                at=r.sort_at,
                kind="mail",
                record_type="message",
                record_id=r.id,
                title=r.subject or "",
                summary=" ".join(r.body_start.split())[:200],
                who=counterpart(r),
                extra={
                    "direction": r.direction,
                    **({"attachments": "1"} if r.has_attachments else {}),
                },
            )
        )
    return entries


register_source("mail", _timeline)


def newest_for_salesperson(session: Session, user: User, limit: int = 8) -> list[Message]:
    """The newest filed mail of the partners whose salesperson ``user`` is (My day), of what
    ``user`` may see."""
    mine = (
        select(MessageLink.message_id)
        .join(Partner, Partner.id == MessageLink.partner_id)
        .where(Partner.salesperson_id == user.id, MessageLink.removed.is_(False))
    )
    return list(
        session.scalars(
            select(Message)
            .options(*LIST_COLUMNS_ONLY)
            .where(Message.status == "filed", Message.id.in_(mine), visible(user, Message))
            .order_by(Message.sort_at.desc(), Message.id.desc())
            .limit(limit)
        )
    )


def filed_count(session: Session, user: User, record_type: str, record_id: int) -> int:
    """How many messages ``user`` sees filed to the record (a delete names what goes with it)."""
    return (
        session.scalar(
            select(func.count())
            .select_from(Message)
            .where(_linked_to(record_type, record_id), visible(user, Message))
        )
        or 0
    )


def partner_choices(session: Session, user: User, limit: int) -> tuple[list[tuple[int, str]], bool]:
    """What a partner picker offers: the first ``limit`` partners the user may see, passive
    ones too, by name (id and name only: a picker must not load whole records); and whether
    there are more."""
    rows = session.execute(
        select(Partner.id, Partner.name)
        .where(visible(user, Partner))
        .order_by(Partner.name, Partner.id)
        .limit(limit + 1)
    ).all()
    return [(r.id, r.name) for r in rows[:limit]], len(rows) > limit


def deal_choices(
    session: Session, user: User, limit: int
) -> tuple[list[tuple[int, str, int | None]], bool]:
    """What a deal picker offers: the first ``limit`` open deals the user may see, by title,
    as (id, "title — partner", partner id), the partner only when the user sees it (a shared
    deal of a private partner must not name it); and whether there are more."""
    rows = session.execute(
        select(Deal.id, Deal.title, Deal.partner_id)
        .where(Deal.status == "open", visible(user, Deal))
        .order_by(Deal.title, Deal.id)
        .limit(limit + 1)
    ).all()
    names = partner_names(session, user, {r.partner_id for r in rows[:limit]})
    return [
        (
            r.id,
            f"{r.title} — {names[r.partner_id]}" if r.partner_id in names else r.title,
            r.partner_id if r.partner_id in names else None,
        )
        for r in rows[:limit]
    ], len(rows) > limit
