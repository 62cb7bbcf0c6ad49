"""Address headers (From, To, Cc, Reply-To) read from their raw text in one linear pass.

Why not the standard library's header classes: their parser consumes a value by slicing off
each token it reads, which copies the rest of the header every time, so a To of 100,000
recipients takes minutes and a gigabyte; and they decode RFC 2047 encoded words before they look
for the address, so an encoded display name such as ``=?utf-8?q?x=40y.z?=`` turns into the
address x@y.z, and an encoded CR LF in a name ("Evil\\r\\nBcc: x@y.z") makes them raise, after
which any fallback that decodes first is fooled the same way.

Here the raw (unfolded, undecoded) value is cut at the commas outside quotes, comments and angle
brackets (RFC 5322 §3.4), the address is taken literally from each piece and never decoded, and
only the display name is decoded (by the caller) and then cleaned of control and bidi
characters, so it can neither become an address nor a header line. Pure functions: no
email.message objects, nothing of the database.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

# What can change the meaning of a header or the way a name reads: C0 and C1 controls, line and
# paragraph separators, zero-width spaces, bidi marks, embeddings, overrides and isolates.
_INVISIBLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)
_SPECIALS = re.compile(r'[\\"(),:;<>]')
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"?', re.S)
_QUOTED_PAIR = re.compile(r"\\(.)", re.S)
_FOLD = re.compile(r"\r\n|\r|\n")
_ATOM_CHAR = r'[^\s"@<>()\[\],;:\\\x00-\x1f\x7f-\x9f]'
_QUOTED_LOCAL = r'"(?:[^"\\\x00-\x1f\x7f]|\\[^\x00-\x1f\x7f])*"'
_BARE_LOCAL = re.compile(rf"{_ATOM_CHAR}+")
# RFC 5322 §3.4.1, with the obsolete local part of words and quoted strings (§4.4)
_ADDR_SPEC = re.compile(
    rf"(?:{_ATOM_CHAR}|{_QUOTED_LOCAL})+@(?:{_ATOM_CHAR}+|\[[^\[\]\\\s\x00-\x1f\x7f]*\])"
)
MAX_ADDRESS = 320  # RFC 5321 §4.5.3.1: 64 + "@" + 255


@dataclass
class RawMailbox:
    """One piece of an address list as written: text outside comments and angle brackets,
    the comments, and the content of the angle brackets if there were any."""

    outside: str = ""
    comments: list[str] = field(default_factory=list)
    angle: str | None = None

    @property
    def blank(self) -> bool:
        return self.angle is None and not self.outside.strip()

    @property
    def raw_name(self) -> str:
        """The display name, undecoded: the phrase before ``<...>``, or the comment after a
        bare address (``jan@firma.cz (Jan Novák)``). Quotes removed, quoted pairs resolved."""
        if self.angle is not None and self.outside.strip():
            return unquote(self.outside.strip())
        return " ".join(_QUOTED_PAIR.sub(r"\1", c) for c in self.comments)

    @property
    def raw_address(self) -> str:
        return self.angle if self.angle is not None else self.outside


def unfold(value: str) -> str:
    """RFC 5322 §2.2.3: a folded header value is unfolded by removing its line breaks."""
    return _FOLD.sub("", value)


def unquote(text: str) -> str:
    return _QUOTED.sub(lambda m: _QUOTED_PAIR.sub(r"\1", m.group(1)), text)


def address_list(value: str) -> Iterator[RawMailbox]:
    """Every piece of an address-list header value (unfolded, undecoded), blank ones included,
    in one pass over the value's special characters. A group's name (``Team: a, b;``) is
    dropped and its members kept; what is left unterminated at the end still counts."""
    box = RawMailbox()
    outside: list[str] = []
    angle: list[str] = []
    mark = 0  # start of the text not yet given to a part
    quoted = in_angle = False
    depth = 0  # of nested comments
    skip = -1  # a character escaped by a backslash

    def text(upto: int) -> None:
        (angle if in_angle else outside).append(value[mark:upto])

    for match in _SPECIALS.finditer(value):
        i = match.start()
        if i < skip:
            continue
        c = value[i]
        if c == "\\":
            if quoted or depth:
                skip = i + 2
            continue
        if quoted:
            quoted = c != '"'
            continue
        if depth:
            if c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
                if not depth:
                    box.comments.append(value[mark:i])
                    mark = i + 1
            continue
        if c == '"':
            quoted = True
        elif c == "(":
            text(i)
            depth, mark = 1, i + 1
        elif in_angle:
            if c == ">":
                text(i)
                box.angle, in_angle, mark = "".join(angle), False, i + 1
        elif c == "<":
            text(i)
            angle, in_angle, mark = [], True, i + 1
        elif c in ",;":
            text(i)
            box.outside = "".join(outside)
            yield box
            box, outside, mark = RawMailbox(), [], i + 1
        elif c == ":":  # the end of a group's name
            outside, box.comments, mark = [], [], i + 1
    if depth:
        box.comments.append(value[mark:])
    else:
        text(len(value))
        if in_angle:
            box.angle = "".join(angle)
    box.outside = "".join(outside)
    yield box


def addr_spec(raw: str) -> str:
    """The address as written (lower case), or "" when it is not one: a route or ``mailto:``
    before it is dropped, spaces around it and inside an unquoted one are removed."""
    raw = raw.strip()
    if ":" in raw and not raw.startswith('"'):
        raw = raw.rpartition(":")[2]  # <@relay.example:jan@firma.cz>, <mailto:jan@firma.cz>
    if '"' not in raw:
        # "jan @ firma . cz": the words joined; "Jan Novák jan@firma.cz" without brackets: the
        # (first) word that is an address
        words = _joined_at_dots(raw.split())
        found = [w for w in words if _ADDR_SPEC.fullmatch(w)]
        raw = found[0] if found else "".join(words)
    if len(raw) > MAX_ADDRESS or not _ADDR_SPEC.fullmatch(raw):
        return ""
    local, _, domain = raw.rpartition("@")
    if '"' in local and _BARE_LOCAL.fullmatch(unquote(local)):
        raw = f"{unquote(local)}@{domain}"  # <""almeida@enron.com>: quotes that quote nothing
    return raw.lower()


def _joined_at_dots(words: list[str]) -> list[str]:
    """Words separated only by spaces around a dot or an @ made one (in one pass: a regular
    expression for it is quadratic on a long run of spaces)."""
    groups: list[list[str]] = []
    for word in words:
        if groups and (groups[-1][-1][-1] in ".@" or word[0] in ".@"):
            groups[-1].append(word)
        else:
            groups.append([word])
    return ["".join(group) for group in groups]


def display_name(text: str) -> str:
    """A decoded display name made fit to show on one line: control, line-separator and bidi
    characters become spaces, runs of white space one space."""
    return " ".join(_INVISIBLE.sub(" ", text).split())
