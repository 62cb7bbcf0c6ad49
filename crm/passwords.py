"""Password and token hashing. Passwords: scrypt (RFC 7914) with a per-password salt.
API tokens are random 256-bit values; only their SHA-256 is stored."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32
    )
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` matches ``stored``. It always costs one scrypt of today's strength,
    also when there is nothing to compare with (an unknown user, one without a password, a
    damaged hash): how long a login takes must not tell whether the account exists."""
    parsed = _parse(stored)
    if parsed is None:
        _dummy_check(password)
        return False
    n, r, p, salt, expected = parsed
    try:
        actual = hashlib.scrypt(
            password.encode(), salt=salt, n=n, r=r, p=p, dklen=len(expected), maxmem=MAX_MEM
        )
    except (ValueError, TypeError, MemoryError):
        _dummy_check(password)
        return False
    return hmac.compare_digest(actual, expected)


MAX_MEM = 64 * 1024 * 1024  # scrypt's memory is 128*n*r bytes; today's strength needs 16 MiB
DUMMY_SALT = bytes(16)


def _parse(stored: str | None) -> tuple[int, int, int, bytes, bytes] | None:
    if not stored or not stored.startswith("scrypt$"):
        return None
    try:
        _, n, r, p, salt, digest = stored.split("$")
        return int(n), int(r), int(p), base64.b64decode(salt), base64.b64decode(digest)
    except (ValueError, TypeError):
        return None


def _dummy_check(password: str) -> None:
    """The work of a real check, its result thrown away."""
    hashlib.scrypt(
        password.encode("utf-8", "surrogatepass"),
        salt=DUMMY_SALT,
        n=SCRYPT_N,
        r=SCRYPT_R,
        p=SCRYPT_P,
        dklen=32,
    )


def new_token() -> str:
    return "dos_" + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
