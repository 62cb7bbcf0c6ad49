"""``dossier serve`` and ``dossier demo``: the web server (waitress) and the demo set-up.

They live in web because they start the web app; crm finds them through the
``dossier.commands`` entry points (crm imports no other Dossier package).
"""

from __future__ import annotations

from typing import Any

import click

from crm.bootstrap import initialize
from crm.cli import load_settings
from crm.db import Database


def served_app(db: Database) -> Any:
    """The web app with every mount (crm.workers) under its prefix. Mounted apps sit outside
    Flask, so outside its CSRF check and sessions: they authenticate requests themselves."""
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    from crm.workers import mounts
    from web import create_app

    app = create_app(db.settings, db)
    return DispatcherMiddleware(app, dict(mounts(db, db.settings)))


def run_server(db: Database, host: str, port: int) -> None:
    """The web app with the mounts (crm.workers) beside it, and every worker; Ctrl+C or
    SIGTERM stops the server and then the workers, each between two units of work."""
    import waitress

    from crm.workers import Supervisor, run_in_foreground

    server = waitress.create_server(
        served_app(db), host=host, port=port, threads=8, ident="Dossier"
    )
    click.echo(f"Dossier is serving on http://{host}:{port}/  (Ctrl+C stops it)")
    try:
        run_in_foreground(Supervisor(db), server.run)
    finally:
        server.close()


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
def serve(host: str, port: int) -> None:
    """Serve the web UI and /api/v1."""
    run_server(initialize(load_settings()), host, port)


def start_demo_mail(db: Database, port: int = 0) -> Any:
    """The demo's mail server (connector.demo) on loopback, and a demo mail account of every
    demo user sending through it; returns the running server."""
    from connector.demo import DemoMailServer, MailStore, ensure_demo_accounts
    from crm.demo import DEMO_PASSWORD, DEMO_USERS

    emails = [email for email, _name, _role, _groups in DEMO_USERS]
    store = MailStore.of(db.settings)
    server = DemoMailServer(store, dict.fromkeys(emails, DEMO_PASSWORD), port=port)
    ensure_demo_accounts(db, emails, DEMO_PASSWORD, server.port)
    return server.start()


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--mail-port",
    default=0,
    type=click.IntRange(0, 65535),
    help="Port of the demo's SMTP server on 127.0.0.1 (default: a free one).",
)
def demo(host: str, port: int, mail_port: int) -> None:
    """Create the data directory, load the demo data set (once) and serve it, with a mail
    server of its own for writing and replying."""
    from crm.demo import DEMO_PASSWORD, DEMO_USERS, demo_summary, load_demo
    from mail_archive.demo import load_demo_mail, message_count

    db = initialize(load_settings())
    if load_demo(db) is None:
        click.echo(f"{db.settings.home} already holds partners: not loading the demo again.")
    else:
        load_demo_mail(db)  # the demo's mail, filed by the rules like real mail
    counts = demo_summary(db)
    click.echo(
        f"Demo data in {db.settings.home}: {counts['partners']} partners, "
        f"{counts['persons']} persons, {counts['deals']} deals, "
        f"{counts['activities']} activities, {message_count(db)} messages."
    )
    click.echo(f"Demo logins (password for all: {DEMO_PASSWORD}):")
    for email, _name, role, groups in DEMO_USERS:
        click.echo(f"  {email:26} {role:8} {', '.join(groups)}")
    mail = start_demo_mail(db, mail_port)
    click.echo(
        f"Demo mail server on 127.0.0.1:{mail.port}: what you send from Write or Reply is "
        f"delivered there (mailboxes in {mail.store.root}) and filed."
    )
    try:
        run_server(db, host, port)
    finally:
        mail.stop()
