"""What every API view shares: the prefix, reading a JSON body, refusing unknown fields."""

from __future__ import annotations

import difflib
import json
from collections.abc import Collection, Mapping
from typing import Any

from flask import request

from crm.errors import DossierError, ValidationError

PREFIX = "/api/v1"
# Record ids are 32-bit on every backend; a larger id in a path is simply not found.
MAX_ID = 2**31 - 1
ID = f"int(max={MAX_ID})"


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
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadRequest(f"the request body is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise BadRequest("the request body is nested too deeply") from exc
    if not isinstance(data, dict):
        raise BadRequest(f"the request body must be a JSON object, not {json_type(data)}")
    return data


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
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9) or not (
        lowest <= int(raw) <= highest
    ):
        raise ValidationError({name: f"must be a whole number from {lowest} to {highest}"})
    return int(raw)
