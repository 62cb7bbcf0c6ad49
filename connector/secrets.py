"""Mail account passwords at rest: encrypted with Fernet (AES-128-CBC + HMAC-SHA256), the key in
``<data dir>/mail.key`` (created once, mode 0600). The database alone never reveals a password."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from crm.errors import DossierError
from crm.settings import Settings


class SecretError(DossierError):
    code = "secret"
    status = 500


def key_file(settings: Settings) -> Path:
    return settings.mail_key_file


def _fernet(settings: Settings) -> Fernet:
    path = key_file(settings)
    if not path.exists():
        settings.ensure_dirs()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it a moment ago
        else:
            with os.fdopen(fd, "wb") as fh:
                os.fchmod(fh.fileno(), 0o600)  # whatever the umask
                fh.write(Fernet.generate_key())
    return Fernet(path.read_bytes().strip())


def encrypt(settings: Settings, secret: str) -> str:
    return _fernet(settings).encrypt(secret.encode()).decode()


def decrypt(settings: Settings, token: str) -> str:
    try:
        return _fernet(settings).decrypt(token.encode()).decode()
    except (InvalidToken, ValueError) as exc:
        raise SecretError(
            f"the stored password cannot be decrypted with {key_file(settings)}; "
            "enter the password again"
        ) from exc
