"""One settings object that knows every path and option.

Every option has one declaration (``Option``): name, environment variable, type, default, help
text and whether it is secret. crm declares its own here (``CRM_OPTIONS``); other packages declare
theirs in a module listed under the ``dossier.settings`` entry point group (crm imports none of
them). Settings are read once, by ``Settings.from_env``, at the start of a command or in the app
factory, never at import time; a bad value is refused there, with the variable's name.

This is the only module that reads ``os.environ`` (tests/crm/test_settings_schema.py checks):
a variable a user names for a password goes through ``secret_from_env``.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

KINDS = ("str", "int", "float", "bool", "choice", "path", "url")
TRUE = ("1", "on", "yes", "true")
FALSE = ("0", "off", "no", "false")
MASK = "********"


@dataclass(frozen=True)
class Option:
    """One option: what a user sets (``env``), what it means (``help``) and how it is read."""

    name: str
    env: str
    kind: str
    default: str
    help: str
    secret: bool = False
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    # What README's table shows as the default when the raw default says little ("" ...).
    shown_default: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"option {self.name}: unknown type {self.kind!r}")

    def parse(self, raw: str) -> object:
        """The typed value of ``raw``; ValueError naming the variable when it is not one."""
        value = raw.strip()
        if self.kind in ("str", "url"):
            return raw if self.kind == "str" else value
        if self.kind == "path":
            return Path(value or ".").expanduser().resolve()
        if self.kind == "bool":
            if value.lower() in TRUE:
                return True
            if value.lower() in FALSE:
                return False
            raise ValueError(f"{self.env} must be on or off (1/0, yes/no), not {raw!r}")
        if self.kind == "choice":
            if value.lower() not in self.choices:
                allowed = ", ".join(self.choices)
                raise ValueError(f"{self.env} must be one of {allowed}, not {raw!r}")
            return value.lower()
        number: float
        if self.kind == "int":
            if not value.isdigit():
                raise ValueError(f"{self.env} must be a whole number, not {raw!r}")
            number = int(value)
        else:
            try:
                number = float(value)
            except ValueError:
                raise ValueError(f"{self.env} must be a number, not {raw!r}") from None
            if number != number or number < 0:  # NaN or negative
                raise ValueError(f"{self.env} must be a number, not {raw!r}")
        if self.minimum is not None and number < self.minimum:
            raise ValueError(f"{self.env} must be at least {self.minimum:g}, not {raw!r}")
        return number


HTTPS_MODES = ("auto", "on", "off")

CRM_OPTIONS = (
    Option(
        "home",
        "DOSSIER_HOME",
        "path",
        "./data",
        "Data directory: SQLite database, blobs, search index, keys; only Dossier's account may "
        "read it (0700/0600, fixed by `dossier init`).",
    ),
    Option(
        "database_url",
        "DATABASE_URL",
        "url",
        "",
        "SQLAlchemy URL of the database, e.g. `postgresql+psycopg://user@host/dossier`; its "
        "password is a secret.",
        shown_default="SQLite `dossier.db` in the data directory",
    ),
    Option(
        "secret_key",
        "DOSSIER_SECRET_KEY",
        "str",
        "",
        "Key that signs web sessions.",
        secret=True,
        shown_default="random, kept in `<home>/secret_key`",
    ),
)


@cache
def _declared() -> tuple[Option, ...]:
    """crm's options, then each package's (entry point group ``dossier.settings``)."""
    found = list(CRM_OPTIONS)
    for ep in sorted(entry_points(group="dossier.settings"), key=lambda ep: ep.name):
        found.extend(ep.load())
    return tuple(found)


def schema() -> dict[str, Option]:
    """Every declared option by name; a name or variable declared twice is a programming error."""
    options: dict[str, Option] = {}
    for option in _declared():
        if option.name in options or option.env in {o.env for o in options.values()}:
            raise RuntimeError(f"option {option.name} ({option.env}) is declared twice")
        options[option.name] = option
    return options


def secret_from_env(var: str) -> str | None:
    """The value of a variable a user named to hold a password (``--password-env VAR``)."""
    return os.environ.get(var) or None


def mask_url(url: str) -> str:
    """The URL with its password masked (DATABASE_URL as ``dossier config`` prints it)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username or ''}:{MASK}@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


@dataclass(frozen=True)
class Effective:
    """What ``dossier config`` prints for one option."""

    option: Option
    value: object
    source: str  # "default", "environment" or "command line"

    @property
    def shown(self) -> str:
        if self.option.secret:
            return MASK if self.value else ""
        if self.option.kind == "url":
            return mask_url(str(self.value))
        if self.option.kind == "bool":
            return "on" if self.value else "off"
        if isinstance(self.value, float) and self.value.is_integer():
            return str(int(self.value))
        return str(self.value)


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
    # Typed values of the options that have no attribute above, by name (Settings.option).
    extra: dict[str, object] = field(default_factory=dict)
    # Where each option's value came from, by name ("default" when missing).
    sources: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Every declared option read from ``env`` (default: the process environment).

        ``overrides`` (command-line options, tests) win over the environment; ``None`` means
        not given. A bad value raises ValueError naming the variable.
        """
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        sources: dict[str, str] = {}
        for name, option in schema().items():
            given = overrides.get(name)
            if given is not None:
                values[name] = option.parse(str(given))
                sources[name] = "command line"
            elif option.env in env:
                values[name] = option.parse(env[option.env])
                sources[name] = "environment"
            else:
                values[name] = option.parse(option.default)
                sources[name] = "default"
        fields = {f.name for f in dataclasses.fields(cls)} - {"extra", "sources"}
        known = {k: v for k, v in values.items() if k in fields}
        extra = {k: v for k, v in values.items() if k not in fields}
        return cls(**known, extra=extra, sources=sources)  # type: ignore[arg-type]

    def option(self, name: str) -> object:
        """The typed value of option ``name`` (KeyError for an undeclared one)."""
        if name in self.extra:
            return self.extra[name]
        option = schema()[name]
        if name in {f.name for f in dataclasses.fields(self)}:
            return getattr(self, name)
        return option.parse(option.default)  # a Settings(...) built by hand, without env

    def effective(self) -> list[Effective]:
        """Every option with its value and where that came from, in declaration order."""
        return [
            Effective(option, self.option(name), self.sources.get(name, "default"))
            for name, option in schema().items()
        ]

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


def markdown_table(options: Iterable[Option] | None = None) -> str:
    """README's settings table (``dossier config --markdown``), generated from the schema."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for option in schema().values() if options is None else options:
        default = option.shown_default or (f"`{option.default}`" if option.default else "empty")
        if option.kind == "bool" and not option.shown_default:
            default = "on" if option.parse(option.default) else "off"
        text = option.help.replace("|", "\\|").replace("\n", " ")
        rows.append(f"| `{option.env}` | {default} | {text} |")
    return "\n".join(rows) + "\n"
