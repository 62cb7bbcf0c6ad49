"""Text helpers for Czech, Slovak and Polish: accent folding for matching and sorting, and
messages that the UI translates (crm has no locale: it marks, web translates)."""

from __future__ import annotations

import unicodedata
from typing import Any

# Letters that NFKD does not decompose.
_EXTRA = str.maketrans({"ł": "l", "Ł": "l", "đ": "d", "Đ": "d", "ß": "ss", "ø": "o", "Ø": "o"})


def fold(text: str) -> str:
    """Lower-case, accent-free form: "Příbram" and "pribram" fold alike."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_EXTRA))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().strip()


def folded_key(text: str, length: int) -> str:
    """``fold(text)`` cut to a key column's ``length``: folding can lengthen a text (NFKD
    spells one ligature as several letters), and a sort or filter key needs no more."""
    return fold(text)[:length]


def N_(message: str) -> str:
    """Marks a string for translation without translating it (crm has no locale).

    The web layer passes such strings through gettext when it shows them.
    """
    return message


class Text(str):
    """A message that names values: "“%(value)s” is not a phone number" with value "12".

    It reads as the English text (logs, the API's JSON, tests) and keeps its template and
    values, so the UI translates the template and fills in the values (web.i18n.translate).
    ``pybabel extract`` finds the template through the keyword ``Text``."""

    template: str
    params: dict[str, Any]

    def __new__(cls, template: str, **params: Any) -> Text:
        self = super().__new__(cls, template % params if params else template)
        self.template = template
        self.params = params
        return self


def message(exc: BaseException) -> str:
    """What an exception says: the Text it was raised with (kept for translation), else its
    text."""
    first = exc.args[0] if len(exc.args) == 1 else None
    return first if isinstance(first, str) else str(exc)
