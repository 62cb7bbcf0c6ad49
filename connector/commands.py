"""``dossier account``, ``dossier sync`` and ``dossier file`` (registered as dossier.commands)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from connector.accounts import AccountInput, add_account, delete_account, find_account
from connector.models import SECURITIES, MailAccount
from connector.sources import UnknownKind, load_source, source_kinds
from crm.bootstrap import initialize
from crm.cli import load_settings, password_from_env


@click.group()
def account() -> None:
    """Manage the mail accounts the connector reads."""


class _Kinds(click.Group):
    """One sub-command per installed kind of mail source (connector.sources): each kind
    brings its own ``add`` command."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return source_kinds()

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        try:
            return load_source(cmd_name).add_command()
        except UnknownKind:
            return None

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and not args[0].startswith("-") and self.get_command(ctx, args[0]) is None:
            raise click.UsageError(str(UnknownKind(args[0], source_kinds())), ctx)
        return super().resolve_command(ctx, args)


@account.group("add", cls=_Kinds)
def account_add() -> None:
    """Add a mail account of one of the kinds below."""


@click.command("imap")
@click.argument("name")
@click.option("--host", required=True, help="IMAP server, e.g. imap.firma.cz")
@click.option("--port", type=click.IntRange(1, 65535), help="Default: 993 (tls), 143 otherwise.")
@click.option("--security", type=click.Choice(SECURITIES), default="tls", show_default=True)
@click.option("--username", required=True, help="The login at the server.")
@click.option(
    "--password-env",
    metavar="VAR",
    help="Read the password from VAR at every sync (it is never stored).",
)
@click.option(
    "--store-password-env",
    metavar="VAR",
    help="Read the password from VAR now and store it encrypted (key in the data directory).",
)
@click.option(
    "--oauth-command",
    metavar="CMD",
    help="XOAUTH2 (Microsoft 365, Gmail): a command printing a fresh access token.",
)
@click.option("--user", "user_email", required=True, help="The CRM user the mailbox belongs to.")
@click.option("--folders", default="", help="Folders to read, e.g. INBOX,Sent (default: both).")
@click.option("--filing-folder", default="CRM", show_default=True)
@click.option("--smtp-host", default="", help="SMTP server for sending from the CRM.")
@click.option("--smtp-port", type=click.IntRange(1, 65535))
@click.option("--smtp-security", type=click.Choice(SECURITIES), default="starttls")
def account_add_imap(
    name: str,
    host: str,
    port: int | None,
    security: str,
    username: str,
    password_env: str | None,
    store_password_env: str | None,
    oauth_command: str | None,
    user_email: str,
    folders: str,
    filing_folder: str,
    smtp_host: str,
    smtp_port: int | None,
    smtp_security: str,
) -> None:
    """Add the IMAP account NAME."""
    settings = load_settings()
    db = initialize(settings)
    try:
        with db.session() as s:
            created = add_account(
                s,
                settings,
                AccountInput(
                    name=name,
                    host=host,
                    port=port,
                    security=security,
                    username=username,
                    user_email=user_email,
                    password_env=password_env or "",
                    password=password_from_env(store_password_env) or "",
                    oauth_command=oauth_command or "",
                    folders=folders.split(",") if folders else None,
                    filing_folder=filing_folder,
                    smtp_host=smtp_host,
                    smtp_port=smtp_port,
                    smtp_security=smtp_security,
                ),
            )
            click.echo(
                f"Account {created.name} added ({created.host}:{created.port}, "
                f"{created.security}); `dossier sync --account {created.name}` reads it now."
            )
    finally:
        db.dispose()


@account.command("list")
def account_list() -> None:
    """List the mail accounts with their last sync and error."""
    from sqlalchemy import select

    db = initialize(load_settings())
    try:
        with db.session() as s:
            for a in s.scalars(select(MailAccount).order_by(MailAccount.name)):
                last = a.last_sync_at.isoformat(timespec="seconds") if a.last_sync_at else "never"
                status = f"error: {a.last_error}" if a.last_error else "ok"
                click.echo(
                    f"{a.name:20} {a.username:30} {a.host}:{a.port} {a.user.email}  "
                    f"last sync {last}  {status}"
                )
    finally:
        db.dispose()


@account.command("remove")
@click.argument("name")
def account_remove(name: str) -> None:
    """Remove the account NAME (its archived mail stays)."""
    db = initialize(load_settings())
    try:
        with db.session() as s:
            delete_account(s, find_account(s, name))
        click.echo(f"Account {name} removed; the mail it archived stays.")
    finally:
        db.dispose()


@click.command()
@click.option("--account", "name", help="Only this account.")
def sync(name: str | None) -> None:
    """One pass over the mail accounts; prints per account and folder what happened."""
    from connector.sync import sync_accounts

    db = initialize(load_settings())
    try:
        if name:
            with db.session() as s:
                find_account(s, name)
        reports = sync_accounts(db, name)
    finally:
        db.dispose()
    failed = False
    if not reports:
        click.echo("No mail accounts: add one with `dossier account add imap`.")
    for report in reports:
        click.echo(f"{report.account}:" + (f" ERROR {report.error}" if report.error else ""))
        failed = failed or bool(report.error)
        for f in report.folders:
            click.echo(
                f"  {f.folder:30} fetched {f.fetched}, archived {f.archived}, "
                f"duplicates {f.duplicates}, triaged {f.triaged}, skipped (private) {f.skipped}"
                + (f"  ({f.note})" if f.note else "")
            )
    if failed:
        sys.exit(1)


@click.command("file")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--partner", "partner_id", type=int, help="File everything to this partner.")
@click.option("--deal", "deal_id", type=int, help="File everything to this deal.")
@click.option("--user", "user_email", required=True, help="Who files it (their triage queue).")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Processes parsing a large import (default: one per core, at most 4).",
)
def file_(
    paths: tuple[Path, ...],
    partner_id: int | None,
    deal_id: int | None,
    user_email: str,
    workers: int | None,
) -> None:
    """File .eml and Outlook .msg files, maildirs or mbox files; unmatched mail waits in the
    triage queue."""
    from connector.intake import file_paths

    db = initialize(load_settings())
    try:
        report = file_paths(
            db, user_email, list(paths), partner_id=partner_id, deal_id=deal_id, workers=workers
        )
    finally:
        db.dispose()
    for problem in report.problems:
        click.echo(problem, err=True)
    c = report.counts
    click.echo(
        f"{sum(c.values())} messages: archived {c['archived']}, duplicates {c['duplicate']}, "
        f"triaged {c['triaged']}, refused {c['refused']}"
    )
    if c["refused"]:
        sys.exit(1)
