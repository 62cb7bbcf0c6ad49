"""What every API view shares: the prefix, reading a JSON body, refusing unknown fields."""

from __future__ import annotations

import difflib
import json
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from flask import request
from werkzeug.routing import BaseConverter, Map

from crm.errors import DossierError, ValidationError
from crm.fields import FieldSpec

PREFIX = "/api/v1"
# Record ids are 32-bit on every backend; a larger id in a path is simply not found.
MAX_ID = 2**31 - 1
ID = "id"  # the path converter for ids (IdConverter); id(max=N) for other bounded numbers


def digits_up_to(limit: int) -> str:
    """A regular expression for the whole numbers 0..limit in ASCII digits, without a sign or
    leading zeros: "2147483648" or "٣" (a Unicode digit) does not match at all."""
    text = str(limit)
    alternatives = ["0", *(f"[1-9][0-9]{{{n - 1}}}" for n in range(1, len(text)))]
    for i, digit in enumerate(text):
        lowest, highest = (1 if i == 0 else 0), int(digit) - 1
        if highest >= lowest:
            alternatives.append(f"{text[:i]}[{lowest}-{highest}][0-9]{{{len(text) - i - 1}}}")
    alternatives.append(text)
    return "(?:" + "|".join(alternatives) + ")"


class IdConverter(BaseConverter):
    """A record id (or another bounded number) in a path. The bound is in the pattern, so a path
    with a larger number matches no route: 404 on every method. werkzeug's int(max=...) checks
    the bound after matching, and answers 405 for a method that another route of the path has."""

    weight = 50

    def __init__(self, map: Map, max: int = MAX_ID) -> None:
        super().__init__(map)
        self.regex = digits_up_to(max)

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: object) -> str:
        return str(int(str(value)))


class BadRequest(DossierError):
    """The request cannot be read at all (no body, not JSON, not an object)."""

    code = "bad_request"
    status = 400


