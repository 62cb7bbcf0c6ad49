"""The ``dossier`` command (DESIGN.md, "Interfaces we promise").

Commands from packages that crm may not import (``serve``, ``demo`` in web) are found through
the ``dossier.commands`` entry point group, so crm stays the bottom layer.
"""

from __future__ import annotations

import os
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import click

from crm.bootstrap import initialize
from crm.db import Database
from crm.errors import DossierError
from crm.models import ROLES
from crm.settings import Settings


def load_settings(home: str | None = None) -> Settings:
    return Settings.from_env(home=home)


def password_from_env(var: str | None) -> str | None:
    if var is None:
        return None
    value = os.environ.get(var)
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


@main.command()
@click.option("--admin-email", help="Create this admin user if missing.")
@click.option("--admin-password-env", metavar="VAR", help="Environment variable with the password.")
def init(admin_email: str | None, admin_password_env: str | None) -> None:
    """Create the data directory, database and index (idempotent)."""
    settings = load_settings()
    password = password_from_env(admin_password_env)
    initialize(settings, admin_email, password).dispose()
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
