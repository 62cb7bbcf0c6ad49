"""Mail accounts: adding, listing, the secret of each (environment, encrypted, OAuth2 command)."""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector import secrets
from connector.models import SECURITIES, MailAccount
from connector.presets import BY_KEY, IMAP_PORTS, SMTP_PORTS, preset_of_host
from crm.errors import Conflict, DossierError, NotFound, ValidationError
from crm.models import User
from crm.settings import Settings, secret_from_env
from crm.text import Text

DEFAULT_PORTS = IMAP_PORTS
# Ports whose security is fixed (RFC 8314 §3.3, RFC 6409): the other choice there never works.
TLS_ONLY = {993: "imap", 465: "smtp"}
PLAIN_FIRST = {143: "imap", 587: "smtp", 25: "smtp"}


class AccountError(DossierError):
    """The account cannot be used as configured (shown on its page, never stops the others).
    The message is for the account's user: what to act on, never a raw socket error
    (connector.network words connection failures)."""

    code = "account"
    status = 502


@dataclass
class AccountInput:
    name: str
    host: str
    username: str
    user_email: str
    port: int | None = None
    security: str = "tls"
    password_env: str = ""
    password: str = ""  # stored encrypted
    oauth_command: str = ""
    folders: list[str] | None = None
    filing_folder: str = "CRM"
    smtp_host: str = ""
    smtp_port: int | None = None
    smtp_security: str = "starttls"
    preset: str = ""  # connector.presets: fills the servers left empty


def apply_preset(data: AccountInput) -> dict[str, str]:
    """The preset's servers where the form left them empty (the form without JavaScript);
    the errors of an unknown preset or of a password for one that takes none."""
    if not data.preset:
        return {}
    preset = BY_KEY.get(data.preset)
    if preset is None:
        return {
            "preset": Text(
                "%(preset)s is not one of the providers offered: choose one from the list, or "
                "“Other provider” and enter the servers",
                preset=data.preset[:50],
            )
        }
    if not data.host.strip():
        data.host, data.port, data.security = (
            preset.imap_host,
            preset.imap_port,
            preset.imap_security,
        )
    if not data.smtp_host.strip():
        data.smtp_host, data.smtp_port, data.smtp_security = (
            preset.smtp_host,
            preset.smtp_port,
            preset.smtp_security,
        )
    return {}


def _port_errors(kind: str, security: str, port: int | None) -> str | None:
    """A port whose security is fixed, with the other choice: it could never connect."""
    if port is None or security not in SECURITIES:
        return None
    ports = IMAP_PORTS if kind == "imap" else SMTP_PORTS
    if security != "tls" and TLS_ONLY.get(port) == kind:
        return Text(
            "port %(port)s is for SSL/TLS: choose SSL/TLS, or port %(other)s for STARTTLS",
            port=port,
            other=ports["starttls"],
        )
    if security == "tls" and PLAIN_FIRST.get(port) == kind:
        return Text(
            "port %(port)s is for STARTTLS: choose STARTTLS, or port %(other)s for SSL/TLS",
            port=port,
            other=ports["tls"],
        )
    return None


def add_account(session: Session, settings: Settings, data: AccountInput) -> MailAccount:
    errors: dict[str, str] = apply_preset(data)
    name = data.name.strip()
    if not name or len(name) > 100:
        errors["name"] = "is required (at most 100 characters)"
    elif session.scalar(select(MailAccount.id).where(MailAccount.name == name)):
        raise Conflict(f"an account named {name} already exists")
    if not data.host.strip() or any(c.isspace() for c in data.host.strip()):
        errors["host"] = "is required: the IMAP server's name"
    if data.security not in SECURITIES:
        errors["security"] = Text(
            "unknown security %(value)s: choose SSL/TLS, STARTTLS or none", value=data.security[:20]
        )
    port = data.port or DEFAULT_PORTS.get(data.security, 993)
    if not 1 <= port <= 65535:
        errors["port"] = "must be between 1 and 65535"
    elif mismatch := _port_errors("imap", data.security, port):
        errors["port"] = mismatch
    if not data.username.strip():
        errors["username"] = "is required"
    ways = [bool(data.password_env), bool(data.password), bool(data.oauth_command)]
    if sum(ways) != 1:
        errors["password"] = (
            "give exactly one of: a password, an environment variable, an OAuth2 token command"
        )
    if data.password_env and not data.password_env.replace("_", "").isalnum():
        errors["password_env"] = "must be an environment variable's name"
    filing = data.filing_folder.strip() or "CRM"
    user = session.scalars(
        select(User).where(User.email == data.user_email.strip().lower())
    ).first()
    if user is None:
        errors["user"] = f"no user {data.user_email}"
    if data.smtp_security not in SECURITIES:
        errors["smtp_security"] = Text(
            "unknown security %(value)s: choose SSL/TLS, STARTTLS or none",
            value=data.smtp_security[:20],
        )
    if data.smtp_port is not None and not 1 <= data.smtp_port <= 65535:
        errors["smtp_port"] = "must be between 1 and 65535"
    elif data.smtp_host.strip() and (
        mismatch := _port_errors("smtp", data.smtp_security, data.smtp_port)
    ):
        errors["smtp_port"] = mismatch
    oauth_only = BY_KEY.get(data.preset) or preset_of_host(data.host)
    if oauth_only is not None and oauth_only.oauth_only and not data.oauth_command:
        errors["password"] = Text(
            "%(provider)s accepts no passwords from mail programs, only OAuth2: ask your "
            "administrator to add this account with a token command (dossier account add imap "
            "--oauth-command)",
            provider="Microsoft 365",
        )
    errors.update(_server_errors(settings, data, port))
    if errors:
        raise ValidationError(errors)
    assert user is not None
    account = MailAccount(
        name=name,
        kind="imap",
        user_id=user.id,
        host=data.host.strip(),
        port=port,
        security=data.security,
        username=data.username.strip(),
        password_env=data.password_env,
        password_encrypted=secrets.encrypt(settings, data.password) if data.password else "",
        oauth_command=data.oauth_command,
        folders=[f.strip() for f in (data.folders or []) if f.strip()],
        filing_folder=filing,
        smtp_host=data.smtp_host.strip(),
        smtp_port=data.smtp_port,
        smtp_security=data.smtp_security,
    )
    session.add(account)
    session.flush()
    return account