def json_object() -> dict[str, Any]:
    """The request body as a JSON object; BadRequest if it is missing or anything else."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise BadRequest("send a JSON object in the request body")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadRequest("the request body is not UTF-8 text") from exc
    try:
        data = json.loads(text, parse_float=json_number)
    except json.JSONDecodeError as exc:
        raise BadRequest(f"the request body is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise BadRequest("the request body is nested too deeply") from exc
    if not isinstance(data, dict):
        raise BadRequest(f"the request body must be a JSON object, not {json_type(data)}")
    try:
        bad = unstorable_texts(data)
    except RecursionError as exc:
        raise BadRequest("the request body is nested too deeply") from exc
    if bad:
        raise ValidationError(bad)
    return data


def json_number(text: str) -> int | float:
    """A JSON number with a fraction; one with none (5.0, 1e3) is the integer (JSON Schema
    counts it as one), so an id or a count may be sent either way."""
    value = float(text)
    return int(value) if value.is_integer() and abs(value) < 2**63 else value


# What a JSON value of each field kind must be (a form sends text for all; JSON is typed).
JSON_KINDS: dict[str, tuple[tuple[type, ...], str]] = {
    # a list may also come as one string of items separated by commas or lines, as a form
    # sends it (the API has always taken that)
    "list": ((list, str), "must be a list of strings"),
    "bool": ((bool,), "must be true or false"),
    "int": ((int,), "must be a whole number"),
    "ref": ((int,), "must be a record id (a whole number)"),
    "str": ((str,), "must be text"),
    "text": ((str,), "must be text"),
    "date": ((str,), "must be a date (YYYY-MM-DD)"),
    "choice": ((str,), "must be one of its values (text)"),
    "codebook": ((str, int), "must be a codebook entry's label or id"),
    "decimal": ((int, float, str), "must be a number"),
}


def json_kind_errors(specs: Iterable[FieldSpec], data: Mapping[str, Any]) -> dict[str, str]:
    """Fields of ``data`` whose JSON type does not fit their kind: "1" for a number, "yes" or 1
    for a boolean, "a, b" for a list (null is left to the field's own rule)."""
    errors: dict[str, str] = {}
    for spec in specs:
        value = data.get(spec.name)
        if value is None or spec.kind not in JSON_KINDS:
            continue
        wanted, error = JSON_KINDS[spec.kind]
        wrong = not isinstance(value, wanted) or (spec.kind != "bool" and isinstance(value, bool))
        if wrong or (isinstance(value, list) and not all(isinstance(i, str) for i in value)):
            errors[spec.name] = error
    custom = data.get("custom")
    if custom is not None and not isinstance(custom, dict):
        errors["custom"] = "must be an object of field values"
    return errors


def unstorable_texts(value: Any, path: str = "") -> dict[str, str]:
    """Where a JSON value holds text no database can store: a lone surrogate ("\\ud800" is valid
    JSON but no Unicode text; UTF-8 cannot encode it) or a NUL character (PostgreSQL's text
    refuses it). Keys are the field paths ("name", "custom.note", "emails.0")."""
    found: dict[str, str] = {}
    if isinstance(value, str):
        if "\x00" in value:
            found[path or "body"] = "contains a NUL character"
        elif not _is_unicode(value):
            found[path or "body"] = "contains a lone surrogate, which is not Unicode text"
    elif isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if not _is_unicode(key) or "\x00" in key:
                found[path or "body"] = "has a field name that is not Unicode text"
                continue
            found.update(unstorable_texts(item, where))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found.update(unstorable_texts(item, f"{path}.{i}" if path else str(i)))
    return found


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def json_type(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "null"


def reject_unknown(
    data: Mapping[str, Any],
    accepted: Collection[str],
    *,
    read_only: Collection[str] = (),
    fixed: Collection[str] = (),
) -> None:
    """ValidationError naming every key of ``data`` that is not an input field, so a typo is
    refused rather than silently dropped. ``read_only`` keys are output-only fields of the
    record; ``fixed`` ones are set by the endpoint itself."""
    errors: dict[str, str] = {}
    for key in data:
        if key in accepted:
            continue
        if key in read_only:
            errors[key] = "is read-only"
        elif key in fixed:
            errors[key] = "is set by this action and cannot be given"
        else:
            close = difflib.get_close_matches(key, sorted(accepted), n=1)
            hint = f"; did you mean “{close[0]}”?" if close else ""
            errors[key] = "is not a known field" + hint
    if errors:
        raise ValidationError(errors, "unknown fields: " + ", ".join(errors))


def int_arg(name: str, default: int, lowest: int, highest: int) -> int:
    """A whole-number query parameter within bounds; ValidationError naming it otherwise."""
    raw = request.args.get(name, "")
    if raw == "":
        return default
    if not (raw.isascii() and raw.isdigit() and len(raw) <= len(str(highest))) or not (
        lowest <= int(raw) <= highest
    ):
        raise ValidationError({name: f"must be a whole number from {lowest} to {highest}"})
    return int(raw)


# -- versions: ETag and If-Match (issue 9 §6, RFC 9110 §8.8.3, §13.1.1) ---------------------
def etag(version: int) -> str:
    """A record's version as a strong entity tag."""
    return f'"{version}"'


def if_match() -> int | None:
    """The version the client's If-Match names; None when absent or ``*`` (any version).

    Only one strong tag of our own shape is understood: anything else is refused (400) rather
    than taken as "no precondition", which would overwrite what the client meant to protect.
    """
    raw = request.headers.get("If-Match")
    if raw is None:
        return None
    text = raw.strip()
    if text == "*":
        return None
    digits = text[1:-1] if len(text) >= 3 and text[0] == text[-1] == '"' else ""
    if not (digits.isascii() and digits.isdigit() and len(digits) <= 9):
        raise BadRequest('If-Match must be "*" or one entity tag such as "3" (from the ETag)')
    return int(digits)


# What the field parser strips as blank is Python's white space (str.strip), which is not
# ECMAScript's \s of JSON Schema patterns (it adds U+001C-U+001F and U+0085, and lacks U+FEFF):
# both are spelled out so that the description and the parser agree on every character.
PY_SPACE = "\\t-\\r\\u001c- \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
NOT_BLANK = f"[^{PY_SPACE}]"  # a text with a character str.strip keeps
BLANK: dict[str, str] = {"type": "string", "pattern": f"^[{PY_SPACE}]*$"}
