"""The ``dossier`` command (DESIGN.md, "Interfaces we promise").

Commands from packages that crm may not import (``serve``, ``demo`` in web) are found through
the ``dossier.commands`` entry point group, so crm stays the bottom layer.
"""

from __future__ import annotations

import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import click

from crm.bootstrap import initialize, secure_data_dir
from crm.db import Database
from crm.errors import DossierError
from crm.models import ROLES
from crm.settings import Settings, markdown_table, secret_from_env


def load_settings(home: str | None = None) -> Settings:
    """The settings of this command; a bad value stops it, naming the variable."""
    try:
        return Settings.from_env(home=home)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc


def password_from_env(var: str | None) -> str | None:
    if var is None:
        return None
    value = secret_from_env(var)
    if not value:
        raise click.UsageError(f"environment variable {var} is empty or not set")
    return value


class DossierGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *(ep.name for ep in _plugins())})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is None:
            for ep in _plugins():
                if ep.name == name:
                    return ep.load()  # type: ignore[no-any-return]
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DossierError as exc:
            raise click.ClickException(exc.message) from exc


def _plugins() -> list[Any]:
    return list(entry_points(group="dossier.commands"))


@click.group(cls=DossierGroup)
def main() -> None:
    """Dossier, the document-centric CRM. DOSSIER_HOME names the data directory."""
    load_settings()  # every command refuses a bad setting before it starts (`dossier config`)


@main.command()
@click.option("--markdown", is_flag=True, help="Print README's settings table instead.")
def config(markdown: bool) -> None:
    """Print every setting's effective value and where it came from (secrets masked)."""
    if markdown:
        click.echo(markdown_table(), nl=False)
        return
    rows = load_settings().effective()
    width = max(len(row.option.env) for row in rows)
    for row in rows:
        click.echo(f"{row.option.env:<{width}}  {row.shown or '(empty)'}  [{row.source}]")


@main.command()
@click.option("--admin-email", help="Create this admin user if missing.")
@click.option("--admin-password-env", metavar="VAR", help="Environment variable with the password.")
def init(admin_email: str | None, admin_password_env: str | None) -> None:
    """Create the data directory, database and index (idempotent)."""
    settings = load_settings()
    password = password_from_env(admin_password_env)
    initialize(settings, admin_email, password).dispose()
    secure_data_dir(settings)  # also what an older Dossier left readable to others
    click.echo(f"Data directory ready: {settings.home}")


@main.group()
def user() -> None:
    """Manage users."""


@user.command("add")
@click.argument("email")
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--group", "groups", multiple=True, required=True, help="Sales team (repeatable).")
@click.option("--password-env", metavar="VAR", help="Environment variable with the password.")
@click.option("--language", type=click.Choice(["en", "cs"]), default="en")
def user_add(
    email: str,
    name: str,
    role: str,
    groups: tuple[str, ...],
    password_env: str | None,
    language: str,
) -> None:
    """Add a user EMAIL."""
    from crm.services.users import create_user

    db = initialize(load_settings())
    try:
        with db.session() as session:
            created = create_user(
                session,
                email,
                name,
                role,
                groups,
                password=password_from_env(password_env),
                language=language,
            )
            click.echo(f"User {created.email} ({created.role}) added, id {created.id}")
    finally:
        db.dispose()


@main.group()
def token() -> None:
    """Manage API tokens."""


@token.command("create")
@click.argument("email")
@click.option("--label", default="", help="What the token is for.")
def token_create(email: str, label: str) -> None:
    """Print a new API token for EMAIL (alone on the last line; store it now, it is not kept)."""
    from crm.services.users import create_token

    db = Database(load_settings())
    try:
        with db.session() as session:
            value = create_token(session, email, label)
    finally:
        db.dispose()
    click.echo(f"API token for {email} (shown once):", err=True)
    click.echo(value)


@token.command("list")
@click.argument("email")
def token_list(email: str) -> None:
    """List EMAIL's API tokens: id, created, last use, label (the values are not kept)."""
    from crm.services.users import list_tokens, require_user

    db = Database(load_settings())
    try:
        with db.session(write=False) as session:
            rows = list_tokens(session, require_user(session, email))
    finally:
        db.dispose()
    if not rows:
        click.echo(f"{email} has no API tokens", err=True)
    for row in rows:
        last = row.last_used_at.isoformat(timespec="seconds") if row.last_used_at else "never"
        created = row.created_at.isoformat(timespec="seconds")
        click.echo(f"{row.id}\tcreated {created}\tlast used {last}\t{row.label}")


