"""The mail providers our users have, as data: their IMAP and SMTP servers, ports, security, and
what a person must know to connect (an app password, access for mail programs turned on).

The account form offers them at its top (web/static/account-form.js fills the fields; without
JavaScript the chosen preset fills the servers left empty when the form is sent), and a refused
login on a preset's server names the preset's own advice ("for Gmail use an app password").
One table, checked against each provider's published settings; a provider changes by editing
its row. Labels and hints are marked for the catalogs (``N_``): the UI translates them.

Microsoft 365 is the one preset that cannot work with a password: Microsoft turned basic
authentication off for IMAP and SMTP in Exchange Online. The connector signs in there only
through an OAuth2 token command an administrator sets up (``dossier account add imap
--oauth-command``, XOAUTH2); signing in with a Microsoft account from the page comes with the
Exchange / Microsoft 365 work. The preset says so and the form refuses a password for it
rather than save an account that can never log in.
"""

from __future__ import annotations

from dataclasses import dataclass

from crm.text import N_

# IMAP and SMTP security: "tls" is implicit TLS from the first byte (RFC 8314 §3.3: IMAP 993,
# SMTP submission 465), "starttls" upgrades a plain connection (IMAP 143, SMTP 587), "none"
# only for a server on one's own network.
IMAP_PORTS = {"tls": 993, "starttls": 143, "none": 143}
SMTP_PORTS = {"tls": 465, "starttls": 587, "none": 587}


@dataclass(frozen=True)
class Preset:
    key: str
    label: str  # the provider's name as people know it (translated where it has words)
    imap_host: str
    smtp_host: str
    hint: str  # what to do at the provider first, shown under the select (N_-marked)
    login_refused: str  # a refused login on its servers: the advice, %(username)s (N_-marked)
    imap_security: str = "tls"
    smtp_security: str = "tls"
    oauth_only: bool = False  # the provider refuses passwords (Microsoft 365)

    @property
    def imap_port(self) -> int:
        return IMAP_PORTS[self.imap_security]

    @property
    def smtp_port(self) -> int:
        return SMTP_PORTS[self.smtp_security]

    def as_form(self) -> dict[str, str]:
        """The form fields the preset fills (account-form.js reads them from data attributes)."""
        return {
            "host": self.imap_host,
            "port": str(self.imap_port),
            "security": self.imap_security,
            "smtp_host": self.smtp_host,
            "smtp_port": str(self.smtp_port),
            "smtp_security": self.smtp_security,
        }


_ACCESS_ON = N_(
    "the server refused the login of %(username)s: check the user name and password, and that "
    "access for mail programs (IMAP and SMTP) is turned on in the mailbox's settings"
)

PRESETS: tuple[Preset, ...] = (
    Preset(
        key="seznam",
        label="Seznam.cz",
        imap_host="imap.seznam.cz",
        smtp_host="smtp.seznam.cz",
        hint=N_(
            "Seznam: turn on access for mail programs (IMAP and SMTP) in Seznam Email's "
            "settings; with two-step verification, use an application password."
        ),
        login_refused=_ACCESS_ON,
    ),
    Preset(
        key="centrum",
        label="Centrum.cz",
        imap_host="imap.centrum.cz",
        smtp_host="smtp.centrum.cz",
        hint=N_(
            "Centrum: turn on access for mail programs (IMAP and SMTP) in the mailbox's "
            "settings; the login is your whole e-mail address."
        ),
        login_refused=_ACCESS_ON,
    ),
    Preset(
        key="gmail",
        label=N_("Gmail / Google Workspace"),
        imap_host="imap.gmail.com",
        smtp_host="smtp.gmail.com",
        hint=N_(
            "Gmail takes an app password, not your usual one: Google Account → Security → "
            "2-Step Verification → App passwords. In Google Workspace your administrator may "
            "have to allow it."
        ),
        login_refused=N_(
            "Google refused the login of %(username)s: Gmail needs an app password (Google "
            "Account → Security → App passwords), not your usual password"
        ),
    ),
    Preset(
        key="microsoft365",
        label=N_("Microsoft 365 (OAuth only)"),
        imap_host="outlook.office365.com",
        smtp_host="smtp.office365.com",
        smtp_security="starttls",
        hint=N_(
            "Microsoft 365 no longer accepts passwords from mail programs. Today Dossier "
            "connects to it only with an OAuth2 token command that your administrator sets up "
            "(dossier account add imap … --oauth-command); signing in with your Microsoft "
            "account from this page comes with the Exchange and Microsoft 365 work."
        ),
        login_refused=N_(
            "Microsoft 365 refused the login of %(username)s: it accepts no passwords, only "
            "OAuth2; ask your administrator to set the account up with a token command"
        ),
        oauth_only=True,
    ),
    Preset(
        key="wp",
        label="WP Poczta",
        imap_host="imap.wp.pl",
        smtp_host="smtp.wp.pl",
        hint=N_(
            "WP: turn on access for mail programs (IMAP, POP3 and SMTP) in WP Poczta's "
            "settings first."
        ),
        login_refused=_ACCESS_ON,
    ),
    Preset(
        key="onet",
        label="Onet Poczta",
        imap_host="imap.poczta.onet.pl",
        smtp_host="smtp.poczta.onet.pl",
        hint=N_(
            "Onet: turn on access for mail programs (IMAP and SMTP) in Onet Poczta's settings; "
            "with two-step verification, use an application password."
        ),
        login_refused=_ACCESS_ON,
    ),
    Preset(
        key="azet",
        label="Azet.sk",
        imap_host="imap.azet.sk",
        smtp_host="smtp.azet.sk",
        hint=N_(
            "Azet: turn on access for mail programs (IMAP and SMTP) in the mailbox's settings "
            "first."
        ),
        login_refused=_ACCESS_ON,
    ),
)
BY_KEY = {preset.key: preset for preset in PRESETS}


def preset_of_host(host: str) -> Preset | None:
    """The preset whose IMAP or SMTP server ``host`` is (compared as typed, case aside)."""
    name = host.strip().lower().rstrip(".")
    for preset in PRESETS:
        if name in (preset.imap_host, preset.smtp_host):
            return preset
    return None
