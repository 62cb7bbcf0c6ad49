"""Which mail servers accounts may reach, and connections that keep to it.

Anyone may add a mail account, so the server must not become a way to probe the company's
network. Three things keep it from that:

- The administrator's allow-list, ``DOSSIER_MAIL_HOSTS`` (crm.settings): comma-separated
  patterns, each a host name (``imap.gmail.com``), its sub-domains (``*.seznam.cz``: not
  ``seznam.cz`` itself), an address or a network (``10.0.0.0/8``, ``[fd00::]/8``), each
  optionally with ``:port`` (``outlook.office365.com:993``, ``[2001:db8::1]:993``). Empty (the
  default) allows any server: many companies run Exchange or Dovecot on a private address or
  on the same machine, so private and loopback addresses are not refused by default; an
  administrator who wants accounts kept off the internal network lists the servers allowed.
- Addresses that are never a mail server are refused whatever the list says, unless a listed
  network names them: link-local (169.254.0.0/16 with the cloud metadata service
  169.254.169.254, fe80::/10), the metadata addresses of IPv6 clouds, multicast, unspecified,
  broadcast and reserved ranges.
- The rule is checked when an account is saved (its name and port) and again at every
  connection, on the addresses the name resolves to then; the connection goes to exactly the
  address checked, so a name that later resolves elsewhere (DNS rebinding) cannot reach a
  refused address.

Errors say what the user can act on and never why a connection failed at the socket level
(refused, timed out, unreachable, unknown name all read "could not connect"): that difference
is what maps a network. The raw reason goes to the server log.

IMAP (``GuardedIMAPClient``) and SMTP (``GuardedSMTP``, ``GuardedSMTP_SSL``) connect through
``open_connection``; TLS still checks the certificate against the host name the user gave.
"""

from __future__ import annotations

import imaplib
import ipaddress
import logging
import re
import smtplib
import socket
import ssl
import time
from dataclasses import dataclass

from imapclient import IMAPClient, SocketTimeout
from imapclient.exceptions import CapabilityError, LoginError

from connector.accounts import AccountError
from crm.settings import Settings
from crm.text import Text

log = logging.getLogger("dossier.connector.network")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

NEVER_MAIL = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",  # "this network", unspecified
        "169.254.0.0/16",  # link-local, the cloud metadata service 169.254.169.254
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, broadcast
        "100.100.100.200/32",  # Alibaba Cloud metadata
        "::/128",
        "fe80::/10",  # link-local
        "ff00::/8",  # multicast
        "fd00:ec2::254/128",  # AWS metadata over IPv6
    )
)
_LABEL = r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?"
_NAME = re.compile(rf"^(\*\.)?({_LABEL}\.)*{_LABEL}$")


class HostNotAllowed(AccountError):
    """The account names a server the rule refuses (saved or resolved)."""

    code = "mail_host_not_allowed"
    status = 422


class Unreachable(AccountError):
    """No connection to the server: refused, timed out, unreachable, unknown name alike."""


def unreachable(host: str, port: int, detail: object = "") -> Unreachable:
    """The one message for every failure to connect; ``detail`` only goes to the log."""
    if detail:
        log.warning("mail server %s:%s not reached: %s", host, port, detail)
    return Unreachable(
        Text(
            "could not connect to the server %(server)s: check its name, port and security, "
            "or try again later",
            server=f"{host}:{port}",
        )
    )


@dataclass(frozen=True)
class Pattern:
    name: str = ""  # "imap.gmail.com" or "*.seznam.cz"
    network: IPNetwork | None = None
    port: int | None = None

    def port_fits(self, port: int) -> bool:
        return self.port is None or self.port == port

    def name_fits(self, host: str) -> bool:
        if not self.name:
            return False
        if self.name.startswith("*."):
            return host.endswith(self.name[1:]) and len(host) > len(self.name) - 1
        return host == self.name


def _port(text: str, entry: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ValueError(f"{entry!r}: the port must be a number from 1 to 65535")
    return int(text)


def parse_pattern(entry: str) -> Pattern:
    """One entry of DOSSIER_MAIL_HOSTS; ValueError says what is wrong with it."""
    text = entry.strip().lower().rstrip(".")
    port: int | None = None
    if text.startswith("["):
        inner, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"{entry!r}: write an IPv6 address as [address] or [address]:port")
        text, port = inner, _port(rest[1:], entry) if rest else None
    elif text.count(":") == 1:
        text, _, port_text = text.partition(":")
        port = _port(port_text, entry)
    try:
        return Pattern(network=ipaddress.ip_network(text, strict=False), port=port)
    except ValueError:
        pass
    if not _NAME.match(text) or len(text) > 253:
        raise ValueError(f"{entry!r} is not a host name, *.domain, address or network")
    return Pattern(name=text, port=port)


