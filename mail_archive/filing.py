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

Every rule acts on behalf of the source's user (the account's owner, the uploader) and links only
to records that user may see (``crm.permissions.visible``, through ``Sight``): a tag naming a deal
they cannot see is a tag of no deal, a thread is followed only through messages they see, an
address or domain of a partner they cannot see matches nothing; a shared deal of a partner they
cannot see is linked without its partner. A source without a user gets no links at all. What a
user sees is read once per pass (the partners' ids; deals as tags ask for them), like the
directory, so bulk ingest asks nothing per message that it did not ask before.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.models import Deal, Partner, PartnerDomain, Person, User
from crm.permissions import visible
from crm.services.maildomains import public_mail_domains
from mail_archive.ingest import Identity, LinkSpec, Source
from mail_archive.models import split_target
from mail_archive.parse import Address, ParsedMessage
from mail_archive.threads import Thread

DEAL_TAG = re.compile(r"\[D-(\d{1,9})\]", re.IGNORECASE)


@dataclass
class Directory:
    """Who is who, loaded once per sync pass or request: addresses and domains to records."""

    persons: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # -> person, partner
    partner_emails: dict[str, list[int]] = field(default_factory=dict)
    domains: dict[str, list[int]] = field(default_factory=dict)
    public: frozenset[str] = frozenset()
    partner_of_person: dict[int, int] = field(default_factory=dict)

    @classmethod
    def load(cls, session: Session) -> Directory:
        persons: defaultdict[str, list[tuple[int, int]]] = defaultdict(list)
        partner_of_person: dict[int, int] = {}
        # nothing in the trash files mail (crm.trash): its partner, persons and domains wait
        live_partners = select(Partner.id).where(Partner.deleted_at.is_(None))
        for pid, partner_id, emails in session.execute(
            select(Person.id, Person.partner_id, Person.emails).where(
                Person.deleted_at.is_(None), Person.partner_id.in_(live_partners)
            )
        ):
            partner_of_person[pid] = partner_id
            for e in emails or []:
                persons[e.strip().lower()].append((pid, partner_id))
        partner_emails: defaultdict[str, list[int]] = defaultdict(list)
        for partner_id, emails in session.execute(
            select(Partner.id, Partner.emails).where(Partner.deleted_at.is_(None))
        ):
            for e in emails or []:
                partner_emails[e.strip().lower()].append(partner_id)
        domains: defaultdict[str, list[int]] = defaultdict(list)
        for partner_id, domain in session.execute(
            select(PartnerDomain.partner_id, PartnerDomain.domain).where(
                PartnerDomain.partner_id.in_(live_partners)
            )
        ):
            domains[domain.lower()].append(partner_id)
        return cls(
            dict(persons),
            dict(partner_emails),
            dict(domains),
            public_mail_domains(session),
            partner_of_person,
        )


@dataclass
class Sight:
    """What one user may see, as far as the filing rules ask, read once per pass: the ids of
    the partners (None: all but those in the trash, an admin), and the deals asked about so
    far (deal -> its partner, None when the user cannot see the deal)."""

    user_id: int
    partners: frozenset[int] | None
    deals: dict[int, int | None] = field(default_factory=dict)
    trashed: frozenset[int] = frozenset()

    @classmethod
    def load(cls, session: Session, user: User) -> Sight:
        if user.role == "admin":
            trashed = session.scalars(select(Partner.id).where(Partner.deleted_at.is_not(None)))
            return cls(user.id, None, trashed=frozenset(trashed))
        ids = session.scalars(select(Partner.id).where(visible(user, Partner)))
        return cls(user.id, frozenset(ids))

    def partner(self, partner_id: int | None) -> bool:
        if partner_id is None:
            return False
        if self.partners is None:
            return partner_id not in self.trashed
        return partner_id in self.partners

    def deal(self, session: Session, deal_id: int) -> tuple[bool, int | None]:
        """(the user sees the deal, its partner if they see that too)."""
        if deal_id not in self.deals:
            user = session.get(User, self.user_id)
            found = None
            if user is not None:
                found = session.execute(
                    select(Deal.partner_id).where(Deal.id == deal_id, visible(user, Deal))
                ).first()
            self.deals[deal_id] = found[0] if found else None
            if found is None:
                return False, None
        elif self.deals[deal_id] is None:
            return False, None
        partner_id = self.deals[deal_id]
        return True, partner_id if self.partner(partner_id) else None


class RuleFiler:
    """The filer ``mail_archive.Archive`` asks; holds the directory of one pass and what each
    user on whose behalf it files may see."""

    def __init__(self, directory: Directory | None = None) -> None:
        self._directory = directory
        self._sights: dict[int, Sight | None] = {}

    def directory(self, session: Session) -> Directory:
        if self._directory is None:
            self._directory = Directory.load(session)
        return self._directory

    def sight(self, session: Session, user_id: int | None) -> Sight | None:
        """What the user may see (None: no such user; nothing then)."""
        if user_id is None:
            return None
        if user_id not in self._sights:
            user = session.get(User, user_id)
            self._sights[user_id] = Sight.load(session, user) if user is not None else None
        return self._sights[user_id]

    def __call__(
        self,
        session: Session,
        parsed: ParsedMessage,
        source: Source,
        outgoing: bool,
        ours: Identity,
        thread: Thread,
    ) -> list[LinkSpec]:
        sight = self.sight(session, source.user_id)
        if sight is None:
            return []  # nobody's mail: no rule may act for nobody
        explicit = self._explicit(session, source, sight)
        if explicit:
            return explicit
        if parsed.auto:
            return []
        found = self._tag(session, parsed, sight) or self._thread(session, thread, sight)
        if found:
            return found
        directory = self.directory(session)
        counterparts = _counterparts(parsed, outgoing, ours)
        return _by_address(directory, counterparts, sight) or _by_domain(
            directory, counterparts, sight
        )

    def _explicit(self, session: Session, source: Source, sight: Sight) -> list[LinkSpec]:
        """The channel's choice; channels check it (``mail_archive.service.check_choice``), and a
        choice the user may not see is dropped here too."""
        links: list[LinkSpec] = []
        if source.deal_id:
            seen, partner_id = sight.deal(session, source.deal_id)
            if seen:
                links.append(LinkSpec("deal", source.deal_id, source.how))
            if partner_id is not None:
                links.append(LinkSpec("partner", partner_id, source.how))
        if sight.partner(source.partner_id):
            assert source.partner_id is not None
            links.append(LinkSpec("partner", source.partner_id, source.how))
        return _unique(links)

    def _tag(self, session: Session, parsed: ParsedMessage, sight: Sight) -> list[LinkSpec]:
        links: list[LinkSpec] = []
        for deal_id in dict.fromkeys(int(m) for m in DEAL_TAG.findall(parsed.subject)):
            seen, partner_id = sight.deal(session, deal_id)
            if seen:
                links.append(LinkSpec("deal", deal_id, "tag"))
            if partner_id is not None:
                links.append(LinkSpec("partner", partner_id, "tag"))
        return _unique(links)

    def _thread(self, session: Session, thread: Thread, sight: Sight) -> list[LinkSpec]:
        """The links of the message the reply refers to (mail_archive.threads decides which:
        the nearest one the user sees); a link a user removed there is not brought back by an
        older one; links to records the user cannot see are not copied."""
        parent = thread.parent()
        if parent is None:
            return []
        directory = self.directory(session)
        links = []
        for target in parent.targets:
            record_type, record_id = split_target(target)
            if record_type == "partner":
                seen = sight.partner(record_id)
            elif record_type == "person":
                seen = sight.partner(directory.partner_of_person.get(record_id))
            else:
                seen = sight.deal(session, record_id)[0]
            if seen:
                links.append(LinkSpec(record_type, record_id, "thread"))
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


def _by_address(directory: Directory, counterparts: list[Address], sight: Sight) -> list[LinkSpec]:
    links: list[LinkSpec] = []
    for a in counterparts:
        for person_id, partner_id in directory.persons.get(a.addr, []):
            if sight.partner(partner_id):  # a person takes the rule of their partner
                links.append(LinkSpec("person", person_id, "address"))
                links.append(LinkSpec("partner", partner_id, "address"))
        for partner_id in directory.partner_emails.get(a.addr, []):
            if sight.partner(partner_id):
                links.append(LinkSpec("partner", partner_id, "address"))
    return _unique(links)


def _by_domain(directory: Directory, counterparts: list[Address], sight: Sight) -> list[LinkSpec]:
    links: list[LinkSpec] = []
    for a in counterparts:
        if a.domain in directory.public:
            continue
        for partner_id in directory.domains.get(a.domain, []):
            if sight.partner(partner_id):
                links.append(LinkSpec("partner", partner_id, "domain"))
    return _unique(links)


def _unique(links: list[LinkSpec]) -> list[LinkSpec]:
    seen: dict[tuple[str, int], LinkSpec] = {}
    for link in links:
        seen.setdefault((link.record_type, link.record_id), link)
    return list(seen.values())
