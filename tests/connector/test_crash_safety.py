"""Crash safety: ``dossier sync`` killed with SIGKILL at random moments during a 2,000-message
sync, then run again until it finishes: every expected message is archived exactly once, with
every link, and nothing private slipped in."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from connector.accounts import AccountInput, add_account
from crm.db import Database
from crm.settings import Settings
from mail_archive.models import Message, MessageLink
from tests.conftest import REPO, World
from tests.mail_archive.conftest import Dossier
from tests.mailfactory import make_mail
from tests.servers.dovecot import Dovecot, quote
from tests.servers.fixtures import ImapUser

TOTAL = 2000
MAX_KILLS = 12


def fill_mailbox(dovecot: Dovecot, user: ImapUser) -> tuple[set[str], set[str]]:
    """2,000 messages in INBOX, Sent and CRM: (Message-IDs expected, private Message-IDs)."""
    rng = random.Random(7)
    expected, private = set(), set()
    with dovecot.connect(user.name, user.password) as conn:
        for folder in ("CRM",):
            conn.create(quote(folder))
        for i in range(TOTAL):
            mid = f"crash-{i}@test"
            kind = rng.random()
            if kind < 0.6:  # from the partner's person: files by address
                raw, folder = make_mail(message_id=mid, subject=f"Nabídka {i}"), "INBOX"
                expected.add(mid)
            elif kind < 0.75:  # sent to the partner's domain
                raw = make_mail(
                    message_id=mid,
                    sender=("Jana", "jana@firma.cz"),
                    to=[("Sklad", f"sklad{i}@stavby-pribram.cz")],
                )
                folder = "Sent"
                expected.add(mid)
            elif kind < 0.9:  # private: never archived
                raw, folder = make_mail(message_id=mid, sender=("Máma", "mama@seznam.cz")), "INBOX"
                private.add(mid)
            else:  # dragged into CRM: waits in triage
                raw = make_mail(message_id=mid, sender=("Nový", f"n{i}@novy-zakaznik.cz"))
                folder = "CRM"
                expected.add(mid)
            conn.append(quote(folder), None, None, raw)
    return expected, private


def stored_count(database: Database) -> int:
    with database.session(write=False) as s:
        return int(s.scalar(select(func.count()).select_from(Message)) or 0)


def run_sync(settings: Settings) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DOSSIER_HOME": str(settings.home),
        "DATABASE_URL": settings.database_url,
        "PYTHONPATH": str(REPO),
    }
    return subprocess.Popen(
        [sys.executable, "-c", "from crm.cli import main; main()", "sync"],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def test_sigkill_during_a_2000_message_sync_loses_and_doubles_nothing(
    database: Database,
    settings: Settings,
    world: World,
    dossier: Dossier,
    dovecot: Dovecot,
    imap_user: ImapUser,
) -> None:
    expected, private = fill_mailbox(dovecot, imap_user)
    with database.session() as s:
        add_account(
            s,
            settings,
            AccountInput(
                name="crash",
                host=imap_user.host,
                port=imap_user.port,
                security="none",
                username=imap_user.name,
                user_email=world.sales_a.email,
                password=imap_user.password,
            ),
        )
    rng = random.Random(11)
    kills = 0
    while kills < MAX_KILLS:
        before = stored_count(database)
        process = run_sync(settings)
        # kill only once this run has stored something (not while the interpreter starts),
        # at a random moment after that: mid-batch, mid-commit, between folders
        deadline = time.monotonic() + 60
        while stored_count(database) == before and process.poll() is None:
            assert time.monotonic() < deadline, "the sync stored nothing within a minute"
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 0.4))
        if process.poll() is not None:
            process.communicate()
            break
        os.kill(process.pid, signal.SIGKILL)
        process.communicate()
        if stored_count(database) < len(expected):
            kills += 1  # killed with mail still to store (not in the last moments of the run)
        else:
            break
    final = run_sync(settings)
    output = final.communicate(timeout=600)[0].decode()
    assert final.returncode == 0, output
    assert kills >= 3, "the sync finished before it could be killed often enough"

    with database.session() as s:
        stored = list(s.scalars(select(Message.internet_id)))
        assert len(stored) == len(set(stored)), "a message was stored twice"
        assert set(stored) == expected
        assert not private & set(stored)
        linked_by_rule = s.scalar(
            select(func.count(func.distinct(MessageLink.message_id))).where(
                MessageLink.partner_id == dossier.partner_id
            )
        )
        triaged = s.scalar(
            select(func.count()).select_from(Message).where(Message.status == "triage")
        )
    assert linked_by_rule + triaged == len(expected)
    assert Path(settings.home, "blobs").is_dir()
