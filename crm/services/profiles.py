"""A user's own details: phone, job title, mail signature and time zone.

Users edit them on their account page and admins on the user's page; letters and mail read
them (the signature under a reply, the phone on an offer). The time zone is an IANA name
(Europe/Prague), checked against the zone database, because every date and time the web UI
shows that user is converted to it.
"""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from crm.errors import NotFound
from crm.fields import PHONE_RE, FieldSpec, parse_input
from crm.models import User
from crm.text import N_

DEFAULT_TIME_ZONE = "Europe/Prague"


@functools.cache
def time_zones() -> tuple[str, ...]:
    """Every IANA zone name the system knows, sorted (the form's choices)."""
    return tuple(sorted(zoneinfo.available_timezones()))


def valid_time_zone(name: str) -> str:
    if name not in time_zones():
        raise ValueError(N_("is not a time zone (for example Europe/Prague)"))
    return name


def valid_phone(value: str) -> str:
    if value and not PHONE_RE.match(value):
        raise ValueError(N_("is not a phone number"))
    return value


FIELDS = (
    FieldSpec("phone", "Phone", max_length=30, clean=valid_phone),
    FieldSpec("job_title", "Job title", max_length=200),
    FieldSpec("signature", "Mail signature", "text", max_length=5000),
    FieldSpec(
        "time_zone",
        "Time zone",
        required=True,
        max_length=64,
        default=DEFAULT_TIME_ZONE,
        clean=valid_time_zone,
    ),
)


def update_profile(session: Session, user_id: int, data: Mapping[str, Any]) -> User:
    """Set the fields present in ``data``; ValidationError names each bad one."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("no such user")
    values = parse_input(session, FIELDS, data, partial=True)
    for name, value in values.items():
        setattr(user, name, value)
    return user
