"""Sending mail from the CRM through the user's own SMTP account.

What is sent is archived and linked like incoming mail (Source kind ``sent``, outgoing, with
the partner/deal chosen or found by the rules), and a copy is appended to the account's Sent
folder so the user's mail program shows it; the next sync finds the same bytes and dedupes them.
"""

from __future__ import annotations

import base64
import email.utils
import logging
import re
import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY

from connector.accounts import AccountError, credentials
from connector.models import MailAccount
from connector.network import (
    GuardedSMTP,
    GuardedSMTP_SSL,
    connection_failure,
    login_refused,
    no_starttls,
)
from connector.presets import SMTP_PORTS
from crm import audit
from crm.blobs import BlobStore
from crm.db import Database
from crm.errors import DossierError, ValidationError
from crm.models import User
from crm.permissions import load_visible
from crm.settings import Settings
from crm.text import Text
from mail_archive.filing import RuleFiler
from mail_archive.ingest import Archive, Source
from mail_archive.models import Message
from mail_archive.parse import safe_filename
from mail_archive.service import check_choice

log = logging.getLogger("dossier.sending")
MAX_ATTACHMENTS_BYTES = 20 * 1024 * 1024
_MSGID = re.compile(r"[!-;=?-~]{1,500}")  # printable ASCII without < > (RFC 5322 §3.6.4)
_MIME_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,62}/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}")
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")


class SendError(DossierError):
    """Not sent; the message says why, for the user (a ``Text``: the page translates it)."""

    code = "send_failed"
    status = 502


@dataclass
class Draft:
    account_id: int
    to: str
    subject: str
    body: str
    cc: str = ""
    partner_id: int | None = None
    deal_id: int | None = None
    reply_to_id: int | None = None
    attachments: list[tuple[str, str, bytes]] = field(default_factory=list)


def _recipients(value: str, field_name: str, errors: dict[str, str]) -> list[str]:
    pairs = email.utils.getaddresses([value.replace(";", ",")])
    found = []
    for _name, addr in pairs:
        addr = addr.strip()
        if not addr:
            continue
        local, _, domain = addr.rpartition("@")
        if not local or "." not in domain or any(c.isspace() for c in addr):
            errors[field_name] = f"{addr} is not an e-mail address"
            continue
        found.append(addr)
    return found


def build_message(
    user: User, account: MailAccount, draft: Draft, original: Message | None
) -> EmailMessage:
    errors: dict[str, str] = {}
    to = _recipients(draft.to, "to", errors)
    cc = _recipients(draft.cc, "cc", errors)
    if not to and "to" not in errors:
        errors["to"] = "is required"
    if not draft.subject.strip():
        errors["subject"] = "is required"
    if sum(len(data) for _n, _t, data in draft.attachments) > MAX_ATTACHMENTS_BYTES:
        errors["files"] = "the attachments are larger than 20 MB together"
    if errors:
        raise ValidationError(errors)
    sender = account.username if "@" in account.username else user.email
    msg = EmailMessage()
    # Every header value on one line, whatever was typed, stored or decoded from a received
    # message: a line break there would end the header and begin another (an injected Bcc).
    msg["From"] = email.utils.formataddr((_one_line(user.name), sender))
    msg["To"] = ", ".join(to)
    if cc:
        msg["Cc"] = ", ".join(cc)
    msg["Subject"] = _one_line(draft.subject)
    msg["Date"] = email.utils.formatdate(localtime=True)
    msg["Message-ID"] = email.utils.make_msgid(domain=sender.rpartition("@")[2] or None)
    if original is not None and _MSGID.fullmatch(original.internet_id):
        msg["In-Reply-To"] = f"<{original.internet_id}>"
        refs = [r for r in [*original.references, original.internet_id] if _MSGID.fullmatch(r)]
        msg["References"] = " ".join(f"<{r}>" for r in dict.fromkeys(refs))
    msg.set_content(draft.body or "")
    for position, (name, ctype, data) in enumerate(draft.attachments, start=1):
        ctype = ctype.lower() if _MIME_TYPE.fullmatch(ctype.lower()) else "application/octet-stream"
        maintype, _, subtype = ctype.partition("/")
        msg.add_attachment(
            data,
            maintype=maintype,
            subtype=subtype,
            filename=safe_filename(name, ctype, position),
        )
    return msg


def _one_line(value: str) -> str:
    """Control characters and white space of every kind (CR, LF, U+2028, NEL) as single
    spaces."""
    return " ".join(_CONTROLS.sub(" ", value).split())


