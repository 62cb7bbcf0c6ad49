"""Mail ingest throughput: Dossier's whole path against ``notmuch new`` on the same mail.

Copies the mail (default: every file under ../shared/corpora/mail) into a temporary folder,
then, in the same run:
  - notmuch: ``notmuch new`` on that folder (Debian ``notmuch``), timed;
  - Dossier: a fresh data directory (SQLite), every message through ``Archive.ingest`` as
    ``dossier file`` does it: parse, dedupe, blobs written with fsync, attachments, filing
    rules, commit per batch; parsing in ``--workers`` processes, storing in this one.
Prints messages per second for both, the ratio, and peak RSS.

    .venv/bin/python bench/ingest.py [--mail DIR] [--workers 2] [--limit N]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from connector.filing import RuleFiler  # noqa: E402
from crm.blobs import BlobStore  # noqa: E402
from crm.bootstrap import initialize  # noqa: E402
from crm.services.users import create_user  # noqa: E402
from crm.settings import Settings  # noqa: E402
from mail_archive.ingest import Archive, Source  # noqa: E402
from mail_archive.parse import ParsedMessage, parse  # noqa: E402

BATCH = 500


def read_and_parse(path: str) -> tuple[str, bytes, ParsedMessage]:
    raw = Path(path).read_bytes()
    return path, raw, parse(raw)


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


def run_dossier(files: list[Path], work: Path, workers: int) -> tuple[float, Counter[str]]:
    home = work / "dossier"
    db = initialize(Settings(home=home, secret_key="bench"))
    with db.session() as s:
        user_id = create_user(s, "bench@firma.cz", "Bench", "admin", ["Bench"]).id
    blobs = BlobStore(db.settings.blob_dir)
    filer = RuleFiler()
    counts: Counter[str] = Counter()
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        parsed = pool.map(read_and_parse, [str(f) for f in files], chunksize=64)
        batch: list[tuple[str, bytes, ParsedMessage]] = []

        def flush() -> None:
            with db.session() as s:
                archive = Archive(s, blobs, filer)
                for path, raw, message in batch:
                    source = Source(kind="file", key=f"file:{path}", user_id=user_id, explicit=True)
                    counts[archive.ingest(raw, source, parsed=message).status] += 1
            batch.clear()

        for item in parsed:
            batch.append(item)
            if len(batch) >= BATCH:
                flush()
        if batch:
            flush()
    elapsed = time.perf_counter() - start
    db.dispose()
    return elapsed, counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mail", type=Path, default=REPO.parent / "shared" / "corpora" / "mail")
    ap.add_argument("--workers", type=int, default=2, help="parsing processes (2 cores here)")
    ap.add_argument("--limit", type=int, default=0, help="only the first N messages")
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
        notmuch = run_notmuch(mail, work)
        if notmuch is not None:
            print(f"notmuch new: {notmuch:.1f} s, {n / notmuch:.0f} messages/s")
        elapsed, counts = run_dossier(files, work, args.workers)
        rate = n / elapsed
        print(
            f"Dossier ingest ({args.workers} parsing processes): {elapsed:.1f} s, "
            f"{rate:.0f} messages/s ({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))})"
        )
        if notmuch is not None:
            print(f"ratio Dossier/notmuch: {rate / (n / notmuch):.2f} (target: at least 1.00)")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"peak RSS: {peak:.0f} MB (this process), {children:.0f} MB (largest child)")


if __name__ == "__main__":
    main()
