"""Mail ingest throughput: ``dossier file`` against ``notmuch new`` on the same mail.

Copies the mail (default: every file under ../shared/corpora/mail) into a temporary folder,
then, in the same run:
  - notmuch: ``notmuch new`` on that folder (Debian ``notmuch``), timed;
  - Dossier: a fresh data directory (SQLite) whose directory knows the mail's most frequent
    correspondents (partners with their mail domains, persons with their addresses, as a sales
    team's CRM would), then ``connector.intake.file_paths``, the function behind
    ``dossier file``: parse (in ``--workers`` processes), dedupe, blobs (durable before each
    commit), attachments, filing rules, a commit per batch.
Prints messages per second for both, the ratio, what the filing rules did, and peak RSS.
``--against REV`` also runs REV's own bench/ingest.py (a temporary git worktree) on the same
mail right after, and prints this tree's speed against REV's: what a change costs ingest.

    .venv/bin/python bench/ingest.py [--mail DIR] [--workers 2] [--limit N] [--against REV]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from email import policy
from email.parser import BytesParser
from email.utils import getaddresses
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sqlalchemy import func, select  # noqa: E402

from connector.intake import FileReport, file_paths  # noqa: E402
from crm.bootstrap import initialize  # noqa: E402
from crm.db import Database  # noqa: E402
from crm.errors import ValidationError  # noqa: E402
from crm.services.maildomains import public_mail_domains  # noqa: E402
from crm.services.partners import partners  # noqa: E402
from crm.services.persons import persons  # noqa: E402
from crm.services.users import create_user  # noqa: E402
from crm.settings import Settings  # noqa: E402
from mail_archive.models import MessageLink  # noqa: E402

PARTNERS = 150  # the most frequent correspondent domains become partners
PERSONS = 300  # the most frequent correspondent addresses on them become persons


def run_notmuch(mail: Path, work: Path) -> float | None:
    if shutil.which("notmuch") is None:
        print("notmuch: not installed (Debian package notmuch); no ratio")
        return None
    config = work / "notmuch-config"
    config.write_text(
        f"[database]\npath={mail}\n[user]\nname=Bench\nprimary_email=bench@example.com\n"
        "[new]\ntags=new\n[maildir]\nsynchronize_flags=false\n"
    )
    env = {**os.environ, "NOTMUCH_CONFIG": str(config)}
    start = time.perf_counter()
    subprocess.run(["notmuch", "new", "--quiet"], env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def correspondents(files: list[Path]) -> Counter[str]:
    """Sender addresses by frequency (read before the clock starts)."""
    parser = BytesParser(policy=policy.compat32)
    counts: Counter[str] = Counter()
    for f in files:
        with f.open("rb") as fh:
            headers = parser.parse(fh, headersonly=True)
        for _, addr in getaddresses([str(v) for v in headers.get_all("from") or []]):
            if "@" in addr:
                counts[addr.lower()] += 1
    return counts


def make_directory(db: Database, senders: Counter[str]) -> str:
    """A user, and partners and persons for the mail's most frequent correspondents."""
    with db.session() as s:
        user = create_user(s, "bench@firma.cz", "Bench", "admin", ["Bench"])
        public = public_mail_domains(s)
        by_domain: Counter[str] = Counter()
        for addr, n in senders.items():
            domain = addr.rpartition("@")[2]
            if domain not in public and "." in domain:
                by_domain[domain] += n
        partner_of: dict[str, int] = {}
        for domain, _ in by_domain.most_common(PARTNERS):
            try:
                partner = partners.create(s, user, {"name": domain, "domains": domain})
            except ValidationError:  # a domain our validation refuses: leave it out
                continue
            partner_of[domain] = partner.id
        made = 0
        for addr, _ in senders.most_common():
            partner_id = partner_of.get(addr.rpartition("@")[2])
            if partner_id is None:
                continue
            persons.create(
                s, user, {"partner_id": partner_id, "name": addr.partition("@")[0], "emails": addr}
            )
            made += 1
            if made == PERSONS:
                break
        print(f"directory: {len(partner_of)} partners (mail domains), {made} persons")
        return user.email