def _server_errors(settings: Settings, data: AccountInput, port: int) -> dict[str, str]:
    """The administrator's rule on mail servers (connector.network), for the IMAP and the
    SMTP server; checked again on the resolved addresses at every connection."""
    from connector.network import HostNotAllowed, MailHostRule

    errors: dict[str, str] = {}
    try:
        rule = MailHostRule.of(settings)
    except HostNotAllowed as exc:
        return {"host": exc.message}
    servers = [("host", data.host.strip(), port)]
    if data.smtp_host.strip():
        smtp_port = data.smtp_port or SMTP_PORTS.get(data.smtp_security, 587)
        servers.append(("smtp_host", data.smtp_host.strip(), smtp_port))
    for field_name, host, server_port in servers:
        if not host or any(c.isspace() for c in host) or not 1 <= server_port <= 65535:
            continue  # reported above
        try:
            rule.check_name(host, server_port)
        except HostNotAllowed as exc:
            errors[field_name] = exc.message
    return errors


def accounts_of(session: Session, user: User) -> list[MailAccount]:
    query = select(MailAccount).order_by(MailAccount.name)
    if user.role != "admin":
        query = query.where(MailAccount.user_id == user.id)
    return list(session.scalars(query))


def load_account(session: Session, user: User, account_id: int) -> MailAccount:
    account = session.get(MailAccount, account_id)
    if account is None or (user.role != "admin" and account.user_id != user.id):
        raise NotFound(f"account {account_id} not found")
    return account


def find_account(session: Session, name: str) -> MailAccount:
    account = session.scalars(select(MailAccount).where(MailAccount.name == name)).first()
    if account is None:
        raise NotFound(f"no mail account named {name}")
    return account


def delete_account(session: Session, account: MailAccount) -> None:
    """The account goes; the mail it archived stays. Callers load it with ``load_account``."""
    session.delete(account)
    session.flush()


def set_password(session: Session, settings: Settings, account: MailAccount, password: str) -> None:
    if not password:
        raise ValidationError({"password": "is required"})
    account.password_encrypted = secrets.encrypt(settings, password)
    account.password_env = ""
    account.oauth_command = ""
    session.flush()


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = ""
    oauth_token: str = ""


def credentials(settings: Settings, account: MailAccount) -> Credentials:
    """The secret to log in with, resolved only when connecting (never stored in plain text)."""
    if account.oauth_command:
        return Credentials(account.username, oauth_token=_run_token_command(account.oauth_command))
    if account.password_env:
        value = secret_from_env(account.password_env)
        if not value:
            raise AccountError(
                Text(
                    "environment variable %(variable)s (the password of %(account)s) is not set",
                    variable=account.password_env,
                    account=account.name,
                )
            )
        return Credentials(account.username, password=value)
    if account.password_encrypted:
        try:
            password = secrets.decrypt(settings, account.password_encrypted)
        except secrets.SecretError as exc:  # the account's own problem: shown on its page
            raise AccountError(exc.message) from exc
        return Credentials(account.username, password=password)
    raise AccountError(Text("account %(account)s has no password", account=account.name))


def _run_token_command(command: str) -> str:
    try:
        done = subprocess.run(
            shlex.split(command), capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired, ValueError) as exc:
        raise AccountError(
            Text("the OAuth2 token command failed: %(problem)s", problem=str(exc))
        ) from exc
    token = done.stdout.strip()
    if done.returncode != 0 or not token:
        raise AccountError(
            Text(
                "the OAuth2 token command exited %(code)s: %(output)s",
                code=done.returncode,
                output=done.stderr.strip()[:200],
            )
        )
    return token
