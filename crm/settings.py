"""One settings object that knows every path and option.

Every option has a default, a type and help text (OPTIONS). Settings are read once, by
``Settings.from_env``, at the start of a command or in the app factory, never at import time.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Option:
    env: str
    default: str
    help: str


OPTIONS: dict[str, Option] = {
    "home": Option(
        "DOSSIER_HOME", "./data", "Data directory: database, blobs, search index, keys."
    ),
    "database_url": Option(
        "DATABASE_URL",
        "",
        "SQLAlchemy URL of the database; empty means SQLite file dossier.db in the data directory.",
    ),
    "secret_key": Option(
        "DOSSIER_SECRET_KEY",
        "",
        "Key that signs web sessions; empty means a random key kept in <home>/secret_key.",
    ),
    "page_size": Option("DOSSIER_PAGE_SIZE", "50", "Rows per page in web lists."),
    "https": Option(
        "DOSSIER_HTTPS",
        "auto",
        "Whether the web UI is served over HTTPS: on (session cookie Secure, HSTS), off, or auto "
        "(both when the request came over HTTPS).",
    ),
    "trusted_proxies": Option(
        "DOSSIER_TRUSTED_PROXIES",
        "0",
        "How many reverse proxies stand in front of `dossier serve`; their X-Forwarded-For and "
        "X-Forwarded-Proto are believed (client address, HTTPS). 0 believes none.",
    ),
    "mail_hosts": Option(
        "DOSSIER_MAIL_HOSTS",
        "",
        "Mail servers (IMAP and SMTP) that accounts may use, comma-separated: host names "
        "(imap.gmail.com), sub-domains (*.seznam.cz), addresses or networks (10.0.0.0/8), each "
        "optionally with :port (outlook.office365.com:993). Empty allows any server. Link-local "
        "and cloud metadata addresses are refused unless listed (connector.network).",
    ),
    "mail_timeout": Option(
        "DOSSIER_MAIL_TIMEOUT",
        "10",
        "Seconds a connection to a mail server may take to connect and log in.",
    ),
}


HTTPS_MODES = ("auto", "on", "off")


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    value = value.strip().lower()
    if value not in allowed:
        raise ValueError(f"{OPTIONS[name].env} must be one of {', '.join(allowed)}, not {value!r}")
    return value


def _count(name: str, value: str) -> int:
    if not value.strip().isdigit():
        raise ValueError(f"{OPTIONS[name].env} must be a whole number, not {value!r}")
    return int(value)


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str = ""
    secret_key: str = ""
    page_size: int = 50
    https: str = "auto"
    trusted_proxies: int = 0
    mail_hosts: str = ""
    mail_timeout: int = 10
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        env = os.environ if env is None else env
        values = {name: env.get(opt.env, opt.default) for name, opt in OPTIONS.items()}
        values.update({k: v for k, v in overrides.items() if v is not None})  # type: ignore[misc]
        return cls(
            home=Path(str(values["home"])).expanduser().resolve(),
            database_url=str(values["database_url"]),
            secret_key=str(values["secret_key"]),
            page_size=int(str(values["page_size"])),
            https=_choice("https", str(values["https"]), HTTPS_MODES),
            trusted_proxies=_count("trusted_proxies", str(values["trusted_proxies"])),
            mail_hosts=str(values["mail_hosts"]),
            mail_timeout=max(1, _count("mail_timeout", str(values["mail_timeout"]))),
        )

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'dossier.db'}"

    @property
    def is_sqlite(self) -> bool:
        return self.db_url.startswith("sqlite")

    @property
    def sqlite_path(self) -> Path:
        return self.home / "dossier.db"

    @property
    def blob_dir(self) -> Path:
        return self.home / "blobs"

    @property
    def index_dir(self) -> Path:
        return self.home / "index"

    @property
    def secret_key_file(self) -> Path:
        return self.home / "secret_key"

    @property
    def mail_key_file(self) -> Path:
        """The key that encrypts stored mail account passwords (connector.secrets)."""
        return self.home / "mail.key"

    def ensure_dirs(self) -> None:
        """The data directory and its trees, made 0700 (only Dossier's account reads them)."""
        from crm.blobs import make_private_dir

        for path in (self.home, self.blob_dir, self.index_dir):
            make_private_dir(path)

    def session_secret(self) -> str:
        """The explicit secret, else the one kept in the data directory (created once, 0600)."""
        if self.secret_key:
            return self.secret_key
        path = self.secret_key_file
        if not path.exists():
            self.ensure_dirs()
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                os.fchmod(fh.fileno(), 0o600)  # whatever the umask
                fh.write(secrets.token_hex(32))
        return path.read_text().strip()