@dataclass(frozen=True)
class MailHostRule:
    """The allow-list (empty: any server) plus the addresses that are never a mail server."""

    patterns: tuple[Pattern, ...] = ()

    @classmethod
    def of(cls, settings: Settings) -> MailHostRule:
        entries = [e for e in settings.mail_hosts.split(",") if e.strip()]
        try:
            return cls(tuple(parse_pattern(e) for e in entries))
        except ValueError as exc:
            raise HostNotAllowed(
                Text(
                    "the administrator's list of mail servers (DOSSIER_MAIL_HOSTS) is invalid: "
                    "%(problem)s",
                    problem=str(exc),
                )
            ) from exc

    def check_name(self, host: str, port: int) -> None:
        """When an account is saved: the host as typed. A name that only a listed network
        could allow is decided at connection time, on its addresses."""
        host = _normal(host)
        literal = _literal(host)
        if literal is not None:
            self._check_address(host, port, literal, named=False)
            return
        if not self.patterns or any(p.port_fits(port) and p.name_fits(host) for p in self.patterns):
            return
        if any(p.network is not None and p.port_fits(port) for p in self.patterns):
            return
        raise self._refused(host, port)

    def check_addresses(self, host: str, port: int, addresses: list[IPAddress]) -> None:
        """At connection time: every address the name resolves to must be allowed."""
        host = _normal(host)
        named = _literal(host) is None and (
            not self.patterns or any(p.port_fits(port) and p.name_fits(host) for p in self.patterns)
        )
        for address in addresses:
            self._check_address(host, port, address, named=named)

    def _check_address(self, host: str, port: int, address: IPAddress, *, named: bool) -> None:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        listed = any(
            p.network is not None and p.port_fits(port) and address in p.network
            for p in self.patterns
        )
        if listed:
            return
        if any(address in network for network in NEVER_MAIL if network.version == address.version):
            log.warning("mail server %s:%s refused: it resolves to %s", host, port, address)
            raise self._refused(host, port)
        if self.patterns and not named:
            raise self._refused(host, port)

    def _refused(self, host: str, port: int) -> HostNotAllowed:
        if self.patterns:
            return HostNotAllowed(
                Text(
                    "the mail server %(server)s is not on the administrator's list of allowed "
                    "servers (DOSSIER_MAIL_HOSTS)",
                    server=f"{host}:{port}",
                )
            )
        return HostNotAllowed(
            Text("%(server)s cannot be used as a mail server", server=f"{host}:{port}")
        )


def _normal(host: str) -> str:
    host = host.strip().lower().rstrip(".")
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


def open_connection(settings: Settings, host: str, port: int, timeout: float) -> socket.socket:
    """A TCP connection to an allowed address of ``host``, checked as it is made.

    Raises HostNotAllowed or Unreachable (the reason is logged, not shown)."""
    rule = MailHostRule.of(settings)
    rule.check_name(host, port)
    deadline = time.monotonic() + timeout
    try:
        found = socket.getaddrinfo(_normal(host), port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise unreachable(host, port, exc) from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in found]
    rule.check_addresses(host, port, addresses)
    last: object = "no address"
    for family, kind, proto, _name, sockaddr in found:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(left)
            sock.connect(sockaddr)
        except OSError as exc:
            sock.close()
            last = exc
            continue
        sock.settimeout(timeout)
        return sock
    raise unreachable(host, port, last)


# -- IMAP and SMTP through open_connection ------------------------------------------------------


class _GuardedIMAP4(imaplib.IMAP4):
    def __init__(self, settings: Settings, host: str, port: int, timeout: float) -> None:
        self._settings = settings
        self._guard_timeout = timeout
        super().__init__(host, port, timeout=timeout)

    def _create_socket(self, timeout: float | None = None) -> socket.socket:
        return open_connection(self._settings, self.host, self.port, self._guard_timeout)


