"""An in-process SMTP server on loopback (aiosmtpd) that keeps every message it receives.

It offers AUTH PLAIN and LOGIN without TLS (``auth_require_tls=False``): fine on 127.0.0.1, and
what a client configured for a local relay does. With ``require_auth`` the handler refuses
``MAIL FROM`` before a successful AUTH. That is checked in the handler rather than with
aiosmtpd's ``auth_required=True``, which warns ("Requiring AUTH while not requiring TLS ...")
in every connection's ``SMTP.__init__`` on the server thread, where a ``catch_warnings`` in the
test thread cannot reliably cover it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.servers.postgres import free_port


@dataclass(frozen=True)
class ReceivedMessage:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    login: str | None
    """The user who authenticated for this message, or None."""


@dataclass
class SmtpServer:
    """A running SMTP server; ``messages`` fills up as clients send mail."""

    host: str
    port: int
    user: str
    password: str
    require_auth: bool = False
    messages: list[ReceivedMessage] = field(default_factory=list)
    failed_logins: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()
            self.failed_logins.clear()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedMessage]:
        """Wait until at least ``count`` messages arrived (for clients sending in the
        background); smtplib's ``sendmail`` returns only after the server stored the message."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.messages)} of {count} messages arrived")
            time.sleep(0.01)
        return list(self.messages)

    # --- aiosmtpd callbacks (run on the server's thread) --------------------------------

    def authenticate(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        auth_data: Any,
    ) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            login = auth_data.login.decode("utf-8", "replace")
            password = auth_data.password.decode("utf-8", "replace")
            if login == self.user and password == self.password:
                return AuthResult(success=True, auth_data=login)
            with self._lock:
                self.failed_logins.append(login)
        return AuthResult(success=False, handled=False)

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        if self.require_auth and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        login = session.auth_data if session.authenticated else None
        message = ReceivedMessage(
            mail_from=envelope.mail_from or "",
            rcpt_tos=tuple(envelope.rcpt_tos),
            raw=bytes(content),
            login=str(login) if login is not None else None,
        )
        with self._lock:
            self.messages.append(message)
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server(
    user: str = "mailer", password: str = "mailer-secret", *, require_auth: bool = False
) -> Iterator[SmtpServer]:
    """Run an SMTP server on a free loopback port for the duration of the block."""
    server = SmtpServer(
        host="127.0.0.1",
        port=free_port(),
        user=user,
        password=password,
        require_auth=require_auth,
    )
    controller = Controller(
        server,
        hostname=server.host,
        port=server.port,
        # without it aiosmtpd calls socket.getfqdn(), which can wait for DNS
        server_hostname="dossier-test-smtp",
        authenticator=server.authenticate,
        auth_require_tls=False,
        decode_data=False,
    )
    controller.start()
    try:
        yield server
    finally:
        controller.stop()
