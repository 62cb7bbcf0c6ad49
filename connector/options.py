"""The connector's settings (crm.settings schema, entry point group ``dossier.settings``)."""

from __future__ import annotations

from crm.settings import Option

OPTIONS = (
    Option(
        "sync_minutes",
        "DOSSIER_SYNC_MINUTES",
        "float",
        "5",
        "How often `dossier serve` reads the mail accounts, in minutes; `0` turns it off.",
    ),
    Option(
        "imap_idle",
        "DOSSIER_IMAP_IDLE",
        "bool",
        "on",
        "IMAP IDLE: new mail is filed as it arrives; `off`: it waits for the next periodic pass.",
    ),
    Option(
        "mail_hosts",
        "DOSSIER_MAIL_HOSTS",
        "str",
        "",
        "Mail servers (IMAP and SMTP) that accounts may use, comma-separated: host names "
        "(`imap.gmail.com`), sub-domains (`*.seznam.cz`), addresses or networks (`10.0.0.0/8`), "
        "each optionally with `:port` (`outlook.office365.com:993`). Link-local and cloud "
        "metadata addresses are refused unless listed.",
        shown_default="empty: any server",
    ),
    Option(
        "mail_timeout",
        "DOSSIER_MAIL_TIMEOUT",
        "int",
        "10",
        "Seconds a connection to a mail server may take to connect and log in.",
        minimum=1,
    ),
)
