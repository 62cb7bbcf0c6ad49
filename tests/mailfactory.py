"""Mail written for the tests: Czech, Slovak and Polish messages in windows-1250, iso-8859-2
and UTF-8, with RFC 2047 headers and RFC 2231 attachment names, built the way mail programs
build them (email.mime), so that the bytes carry the charsets under test."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from email.header import Header
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr

_ids = itertools.count(1)


def make_mail(
    *,
    subject: str = "Nabídka",
    sender: tuple[str, str] = ("Jan Novák", "jan.novak@stavby-pribram.cz"),
    to: list[tuple[str, str]] | None = None,
    cc: list[tuple[str, str]] | None = None,
    body: str = "Dobrý den,\nposílám nabídku.\n",
    html: str | None = None,
    charset: str = "utf-8",
    message_id: str | None = None,
    in_reply_to: str | None = None,
    references: list[str] | None = None,
    date: dt.datetime | None = None,
    attachments: Sequence[tuple[str, str, bytes]] = (),
    headers: dict[str, str] | None = None,
) -> bytes:
    to = to or [("Jana Nováková", "jana@firma.cz")]
    text = MIMEText(body, "plain", charset)
    if html is not None:
        alternative = MIMEMultipart("alternative")
        alternative.attach(text)
        alternative.attach(MIMEText(html, "html", charset))
        root: MIMEMultipart | MIMEText = alternative
    else:
        root = text
    if attachments:
        mixed = MIMEMultipart("mixed")
        mixed.attach(root)
        for name, ctype, data in attachments:
            maintype, _, subtype = ctype.partition("/")
            if maintype == "application":
                part: MIMEApplication | MIMEText = MIMEApplication(data, subtype)
                part.replace_header("Content-Type", ctype)
            else:
                part = MIMEText(data.decode(), subtype)
            # RFC 2231: the name in UTF-8, as Thunderbird and Outlook write non-ASCII names
            part.add_header("Content-Disposition", "attachment", filename=("utf-8", "", name))
            mixed.attach(part)
        root = mixed
    root["Subject"] = Header(subject, charset)
    root["From"] = formataddr((str(Header(sender[0], charset)), sender[1]))
    root["To"] = ", ".join(formataddr((str(Header(n, charset)), a)) for n, a in to)
    if cc:
        root["Cc"] = ", ".join(formataddr((str(Header(n, charset)), a)) for n, a in cc)
    root["Date"] = format_datetime(date or dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC))
    root["Message-ID"] = f"<{message_id or f'test-{next(_ids)}@mail.example'}>"
    if in_reply_to:
        root["In-Reply-To"] = f"<{in_reply_to}>"
    if references:
        root["References"] = " ".join(f"<{r}>" for r in references)
    for name, value in (headers or {}).items():
        root[name] = value
    return root.as_bytes()
