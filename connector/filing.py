"""The filing rules: which partners, persons and deals a message belongs to.

In this order, the first rule that finds something decides:
  1. the explicit choice of the channel (a partner or deal picked on upload, the API's query,
     a ``CRM/<partner name>`` folder);
  2. the subject tag ``[D-<deal id>]``;
  3. the thread: a reply to a filed message inherits its links;
  4. a counterpart's address equals a person's (or a partner's) email;
  5. a counterpart's domain equals a partner's mail domain; public mail domains (the editable
     codebook ``public_mail_domain``) never match.
Auto-replies, bounces and delivery reports get no links from rules 2-5.
A deal link always brings its partner's link, a person link its partner's.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.models import Deal, Partner, PartnerDomain, Person
from crm.services.maildomains import public_mail_domains
from mail_archive.ingest import Identity, LinkSpec, Source
from mail_archive.models import Message, MessageLink
from mail_archive.parse import Address, ParsedMessage

DEAL_TAG = re.compile(r"\[D-(\d{1,9})\]", re.IGNORECASE)


@dataclass
class Directory:
    """Who is who, loaded once per sync pass or request: addresses and domains to records."""

    persons: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # -> person, partner
    partner_emails: dict[str, list[int]] = field(default_factory=dict)
    domains: dict[str, list[int]] = field(default_factory=dict)
    public: frozenset[str] = frozenset()

    @classmethod
    def load(cls, session: Session) -> Directory:
        persons: defaultdict[str, list[tuple[int, int]]] = defaultdict(list)
        for pid, partner_id, emails in session.execute(
            select(Person.id, Person.partner_id, Person.emails)
        ):
            for e in emails or []:
                persons[e.strip().lower()].append((pid, partner_id))
        partner_emails: defaultdict[str, list[int]] = defaultdict(list)
        for partner_id, emails in session.execute(select(Partner.id, Partner.emails)):
            for e in emails or []:
                partner_emails[e.strip().lower()].append(partner_id)
        domains: defaultdict[str, list[int]] = defaultdict(list)
        for partner_id, domain in session.execute(
            select(PartnerDomain.partner_id, PartnerDomain.domain)
        ):
            domains[domain.lower()].append(partner_id)
        return cls(
            dict(persons),
            dict(partner_emails),
            dict(domains),
            public_mail_domains(session),
        )


class RuleFiler:
    """The filer ``mail_archive.Archive`` asks; holds the directory of one pass."""

    def __init__(self, directory: Directory | None = None) -> None:
        self._directory = directory

    def directory(self, session: Session) -> Directory:
        if self._directory is None:
            self._directory = Directory.load(session)
        return self._directory

    def __call__(
        self,
        session: Session,
        parsed: ParsedMessage,
        source: Source,
        outgoing: bool,
        ours: Identity,
    ) -> list[LinkSpec]:
        explicit = self._explicit(session, source)
        if explicit:
            return explicit
        if parsed.auto:
            return []
        for rule in (self._tag, self._thread):
            found = rule(session, parsed)
            if found:
                return found
        directory = self.directory(session)
        counterparts = _counterparts(parsed, outgoing, ours)
        return _by_address(directory, counterparts) or _by_domain(directory, counterparts)

    def _explicit(self, session: Session, source: Source) -> list[LinkSpec]:
        links: list[LinkSpec] = []
        if source.deal_id:
            partner_id = session.scalar(select(Deal.partner_id).where(Deal.id == source.deal_id))
            if partner_id is not None:
                links.append(LinkSpec("deal", source.deal_id, source.how))
                links.append(LinkSpec("partner", partner_id, source.how))
        if source.partner_id and all(
            link.record_id != source.partner_id or link.record_type != "partner" for link in links
        ):
            links.append(LinkSpec("partner", source.partner_id, source.how))
        return links

    def _tag(self, session: Session, parsed: ParsedMessage) -> list[LinkSpec]:
        links: list[LinkSpec] = []
        for deal_id in dict.fromkeys(int(m) for m in DEAL_TAG.findall(parsed.subject)):
            partner_id = session.scalar(select(Deal.partner_id).where(Deal.id == deal_id))
            if partner_id is not None:
                links.append(LinkSpec("deal", deal_id, "tag"))
                links.append(LinkSpec("partner", partner_id, "tag"))
        return _unique(links)

    def _thread(self, session: Session, parsed: ParsedMessage) -> list[LinkSpec]:
        if not parsed.references:
            return []
        rows = session.execute(
            select(MessageLink.target)
            .join(Message, Message.id == MessageLink.message_id)
            .where(Message.internet_id.in_(parsed.references), MessageLink.removed.is_(False))
        )
        links = []
        for (target,) in rows:
            kind, _, rid = target.partition(":")
            links.append(LinkSpec(kind, int(rid), "thread"))
        return _unique(links)


def _counterparts(parsed: ParsedMessage, outgoing: bool, ours: Identity) -> list[Address]:
    if outgoing:
        candidates = [*parsed.to, *parsed.cc]
    else:
        candidates = [*([parsed.from_] if parsed.from_ else []), *parsed.reply_to, *parsed.cc]
    return [a for a in dict.fromkeys(candidates) if not ours.owns(a)]


def _by_address(directory: Directory, counterparts: list[Address]) -> list[LinkSpec]:
    links: list[LinkSpec] = []
    for a in counterparts:
        for person_id, partner_id in directory.persons.get(a.addr, []):
            links.append(LinkSpec("person", person_id, "address"))
            links.append(LinkSpec("partner", partner_id, "address"))
        for partner_id in directory.partner_emails.get(a.addr, []):
            links.append(LinkSpec("partner", partner_id, "address"))
    return _unique(links)


def _by_domain(directory: Directory, counterparts: list[Address]) -> list[LinkSpec]:
    links: list[LinkSpec] = []
    for a in counterparts:
        if a.domain in directory.public:
            continue
        for partner_id in directory.domains.get(a.domain, []):
            links.append(LinkSpec("partner", partner_id, "domain"))
    return _unique(links)


def _unique(links: list[LinkSpec]) -> list[LinkSpec]:
    seen: dict[tuple[str, int], LinkSpec] = {}
    for link in links:
        seen.setdefault((link.record_type, link.record_id), link)
    return list(seen.values())
