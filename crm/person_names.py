"""A person's name in parts: academic titles before and after, first name, last name.

Czech and Slovak names carry degrees on either side ("doc. Ing. Jan Novák, CSc."). The parts
are stored apart so letters can address "Vážený pane inženýre" and lists can sort by last
name; ``display_name`` puts them back together the way Czech letters print them. ``split_name``
reads a name typed in one piece (old records, the API's ``name``, imports): titles recognised
at either end, the last word the last name, the rest the first name. A name it cannot split
stays whole in the last name, so nothing is lost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Degrees written before the name (Czech and Slovak; a few foreign ones people type).
TITLES_BEFORE = (
    "Bc.", "BcA.", "Ing.", "Ing. arch.", "Mgr.", "MgA.", "MUDr.", "MDDr.", "MVDr.", "JUDr.",
    "PhDr.", "RNDr.", "PharmDr.", "ThDr.", "ThLic.", "PaedDr.", "ICDr.", "RSDr.", "Dr.",
    "doc.", "prof.", "akad.", "arch.", "PhMr.", "MSDr.",
)  # fmt: skip
# Degrees written after the name, after a comma.
TITLES_AFTER = (
    "Ph.D.", "CSc.", "DrSc.", "DSc.", "Th.D.", "Art.D.", "MBA", "MPA", "LL.M.", "MSc.",
    "M.Sc.", "M.A.", "DiS.", "BBA", "DBA", "dr. h. c.", "dr.h.c.",
)  # fmt: skip

_BEFORE = {t.casefold() for t in TITLES_BEFORE}
_AFTER = {t.casefold().replace(" ", "") for t in TITLES_AFTER}
_LETTER_WORD = re.compile(r"^[^\W\d_][^\W\d_'’.-]*(?:[-'’][^\W\d_]+)*$")


@dataclass(frozen=True)
class NameParts:
    title_before: str = ""
    first_name: str = ""
    last_name: str = ""
    title_after: str = ""


def display_name(parts: NameParts) -> str:
    """The name "doc. Ing. Jan Novák, CSc.": as shown in lists, on pages and in mail."""
    core = " ".join(p for p in (parts.title_before, parts.first_name, parts.last_name) if p)
    return f"{core}, {parts.title_after}" if parts.title_after and core else core


def split_name(name: str) -> NameParts:
    """Parts of a name typed in one piece; see the module docstring for the rule."""
    text = " ".join(name.split())
    tokens = [t for t in re.split(r"[\s,]+", text) if t]
    before: list[str] = []
    after: list[str] = []
    while tokens and tokens[0].casefold() in _BEFORE:
        before.append(tokens.pop(0))
    while tokens and tokens[-1].casefold().replace(" ", "") in _AFTER:
        after.insert(0, tokens.pop())
    if not tokens or not all(_LETTER_WORD.match(t) for t in tokens):
        return NameParts(last_name=text)
    if "," in text and not after:
        # "Novák, Jan" (or something odd): a comma that no degree explains is kept whole.
        return NameParts(last_name=text)
    return NameParts(
        title_before=" ".join(before),
        first_name=" ".join(tokens[:-1]),
        last_name=tokens[-1],
        title_after=" ".join(after),
    )