class _GuardedIMAP4TLS(_GuardedIMAP4):
    def __init__(
        self,
        settings: Settings,
        host: str,
        port: int,
        timeout: float,
        ssl_context: ssl.SSLContext,
    ) -> None:
        self.ssl_context = ssl_context
        super().__init__(settings, host, port, timeout)

    def _create_socket(self, timeout: float | None = None) -> socket.socket:
        sock = super()._create_socket(timeout)
        try:
            return self.ssl_context.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


class GuardedIMAPClient(IMAPClient):
    """IMAPClient whose socket comes from ``open_connection``: connecting and the greeting
    take at most ``timeout`` seconds, each later read ``read_timeout``."""

    def __init__(
        self,
        settings: Settings,
        host: str,
        port: int,
        *,
        tls: bool,
        timeout: float,
        read_timeout: float,
    ) -> None:
        self._guard = (settings, float(timeout))
        super().__init__(
            host,
            port=port,
            ssl=tls,
            ssl_context=ssl.create_default_context(),
            timeout=SocketTimeout(connect=timeout, read=read_timeout),
        )

    def _create_IMAP4(self) -> imaplib.IMAP4:
        settings, timeout = self._guard
        if self.ssl:
            assert self.ssl_context is not None
            return _GuardedIMAP4TLS(settings, self.host, self.port, timeout, self.ssl_context)
        return _GuardedIMAP4(settings, self.host, self.port, timeout)


class GuardedSMTP(smtplib.SMTP):
    """smtplib.SMTP whose socket comes from ``open_connection``; STARTTLS checks the name."""

    def __init__(self, settings: Settings, host: str, port: int, timeout: float) -> None:
        self._settings = settings
        super().__init__(host, port, timeout=timeout)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return open_connection(self._settings, host, port, timeout)


class GuardedSMTP_SSL(smtplib.SMTP_SSL):
    def __init__(
        self, settings: Settings, host: str, port: int, timeout: float, context: ssl.SSLContext
    ) -> None:
        self._settings = settings
        super().__init__(host, port, timeout=timeout, context=context)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock = open_connection(self._settings, host, port, timeout)
        try:
            return self.context.wrap_socket(sock, server_hostname=host)
        except BaseException:
            sock.close()
            raise


def connection_failure(host: str, port: int, exc: BaseException) -> AccountError:
    """What the user reads when the connection or its TLS handshake failed."""
    if isinstance(exc, AccountError):
        return exc
    if isinstance(exc, ssl.SSLCertVerificationError):
        log.info("mail server %s:%s: certificate refused: %s", host, port, exc)
        return AccountError(
            Text(
                "the server's certificate is not valid for %(host)s (expired, self-signed or "
                "made out to another name): ask whoever runs the server, or check the server's "
                "name",
                host=host,
            )
        )
    return unreachable(host, port, exc)


def login_refused(host: str, username: str, *, smtp: bool = False) -> AccountError:
    """The server took the connection and refused the login: the advice of the host's
    provider (connector.presets: Gmail's app password) or the general one."""
    from connector.presets import preset_of_host

    preset = preset_of_host(host)
    if preset is not None:
        return AccountError(Text(preset.login_refused, username=username))
    if smtp:
        return AccountError(
            Text(
                "the SMTP server %(server)s refused the login of %(username)s: check the user "
                "name and password",
                server=host,
                username=username,
            )
        )
    return AccountError(
        Text(
            "the server refused the login of %(username)s: check the user name and password",
            username=username,
        )
    )


def no_starttls(protocol: str) -> AccountError:
    """The server does not offer STARTTLS where the account asks for it."""
    if protocol == "smtp":
        return AccountError(
            Text(
                "the SMTP server does not offer STARTTLS: choose SSL/TLS on port 465, or no "
                "security for a server on your own network"
            )
        )
    return AccountError(
        Text(
            "the server does not offer STARTTLS: choose SSL/TLS on port 993, or no security "
            "for a server on your own network"
        )
    )


def login_failure(host: str, port: int, username: str, exc: BaseException) -> AccountError:
    """What the user reads when the server answered but the login (or STARTTLS) failed."""
    if isinstance(exc, LoginError):
        log.info("mail server %s:%s refused the login of %s: %s", host, port, username, exc)
        return login_refused(host, username)
    if isinstance(exc, CapabilityError):
        return no_starttls("imap")
    return connection_failure(host, port, exc)