@token.command("revoke")
@click.argument("token_id", metavar="ID", type=click.IntRange(min=1))
def token_revoke(token_id: int) -> None:
    """Revoke the API token ID (see `dossier token list`): it stops working at once."""
    from crm.services.users import revoke_token

    db = Database(load_settings())
    try:
        with db.session() as session:
            revoked = revoke_token(session, token_id)
            owner = revoked.user.email
    finally:
        db.dispose()
    click.echo(f"API token {token_id} of {owner} revoked")


@main.group("import")
def import_() -> None:
    """Import records from files."""


@import_.command("partners")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--user", "email", help="Import as this user (default: the first admin).")
def import_partners(file: Path, email: str | None) -> None:
    """Import partners from a CSV or XLSX FILE; reports each row."""
    from crm.services.importer import import_partners as run_import

    db = initialize(load_settings())
    try:
        report = run_import(db, file, email)
    finally:
        db.dispose()
    for line in report.lines:
        click.echo(line)
    click.echo(f"{report.created} created, {report.updated} updated, {report.refused} refused")
    if report.refused:
        sys.exit(1)


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def backup(file: Path) -> None:
    """Write the whole data directory to FILE (safe while the server runs)."""
    from crm.backup import backup as run_backup

    summary = run_backup(load_settings(), file)
    click.echo(summary)


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def restore(file: Path) -> None:
    """Replace the data directory's contents with the backup FILE."""
    from crm.backup import restore as run_restore

    summary = run_restore(load_settings(), file)
    click.echo(summary)


@main.command()
@click.option(
    "--remove-orphans",
    is_flag=True,
    help="Delete the orphans: blobs no record names (left by a killed upload) and leftover "
    "temporary files, when older than --min-age.",
)
@click.option(
    "--min-age",
    type=click.IntRange(min=0),
    default=60,
    show_default=True,
    metavar="MINUTES",
    help="Younger orphans are kept: they may belong to an upload still in progress.",
)
def check(remove_orphans: bool, min_age: int) -> None:
    """Verify every blob's SHA-256 against its name; list orphan blobs (no record names them)
    and missing ones (a record names them, the store lacks them). Exits 1 while a problem
    remains (orphans removed with --remove-orphans no longer count)."""
    import datetime as dt

    from crm.blob_check import check_blobs

    db = initialize(load_settings())
    try:
        report = check_blobs(
            db, remove_orphans=remove_orphans, min_age=dt.timedelta(minutes=min_age)
        )
    finally:
        db.dispose()
    for sha in report.damaged:
        click.echo(f"damaged: {sha} (its bytes do not match its name: restore it from a backup)")
    for sha, column in sorted(report.missing.items()):
        click.echo(f"missing: {sha} (named by {column}: restore it from a backup)")
    for path in report.orphans:
        done = "removed" if path in report.removed else "orphan"
        click.echo(f"{done}: {path} (no record names it)")
    for path in report.strays:
        click.echo(f"unknown file: {path} (not a blob; left alone)")
    click.echo(
        f"{report.checked} blobs checked: {len(report.damaged)} damaged, "
        f"{len(report.missing)} missing, {len(report.orphans)} orphans"
        + (f" ({len(report.removed)} removed)" if remove_orphans else "")
        + (f", {report.young} younger than {min_age} minutes kept" if report.young else "")
    )
    if report.problems_left:
        if report.orphans and not remove_orphans:
            click.echo("`dossier check --remove-orphans` deletes the orphans.", err=True)
        sys.exit(1)


@main.command("worker")
@click.argument("name")
def worker_command(name: str) -> None:
    """Run one worker (crm.workers) alone in the foreground, until Ctrl+C or SIGTERM."""
    from crm.workers import UnknownWorker, run_alone, run_in_foreground

    db = initialize(load_settings())
    try:
        supervisor = run_alone(db, name)
    except UnknownWorker as exc:
        db.dispose()
        raise click.UsageError(str(exc)) from exc
    try:
        click.echo(f"Worker {name} running (Ctrl+C stops it)")
        run_in_foreground(supervisor)
    finally:
        db.dispose()


def _age(delta: Any) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


@main.command("outbox")
def outbox_command() -> None:
    """Each outbox reader's lag: entries it has not acknowledged and the age of the oldest."""
    from crm import outbox

    db = initialize(load_settings())
    try:
        with db.session(write=False) as s:
            backlog = outbox.backlog(s)
    finally:
        db.dispose()
    if not backlog.readers:
        click.echo(f"No reader is registered; {backlog.kept} entries kept.")
        return
    width = max(len("reader"), *(len(r.name) for r in backlog.readers))
    click.echo(f"{'reader':<{width}}  {'unread':>8}  oldest unread")
    for reader in backlog.readers:
        oldest = _age(reader.oldest_age) if reader.oldest_age is not None else "-"
        click.echo(f"{reader.name:<{width}}  {reader.unread:>8}  {oldest}")
    click.echo(f"{backlog.kept} entries kept (pruned once every reader has passed them).")