def send_draft(db: Database, user_id: int, draft: Draft) -> int:
    """Send, archive, link; returns the archived message's id."""
    with db.session() as s:
        user = s.get(User, user_id)
        assert user is not None
        account = s.get(MailAccount, draft.account_id)
        if account is None or account.user_id != user.id or not account.smtp_host:
            raise ValidationError({"account_id": "choose one of your accounts with SMTP"})
        original = load_visible(s, user, Message, draft.reply_to_id) if draft.reply_to_id else None
        check_choice(s, user, draft.partner_id, draft.deal_id)  # records the user may see
        msg = build_message(user, account, draft, original)
        s.expunge(account)
    raw = msg.as_bytes(policy=SMTP_POLICY)
    _smtp_send(db, account, msg)
    with db.session() as s:
        archive = Archive(
            s, BlobStore(db.settings.blob_dir), RuleFiler(), extra_own=[account.username]
        )
        result = archive.ingest(
            raw,
            Source(
                kind="sent",
                key=f"sent:{account.id}:{msg['Message-ID']}",
                user_id=user_id,
                account_id=account.id,
                explicit=True,
                partner_id=draft.partner_id,
                deal_id=draft.deal_id,
                outgoing=True,
            ),
        )
        audit.record(
            s,
            s.get(User, user_id),
            "send",
            "message",
            result.message_id,
            {"to": (None, str(msg["To"] or "")), "subject": (None, str(msg["Subject"] or ""))},
        )
    _append_to_sent(db, account, raw)
    assert result.message_id is not None  # an explicit channel always stores
    return result.message_id


@contextmanager
def smtp_session(
    settings: Settings, account: MailAccount, *, read_timeout: float = 60
) -> Iterator[smtplib.SMTP]:
    """A connection to the account's SMTP server, secured as the account says (SSL/TLS from the
    first byte, STARTTLS, or none) and logged in; ``AccountError`` worded for the user when
    that fails. Until the server has greeted and taken the login, every failure reads as
    connector.network words it (no socket error text: it would map the network)."""
    secret = credentials(settings, account)
    port = account.smtp_port or SMTP_PORTS.get(account.smtp_security, 587)
    context = ssl.create_default_context()
    host, timeout = account.smtp_host, settings.mail_timeout
    try:
        # connector.network: only allowed servers; the address checked is the one reached
        if account.smtp_security == "tls":
            client: smtplib.SMTP = GuardedSMTP_SSL(settings, host, port, timeout, context)
        else:
            client = GuardedSMTP(settings, host, port, timeout)
    except (AccountError, smtplib.SMTPException, OSError) as exc:
        raise connection_failure(host, port, exc) from None
    with client:
        try:
            client.ehlo()
            if account.smtp_security == "starttls":
                client.starttls(context=context)
                client.ehlo()
            if secret.oauth_token:
                auth = f"user={secret.username}\x01auth=Bearer {secret.oauth_token}\x01\x01"
                code, reply = client.docmd(
                    "AUTH", "XOAUTH2 " + base64.b64encode(auth.encode()).decode()
                )
                if code != 235:
                    raise smtplib.SMTPAuthenticationError(code, reply)
            elif secret.password and client.has_extn("auth"):
                client.login(secret.username, secret.password)
        except smtplib.SMTPAuthenticationError as exc:
            log.info("SMTP login of %s refused: %s", account.name, exc)
            raise login_refused(host, secret.username, smtp=True) from None
        except smtplib.SMTPNotSupportedError:
            raise no_starttls("smtp") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise connection_failure(host, port, exc) from None
        if client.sock is not None:
            client.sock.settimeout(read_timeout)  # logged in: a large message may take a while
        yield client


def _smtp_send(db: Database, account: MailAccount, msg: EmailMessage) -> None:
    try:
        with smtp_session(db.settings, account) as client:
            try:
                client.send_message(msg)
            except (smtplib.SMTPException, OSError) as exc:  # the server's own answer
                raise SendError(
                    Text("the mail server did not take the message: %(reply)s", reply=str(exc))
                ) from exc
    except AccountError as exc:
        raise SendError(exc.message) from None


def _append_to_sent(db: Database, account: MailAccount, raw: bytes) -> None:
    """Best effort: the message is sent and archived whatever happens here. A server that
    files what its SMTP takes into Sent itself (Capabilities.files_sent) gets no second copy."""
    from connector.imap import NETWORK_ERRORS, SENT_FLAG, connect
    from connector.sources import UnknownKind, load_source

    try:
        if load_source(account.kind).capabilities.files_sent:
            return
    except UnknownKind:
        return
    try:
        with connect(db, account) as client:
            for flags, _delim, name in client.list_folders():
                if SENT_FLAG in flags:
                    client.append(name, raw, flags=[b"\\Seen"])
                    return
    except (AccountError, *NETWORK_ERRORS) as exc:
        log.warning("sent mail not copied to the Sent folder of %s: %s", account.name, exc)