def run_dossier(
    mail: Path, work: Path, workers: int, senders: Counter[str]
) -> tuple[float, FileReport, Counter[str]]:
    db = initialize(Settings(home=work / "dossier", secret_key="bench"))
    email = make_directory(db, senders)
    start = time.perf_counter()
    report = file_paths(db, email, [mail], workers=workers, batch=500)
    elapsed = time.perf_counter() - start
    with db.session() as s:
        hows = Counter(
            dict(
                s.execute(
                    select(
                        MessageLink.how, func.count(func.distinct(MessageLink.message_id))
                    ).group_by(MessageLink.how)
                ).all()
            )
        )
    db.dispose()
    return elapsed, report, hows


def run_revision(rev: str, mail: Path, workers: int, limit: int, work: Path) -> float | None:
    """Messages per second of ``rev``'s own bench/ingest.py on ``mail`` (None: it failed)."""
    tree = work / "against"
    subprocess.run(
        ["git", "-C", str(REPO), "worktree", "add", "--detach", "--quiet", str(tree), rev],
        check=True,
    )
    try:
        env = {**os.environ, "PYTHONPATH": str(tree)}
        args = [str(tree / "bench" / "ingest.py"), "--mail", str(mail), "--workers", str(workers)]
        args += ["--limit", str(limit)]
        done = subprocess.run(
            [sys.executable, *args],
            capture_output=True,
            text=True,
            env=env,
        )
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)])
    found = re.search(r"^Dossier .*?: [0-9.]+ s, ([0-9]+) messages/s", done.stdout, re.M)
    if done.returncode != 0 or found is None:
        print(f"{rev}'s bench failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
        return None
    for line in done.stdout.splitlines():
        if line.startswith(("notmuch new", "Dossier")):
            print(f"  {rev}: {line}")
    return float(found.group(1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mail", type=Path, default=REPO.parent / "shared" / "corpora" / "mail")
    ap.add_argument("--workers", type=int, default=2, help="parsing processes (2 cores here)")
    ap.add_argument("--limit", type=int, default=0, help="only the first N messages")
    ap.add_argument("--against", metavar="REV", help="also run REV's bench on the same mail")
    args = ap.parse_args()
    if not args.mail.is_dir():
        sys.exit(f"no mail folder at {args.mail}")
    with tempfile.TemporaryDirectory(prefix="dossier-bench-") as tmp:
        work = Path(tmp)
        mail = work / "mail"
        shutil.copytree(args.mail, mail)
        files = sorted(p for p in mail.rglob("*") if p.is_file())
        if args.limit:
            for extra in files[args.limit :]:
                extra.unlink()
            files = files[: args.limit]
        n = len(files)
        print(f"{n} messages, {sum(f.stat().st_size for f in files) / 2**20:.0f} MB")
        senders = correspondents(files)
        notmuch = run_notmuch(mail, work)
        if notmuch is not None:
            print(f"notmuch new: {notmuch:.1f} s, {n / notmuch:.0f} messages/s")
        elapsed, report, hows = run_dossier(mail, work, args.workers, senders)
        rate = n / elapsed
        counts = ", ".join(f"{k} {v}" for k, v in sorted(report.counts.items()))
        print(
            f"Dossier (dossier file, {args.workers} parsing processes): {elapsed:.1f} s, "
            f"{rate:.0f} messages/s ({counts})"
        )
        print("filed by rule: " + ", ".join(f"{k} {v}" for k, v in sorted(hows.items())))
        if notmuch is not None:
            print(f"ratio Dossier/notmuch: {rate / (n / notmuch):.2f} (target: at least 1.30)")
        if args.against:
            other = run_revision(args.against, args.mail, args.workers, args.limit, work)
            if other is not None:
                print(
                    f"this tree against {args.against}: {rate:.0f} / {other:.0f} messages/s = "
                    f"{rate / other:.2f} (target: at least 0.90)"
                )
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"peak RSS: {peak:.0f} MB (this process), {children:.0f} MB (largest child)")


if __name__ == "__main__":
    main()
