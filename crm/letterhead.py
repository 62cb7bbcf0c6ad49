"""The checks of the facts a letterhead prints: company ID, VAT ID, bank account, IBAN, logo.

Pure functions: each returns the value in its usual written form or raises ValueError saying
what is wrong, so a typo is caught when the owner company is edited, not when a customer
reads it on a contract. The rules: Czech and Slovak IČO (8 digits, the last a mod-11 check
digit), DIČ in its CZ/SK/PL forms, a Czech bank account ``prefix-number/bank code`` (prefix
and number each pass the Czech National Bank's mod-11 test), IBAN (ISO 13616, mod 97 = 1).
A logo is PNG or JPEG, recognised by its first bytes, not by its name.
"""

from __future__ import annotations

import re

from crm.text import N_

MAX_LOGO_BYTES = 512 * 1024
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"
_BANK_ACCOUNT_RE = re.compile(r"^(?:([0-9]{1,6})-)?([0-9]{2,10})/([0-9]{4})$")
_VAT_RE = re.compile(r"^(CZ[0-9]{8,10}|SK[0-9]{10}|PL[0-9]{10})$")
_IBAN_RE = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$")


def check_company_id(value: str) -> str:
    """IČO: 8 digits whose last is (11 - Σ digit·weight mod 11) mod 10, weights 8..2."""
    digits = re.sub(r"\s", "", value)
    if not digits:
        return ""
    if not (digits.isascii() and digits.isdigit() and len(digits) <= 8):
        raise ValueError(N_("a company ID (IČO) is 8 digits"))
    digits = digits.zfill(8)
    total = sum(int(d) * w for d, w in zip(digits[:7], range(8, 1, -1), strict=True))
    if (11 - total % 11) % 10 != int(digits[7]):
        raise ValueError(N_("is not a valid company ID (IČO): the check digit does not match"))
    return digits


def check_vat_id(value: str) -> str:
    """DIČ: CZ + 8 to 10 digits, SK + 10 digits, PL + 10 digits (spaces and dashes dropped)."""
    text = re.sub(r"[\s-]", "", value).upper()
    if not text:
        return ""
    if not _VAT_RE.match(text):
        raise ValueError(N_("a VAT ID (DIČ) is CZ, SK or PL followed by its digits"))
    return text


def _mod11(digits: str, weights: tuple[int, ...]) -> bool:
    padded = digits.zfill(len(weights))
    return sum(int(d) * w for d, w in zip(padded, weights, strict=True)) % 11 == 0


def check_bank_account(value: str) -> str:
    """A Czech account ``19-2000145399/0800``: prefix and number pass the mod-11 test."""
    text = re.sub(r"\s", "", value)
    if not text:
        return ""
    match = _BANK_ACCOUNT_RE.match(text)
    if not match:
        raise ValueError(
            N_("write the account as prefix-number/bank code, e.g. 19-2000145399/0800")
        )
    prefix, number, _bank = match.groups()
    if prefix and not _mod11(prefix, (10, 5, 8, 4, 2, 1)):
        raise ValueError(N_("is not a valid account number: the prefix fails its check"))
    if not _mod11(number, (6, 3, 7, 9, 10, 5, 8, 4, 2, 1)):
        raise ValueError(N_("is not a valid account number: the number fails its check"))
    return text


def check_iban(value: str) -> str:
    """ISO 13616: the country and check digits moved to the end, letters as 10..35, mod 97 = 1.
    Returned in groups of four, as printed."""
    text = re.sub(r"\s", "", value).upper()
    if not text:
        return ""
    if not _IBAN_RE.match(text):
        raise ValueError(N_("an IBAN is a country code, two check digits and the account"))
    rearranged = text[4:] + text[:4]
    if int("".join(str(int(c, 36)) for c in rearranged)) % 97 != 1:
        raise ValueError(N_("is not a valid IBAN: the check digits do not match"))
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def logo_type(data: bytes) -> str:
    """image/png or image/jpeg by the file's own first bytes; ValueError for anything else."""
    if len(data) > MAX_LOGO_BYTES:
        raise ValueError(N_("the logo is larger than 512 kB"))
    if data.startswith(PNG_MAGIC):
        return "image/png"
    if data.startswith(JPEG_MAGIC):
        return "image/jpeg"
    raise ValueError(N_("the logo must be a PNG or JPEG image"))
