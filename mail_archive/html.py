"""HTML mail made safe to show, and made into plain text for search.

``sanitize_html`` (nh3) keeps what mail layout needs (tables, fonts, colours, inline styles limited
to harmless properties) and removes everything active: scripts, event handlers, forms, frames,
plugins, ``<style>``/``<base>``/``<meta>``/``<link>``, ``javascript:`` and other non-web links,
CSS ``expression()``/``url()``/``behavior``. Remote images are removed and counted (they are
trackers as often as not); ``cid:`` images become the URLs the caller gives. Show the result in a
sandboxed frame with a strict Content-Security-Policy all the same: two walls, not one.

``html_to_text`` is the plain text of an HTML body (standard library only): for the search index
and as the text fallback. It never raises.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from html import unescape
from urllib.parse import unquote

import nh3

__all__ = ["SanitizedHtml", "html_to_text", "sanitize_html"]

TAGS = frozenset(
    {
        *("p", "div", "span", "br", "hr", "b", "i", "u", "strong", "em", "small", "big", "font"),
        *("center", "blockquote", "pre", "code", "ul", "ol", "li", "dl", "dt", "dd"),
        *("h1", "h2", "h3", "h4", "h5", "h6"),
        *("table", "thead", "tbody", "tfoot", "tr", "td", "th", "caption", "colgroup", "col"),
        *("img", "a", "sub", "sup", "s", "strike"),
    }
)
# Removed together with everything inside them (the rest of unknown tags is unwrapped: the tag
# goes, its text stays). Must not overlap TAGS.
CLEAN_CONTENT_TAGS = frozenset(
    {
        *("script", "style", "head", "title", "template", "noscript", "xml"),
        *("iframe", "frame", "frameset", "noframes", "object", "applet", "embed", "noembed"),
        *("svg", "math", "textarea", "select"),
    }
)
_PRESENTATION = frozenset(
    {
        *("align", "valign", "width", "height", "bgcolor", "color", "border"),
        *("cellpadding", "cellspacing", "colspan", "rowspan", "dir", "lang", "title", "alt"),
        *("face", "size", "style"),
    }
)
# On allowed tags nh3 shows attribute_filter only allowed attributes: "background" is let in so
# that the filter sees (counts and drops) remote table backgrounds.
ATTRIBUTES: dict[str, set[str]] = {
    "*": set(_PRESENTATION),
    "a": {"href"},
    "img": {"src"},
    **{tag: {"background"} for tag in ("table", "thead", "tbody", "tfoot", "tr", "td", "th")},
}

_SIDES = ("", "-top", "-right", "-bottom", "-left")
STYLE_PROPERTIES = frozenset(
    {
        *("color", "background-color", "font", "font-family", "font-size", "font-weight"),
        *("font-style", "text-align", "text-decoration", "line-height", "width", "height"),
        *("vertical-align", "white-space", "list-style-type", "display"),
        *(f"margin{side}" for side in _SIDES),
        *(f"padding{side}" for side in _SIDES),
        *(f"border{side}" for side in _SIDES),
        *(f"border{side}-{part}" for side in _SIDES for part in ("color", "style", "width")),
        *("border-collapse", "border-spacing", "border-radius"),
    }
)
LINK_SCHEMES = frozenset({"http", "https", "mailto"})
# Attributes that load something, counted in blocked_remote when remote (and never kept).
_RESOURCE_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "link": ("href",),
    "object": ("data", "codebase"),
    "applet": ("code", "codebase"),
    "video": ("src", "poster"),
}

_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*):", re.I)
_URL_NOISE = re.compile(r"[\x00-\x20\x7f]+")  # what browsers ignore inside and around a scheme
_DATA_IMAGE = re.compile(r"data:image/(?:png|gif|jpeg|webp)(?:;base64)?,[A-Za-z0-9+/=%\s]*", re.I)
_CSS_FUNCTION = re.compile(r"([a-z-]*)\s*\(", re.I)
_CSS_SAFE_FUNCTIONS = frozenset({"rgb", "rgba", "hsl", "hsla"})
_CSS_UNSAFE = re.compile(r"[\\<>{}@]|/\*|expression|javascript|vbscript|behavior|binding", re.I)
_CSS_REMOTE = re.compile(r"url\s*\(\s*['\"]?\s*(?:https?:)?//", re.I)


@dataclass(frozen=True)
class SanitizedHtml:
    html: str
    blocked_remote: int = 0  # remote images and other remote resources removed


def _scheme(url: str) -> str | None:
    match = _SCHEME.match(_URL_NOISE.sub("", url))
    return match.group(1).lower() if match else None


def _is_remote(url: str) -> bool:
    return _scheme(url) in ("http", "https") or _URL_NOISE.sub("", url).startswith("//")


def _clean_style(style: str) -> tuple[str, bool]:
    """Declarations of allowed properties without anything that loads or runs something; and
    whether a remote url() was dropped. nh3 then filters and normalises the result again."""
    kept: list[str] = []
    remote = bool(_CSS_REMOTE.search(style))
    for declaration in style.split(";"):
        name, colon, value = declaration.partition(":")
        name = name.strip().lower()
        if not colon or name not in STYLE_PROPERTIES or _CSS_UNSAFE.search(value):
            continue
        functions = {f.lower() for f in _CSS_FUNCTION.findall(value)}
        if functions - _CSS_SAFE_FUNCTIONS:
            continue
        kept.append(f"{name}:{value.strip()}")
    return ";".join(kept), remote


def sanitize_html(html: str, cid_url: Callable[[str], str | None] | None = None) -> SanitizedHtml:
    """Safe HTML of a mail body. ``cid_url(content_id)`` gives the URL for an inline ``cid:``
    image (``None`` removes the image); without it, ``cid:`` images are removed."""
    blocked = 0

    def attribute_filter(tag: str, attribute: str, value: str) -> str | None:
        # nh3 calls this with the decoded value for the allowed attributes of allowed elements
        # and for all attributes of removed ones, and uses what it returns as is (no second
        # scheme check).
        nonlocal blocked
        if attribute == "style":
            style, remote = _clean_style(value)
            blocked += remote
            return style or None
        if tag == "img" and attribute == "src":
            return _image_src(value)
        if attribute in _RESOURCE_ATTRIBUTES.get(tag, ("src", "background")):
            blocked += _is_remote(value)  # <iframe src>, <td background>, <link href>, ...
            return None
        if attribute == "href":
            return value if _scheme(value) in LINK_SCHEMES else None
        return value

    def _image_src(src: str) -> str | None:
        nonlocal blocked
        scheme = _scheme(src)
        if scheme == "cid":
            content_id = unquote(_URL_NOISE.sub("", src)[4:]).strip("<>")
            url = _cid_url(content_id) if content_id else None
            if url is None or _scheme(url) not in (None, "http", "https"):
                return None
            return url
        if scheme == "data":
            return src if _DATA_IMAGE.fullmatch(src.strip()) else None
        blocked += _is_remote(src)
        return None

    def _cid_url(content_id: str) -> str | None:
        if cid_url is None:
            return None
        try:
            return cid_url(content_id)
        except Exception:  # nh3 would only report it through sys.unraisablehook: drop the image
            return None

    if not html or html.isspace():
        return SanitizedHtml("")
    cleaned = nh3.clean(
        bounded_nesting(html),
        tags=set(TAGS),
        clean_content_tags=set(CLEAN_CONTENT_TAGS),
        attributes=ATTRIBUTES,
        attribute_filter=attribute_filter,
        strip_comments=True,
        link_rel="noopener noreferrer",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        url_schemes={"http", "https", "mailto", "cid", "data"},
        url_relative="pass_through",  # relative URLs reach attribute_filter, which drops them
        filter_style_properties=set(STYLE_PROPERTIES),
    )
    return SanitizedHtml(cleaned, blocked)


# The tree builder inside nh3 (html5ever) looks through the stack of open elements for each
# tag, so its time grows with the square of the nesting depth: 100,000 nested <div>s took a
# minute. Browsers stop nesting at 512 levels (Blink's HTML parser); opening tags deeper than
# that, and their closing tags, are dropped before sanitizing, their text kept. Void elements and
# those whose end tag may be left out (<p>, <li>, <td>, ...) close themselves and do not count.
MAX_NESTING = 512
_NESTING_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9:-]*)[^>]*(?:>|\Z)")
_NOT_NESTING = frozenset(
    {
        *("area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param"),
        *("source", "track", "wbr", "keygen", "frame", "basefont", "bgsound"),
        *("p", "li", "dt", "dd", "tr", "td", "th", "thead", "tbody", "tfoot", "option"),
        *("optgroup", "colgroup", "caption", "rb", "rt", "rp", "rtc", "html", "head", "body"),
    }
)


def bounded_nesting(html: str) -> str:
    """``html`` with the tags nested deeper than MAX_NESTING levels removed (in one pass)."""
    if html.count("<") <= MAX_NESTING:
        return html
    kept: list[str] = []
    depth = pos = 0
    for match in _NESTING_TAG.finditer(html):
        closing, name = match.group(1, 2)
        if name.lower() in _NOT_NESTING or match.group(0).endswith("/>"):
            continue
        if closing:
            drop = depth > MAX_NESTING
            depth = max(0, depth - 1)
        else:
            depth += 1
            drop = depth > MAX_NESTING
        if drop:
            kept.append(html[pos : match.start()])
            pos = match.end()
    if not kept:
        return html
    kept.append(html[pos:])
    return "".join(kept)


# --- plain text -----------------------------------------------------------------------------
#
# Not html.parser: it costs 5-7 microseconds per tag even with no handlers (measured: 20-30 ms for
# 100 kB of dense mail markup), and this runs on every HTML mail during bulk ingest. A tokenizer
# of one regular expression, html.unescape and the same tolerance (anything unparsable is text,
# unclosed constructs run to the end) does the same job in a few milliseconds.

_PARAGRAPH = frozenset(
    {"p", "table", "blockquote", "pre", "ul", "ol", "dl", "h1", "h2", "h3", "h4", "h5", "h6"}
)
_LINE = frozenset(
    {
        *("div", "li", "tr", "dt", "dd", "hr", "caption", "center", "address", "body"),
        *("section", "article", "header", "footer", "nav", "aside", "main", "form", "fieldset"),
        *("figure", "figcaption", "details", "summary", "option", "br"),
    }
)
_CELL = frozenset({"td", "th"})
# Content never shown as text: raw text up to the closing tag; elements skipped as a whole.
_RAW_TEXT = frozenset({"script", "style", "title", "textarea", "xmp", "noembed", "noframes"})
_SKIP = frozenset({"template", "noscript", "xml", "svg", "math", "object", "select", "frameset"})
_STRUCTURE = _PARAGRAPH | _LINE | _CELL | _RAW_TEXT | _SKIP | {"head"}
# Markers in the raw output, resolved after whitespace is collapsed: "at least a line break",
# "a blank line", a hard line break (<br>, or a newline in <pre>), a space and a tab that stay.
_SOFT_LINE, _SOFT_PARAGRAPH, _NEWLINE, _SPACE, _TAB = "\x00", "\x01", "\x02", "\x03", "\x04"
_MARKER_CHARS = re.compile("[\x00-\x04]")

_TOKEN = re.compile(
    r"""<!--.*?(?:-->|\Z)"""  # comment
    r"""|<(/?)([a-zA-Z][^\s/>]*)(?:[^>"']|"[^"]*"|'[^']*')*(?:>|\Z)"""  # tag
    r"""|<[!?][^>]*(?:>|\Z)""",  # doctype, <![if ...]>, <![CDATA[, <?xml ?>
    re.S,
)
_HEAD_END = re.compile(r"</head\b[^>]*>|(?=<body\b)", re.I)
_WHITESPACE = re.compile(r"[ \t\n\r\f\v]+")
# A run of white space and markers; one with a soft marker in it becomes line breaks (matched as
# whole runs: a pattern that must find a soft marker inside a run of <br>s is quadratic).
_BREAKS = re.compile("[ \t\x00-\x02]+")
_SPACES = re.compile(r"[ \u00a0\u2007\u202f]+")
_AROUND_TAB = re.compile(r" *\t[ \t]*")
_BLANK_LINES = re.compile(r"\n{3,}")
_END_TAGS: dict[str, re.Pattern[str]] = {
    name: re.compile(rf"</{name}\b[^>]*>", re.I) for name in (*_RAW_TEXT, "head")
}


def _pre_text(text: str) -> str:
    return text.replace("\r", "").replace("\n", _NEWLINE).replace(" ", _SPACE).replace("\t", _TAB)


def _breaks(match: re.Match[str]) -> str:
    run = match.group(0)
    if _SOFT_LINE not in run and _SOFT_PARAGRAPH not in run:
        return run
    return "\n" * min(2, max(2 if _SOFT_PARAGRAPH in run else 1, run.count(_NEWLINE)))


def html_to_text(html: str) -> str:
    """Plain text of an HTML body: a line per block, a blank line around paragraphs, table cells
    tab-separated, entities decoded, link text without URLs, no script/style/head content, at
    most one blank line in a row. Never raises, whatever the input."""
    html = _MARKER_CHARS.sub("", html)
    out: list[str] = []
    append = out.append
    skip: str | None = None  # inside this element: nothing is text
    depth = pre = pos = 0
    search = _TOKEN.search
    while (match := search(html, pos)) is not None:
        start = match.start()
        if start > pos and skip is None:
            append(_pre_text(html[pos:start]) if pre else html[pos:start])
        pos = match.end()
        closing, name = match.group(1, 2)
        if name is None:  # comment, declaration, processing instruction
            continue
        name = name.lower()
        if skip is not None:
            if name == skip:
                depth += -1 if closing else 1
                if not depth:
                    skip = None
        elif name not in _STRUCTURE:
            continue
        elif closing:
            if name in _PARAGRAPH:
                append(_SOFT_PARAGRAPH)
                if name == "pre" and pre:
                    pre -= 1
            elif name in _LINE and name != "br":
                append(_SOFT_LINE)
        elif name in _RAW_TEXT or name == "head":
            end = (_HEAD_END if name == "head" else _END_TAGS[name]).search(html, pos)
            pos = end.end() if end is not None else len(html)
        elif name in _SKIP:
            if not match.group(0).endswith("/>"):
                skip, depth = name, 1
        elif name == "br":
            append(_NEWLINE)
        elif name in _PARAGRAPH:
            append(_SOFT_PARAGRAPH)
            pre += name == "pre"
        elif name in _LINE:
            append(_SOFT_LINE)
        else:  # td, th
            append(_TAB)
    if skip is None and pos < len(html):
        append(_pre_text(html[pos:]) if pre else html[pos:])
    text = unescape(_WHITESPACE.sub(" ", "".join(out)))
    text = _BREAKS.sub(_breaks, text)
    text = text.replace(_SPACE, " ").replace(_TAB, "\t").replace(_NEWLINE, "\n")
    lines = (_AROUND_TAB.sub("\t", _SPACES.sub(" ", line)).strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
