"""The filing rules: which partners, persons and deals a message belongs to.

In this order, the first rule that finds something decides:
  1. the explicit choice of the channel (a partner or deal picked on upload, the API's query,
     a ``CRM/<partner name>`` folder);
  2. the subject tag ``[D-<deal id>]``;
  3. the thread: a reply inherits the links of the nearest archived message it refers to (a
     link a user removed there stays removed);
  4. a counterpart's address equals a person's (or a partner's) email (counterparts: the
     recipients of mail we sent; the sender, Reply-To, To and Cc of mail we received; never
     one of our own addresses);
  5. a counterpart's domain equals a partner's mail domain; public mail domains (the editable
     codebook ``public_mail_domain``) never match.
Auto-replies, bounces and delivery reports get no links from rules 2-5.
A deal link made by rules 1-2 brings its partner's link, a person link by rule 4 its partner's;
the thread copies the parent's links as they are.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from crm.models import Deal, Partner, PartnerDomain, Person
from crm.services.maildomains import public_mail_domains
from mail_archive.ingest import Identity, LinkSpec, Source
from mail_archive.models import Message, MessageLink, split_target
from mail_archive.parse import Address, ParsedMessage

DEAL_TAG = re.compile(r"\[D-(\d{1,9})\]", re.IGNORECASE)
# Built once: these run for every message of a bulk ingest.
_PARTNER_OF_DEAL = select(Deal.partner_id).where(Deal.id == bindparam("deal_id"))
# Every archived message of the thread with its links (removed ones too: they decide as well).
_THREAD_LINKS = (
    select(Message.internet_id, MessageLink.target, MessageLink.removed)
    .outerjoin(MessageLink, MessageLink.message_id == Message.id)
    .where(Message.internet_id.in_(bindparam("references", expanding=True)))
)


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
            partner_id = session.scalar(_PARTNER_OF_DEAL, {"deal_id": source.deal_id})
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
            partner_id = session.scalar(_PARTNER_OF_DEAL, {"deal_id": deal_id})
            if partner_id is not None:
                links.append(LinkSpec("deal", deal_id, "tag"))
                links.append(LinkSpec("partner", partner_id, "tag"))
        return _unique(links)

    def _thread(self, session: Session, parsed: ParsedMessage) -> list[LinkSpec]:
        """The links of the nearest archived message the reply refers to (its parent, else the
        one before it, ...): a link a user removed there is not brought back by an older one."""
        if not parsed.references:
            return []
        by_message: dict[str, list[str]] = {}
        rows = session.connection().execute(_THREAD_LINKS, {"references": parsed.references})
        for internet_id, target, removed in rows:
            targets = by_message.setdefault(internet_id, [])
            if target is not None and not removed:
                targets.append(target)
        # parse() puts In-Reply-To last: the references run from the thread's root to the parent
        nearest = next((r for r in reversed(parsed.references) if r in by_message), None)
        if nearest is None:
            return []
        links = [LinkSpec(*split_target(t), "thread") for t in by_message[nearest]]
        return _unique(links)


def _counterparts(parsed: ParsedMessage, outgoing: bool, ours: Identity) -> list[Address]:
    """Who the mail is with: its recipients when we sent it; else its sender first, then
    everyone else it went to (a partner's person in To or Cc of mail a stranger sent us)."""
    if outgoing:
        candidates = [*parsed.to, *parsed.cc]
    else:
        sender = [parsed.from_] if parsed.from_ else []
        candidates = [*sender, *parsed.reply_to, *parsed.to, *parsed.cc]
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
