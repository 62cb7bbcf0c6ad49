"""Public mail domains (gmail.com, seznam.cz, wp.pl, ...): never a partner's domain, never
matched by the mail filer. Kept in the codebook ``public_mail_domain`` so admins can edit the
list on the codebook page; the shipped list seeds it (crm.services.codebooks)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.models import CodebookEntry

CODEBOOK = "public_mail_domain"

SHIPPED = (
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "msn.com",
    "yahoo.com",
    "icloud.com",
    "me.com",
    "aol.com",
    "gmx.com",
    "gmx.de",
    "gmx.net",
    "web.de",
    "proton.me",
    "protonmail.com",
    "seznam.cz",
    "centrum.cz",
    "post.cz",
    "email.cz",
    "volny.cz",
    "atlas.cz",
    "tiscali.cz",
    "quick.cz",
    "wp.pl",
    "o2.pl",
    "onet.pl",
    "interia.pl",
    "op.pl",
    "gazeta.pl",
    "tlen.pl",
    "azet.sk",
    "zoznam.sk",
    "centrum.sk",
    "post.sk",
    "pobox.sk",
)


def public_mail_domains(session: Session) -> frozenset[str]:
    rows = session.scalars(
        select(CodebookEntry.label).where(
            CodebookEntry.codebook == CODEBOOK, CodebookEntry.active.is_(True)
        )
    )
    return frozenset(label.strip().lower() for label in rows)
