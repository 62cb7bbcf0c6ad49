"""Text helpers for Czech, Slovak and Polish: accent folding for matching and sorting."""

from __future__ import annotations

import unicodedata

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
