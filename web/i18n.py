"""Languages (English, Czech, Slovak, Polish) through Flask-Babel; dates and amounts in the
user's locale. The user's own choice wins, then the one made before sign-in, then the browser's."""

from __future__ import annotations

import datetime as dt
import functools
from decimal import Decimal
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import (
    DateTimePattern,
    get_date_format,
    get_datetime_format,
    get_time_format,
    parse_pattern,
)
from flask import Flask, request, session
from flask_babel import (
    Babel,
    format_currency,
    format_date,
    format_decimal,
    get_locale,
    get_timezone,
    gettext,
)

from crm.models import CodebookEntry
from crm.text import Text
from web.security import current_user

# Each language by its own name (crm.services.users.LANGUAGES is the list a user may choose).
LANGUAGES = {"en": "English", "cs": "Čeština", "sk": "Slovenčina", "pl": "Polski"}
# Formats per language: our English users are in Central Europe, so dates read 23 Nov 2026.
FORMAT_LOCALES = {"en": "en_GB", "cs": "cs_CZ", "sk": "sk_SK", "pl": "pl_PL"}
TIMEZONE = "Europe/Prague"


def select_locale() -> str:
    return FORMAT_LOCALES[select_language()]


def select_language() -> str:
    user = current_user()
    if user is not None and user.language in LANGUAGES:
        return user.language
    if session.get("lang") in LANGUAGES:
        return str(session["lang"])
    return request.accept_languages.best_match(list(LANGUAGES)) or "en"


def select_timezone() -> str:
    """The viewer's own time zone (User.time_zone); the office's before sign-in."""
    user = current_user()
    return user.time_zone if user is not None and user.time_zone else TIMEZONE


def money(value: Decimal | float | None, currency: str) -> str:
    if value is None:
        return ""
    return str(format_currency(value, currency))


def date(value: Any) -> str:
    return format_date(value, "medium") if value else ""


@functools.lru_cache(maxsize=8)
def _datetime_format(locale: str) -> tuple[Locale, DateTimePattern, DateTimePattern, str]:
    """A locale's medium date and short time patterns, parsed once (format_datetime re-parses
    and re-resolves the locale on every call: 60 µs, too slow for a 200-entry timeline)."""
    loc = Locale.parse(locale)
    return (
        loc,
        parse_pattern(get_date_format("medium", loc).pattern),
        parse_pattern(get_time_format("short", loc).pattern),
        str(get_datetime_format("short", loc)),
    )


def datetime(value: Any) -> str:
    """Date and time in the viewer's locale and time zone (select_timezone): 23 Nov 2026, 08:11.

    Every date and time a page shows goes through this filter, so a user in London and one in
    Prague each read the same moment on their own clock."""
    if not value:
        return ""
    loc, date_pattern, time_pattern, joiner = _datetime_format(str(get_locale()))
    local = value.astimezone(get_timezone())
    return joiner.replace("{1}", date_pattern.apply(local, loc)).replace(
        "{0}", time_pattern.apply(local, loc)
    )


def entry_label(entry: CodebookEntry | None) -> str:
    """A codebook entry as the viewer reads it: its label in the viewer's language."""
    return entry.label_in(select_language()) if entry is not None else ""


def today() -> dt.date:
    """The viewer's today (their time zone): what is due, overdue, this week."""
    return dt.datetime.now(get_timezone()).date()


def translate(value: Any) -> str:
    """gettext for values known only at run time (labels, enum values, error messages).

    Jinja's ``_()`` %-formats its result, which breaks on text such as a user's "50 %".
    Such strings are listed for extraction in web/vocabulary.py. A crm ``Text`` names values:
    its template is translated and the values filled in.
    """
    if isinstance(value, Text):
        return str(gettext(value.template, **value.params))
    return gettext(str(value)) if value not in (None, "") else ""


def number(value: Any) -> str:
    return format_decimal(value) if value is not None else ""


def init_app(app: Flask) -> None:
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(Path(__file__).parent / "translations")
    app.config["BABEL_DEFAULT_TIMEZONE"] = TIMEZONE
    Babel(app, locale_selector=select_locale, timezone_selector=select_timezone)
    app.jinja_env.filters.update(
        money=money, date=date, datetime=datetime, number=number, t=translate, label=entry_label
    )
    app.jinja_env.globals["LANGUAGES"] = LANGUAGES
    app.jinja_env.globals["locale"] = select_language
    app.jinja_env.globals["today"] = today
