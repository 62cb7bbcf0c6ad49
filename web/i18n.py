"""Languages (English, Czech) through Flask-Babel; dates and amounts in the user's locale."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from flask import Flask, request, session
from flask_babel import (
    Babel,
    format_currency,
    format_date,
    format_datetime,
    format_decimal,
    gettext,
)

from web.security import current_user

LANGUAGES = {"en": "English", "cs": "Čeština"}
# Formats per language: our English users are in Central Europe, so dates read 23 Nov 2026.
FORMAT_LOCALES = {"en": "en_GB", "cs": "cs_CZ"}
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


def money(value: Decimal | float | None, currency: str) -> str:
    if value is None:
        return ""
    return format_currency(value, currency)


def date(value: Any) -> str:
    return format_date(value, "medium") if value else ""


def datetime(value: Any) -> str:
    return format_datetime(value, "short") if value else ""


def translate(value: Any) -> str:
    """gettext for values known only at run time (labels, enum values, error messages).

    Jinja's ``_()`` %-formats its result, which breaks on text such as a user's "50 %".
    Such strings are listed for extraction in web/vocabulary.py.
    """
    return gettext(str(value)) if value not in (None, "") else ""


def number(value: Any) -> str:
    return format_decimal(value) if value is not None else ""


def init_app(app: Flask) -> None:
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(Path(__file__).parent / "translations")
    app.config["BABEL_DEFAULT_TIMEZONE"] = TIMEZONE
    Babel(app, locale_selector=select_locale)
    app.jinja_env.filters.update(
        money=money, date=date, datetime=datetime, number=number, t=translate
    )
    app.jinja_env.globals["LANGUAGES"] = LANGUAGES
    app.jinja_env.globals["locale"] = select_language
