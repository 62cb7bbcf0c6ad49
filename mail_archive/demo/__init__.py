"""Demo mail: half a year of the demo's correspondence, archived the way real mail is.

``load_demo_mail(db)``, run after ``crm.demo.load_demo``, writes what the salespeople and their
customers sent each other, in the customer's language (Czech, Slovak, Polish): inquiries,
offers with a PDF, price lists (CSV in windows-1250), orders, meetings and complaints (with a
photo), some of it as HTML; a supplier's newsletter with remote images; an out-of-office reply;
mail from people at a partner's domain who are not in the CRM; and, in each salesperson's
triage queue, a few messages from strangers brought in through an explicit channel.

Every message is built with the standard library (``EmailMessage``, ``policy.default``) and
enters through ``Archive.ingest`` with the rule filer, like real mail: the rules (subject tag,
thread, address, domain) decide where it is filed; only the out-of-office reply, which no rule
files, comes through a ``CRM/<partner>`` folder.

Deterministic: a fixed seed; dates relative to now (the last six months, office hours in
Prague, in Europe/Prague time). Loads once: a second call finds the demo's sources (keys
``demo:<n>``) and stores nothing.

The writer is ``mail``; the words and message texts are data files in ``content/`` (TOML, one per
language, the product catalogue, the triage queues' strangers), read by ``texts``. It needs only
crm and the archive (the filing rules live in ``mail_archive.filing``), not the connector.
"""

from __future__ import annotations

from mail_archive.demo.mail import KEY_PREFIX, demo_messages, load_demo_mail, message_count, prague

__all__ = ["KEY_PREFIX", "demo_messages", "load_demo_mail", "message_count", "prague"]
