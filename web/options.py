"""The web UI's settings (crm.settings schema, entry point group ``dossier.settings``)."""

from __future__ import annotations

from crm.settings import HTTPS_MODES, Option

OPTIONS = (
    Option(
        "page_size",
        "DOSSIER_PAGE_SIZE",
        "int",
        "50",
        "Rows per page in web lists (a list's `per_page` parameter still wins).",
        minimum=1,
    ),
    Option(
        "https",
        "DOSSIER_HTTPS",
        "choice",
        "auto",
        "`on`: the session cookie is `Secure` and HSTS is sent; `auto`: so when the request came "
        "over HTTPS; `off`: never.",
        choices=HTTPS_MODES,
    ),
    Option(
        "trusted_proxies",
        "DOSSIER_TRUSTED_PROXIES",
        "int",
        "0",
        "How many reverse proxies stand in front of `dossier serve`; their `X-Forwarded-For` and "
        "`X-Forwarded-Proto` are believed (client address for login throttling, HTTPS). `0` "
        "believes none.",
    ),
)
