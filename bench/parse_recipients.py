"""Parsing a message with many recipients: ``mail_archive.parse.parse`` on a To of N addresses.

The standard library's address parser copies the rest of the header for every token it reads,
so its time grows with the square of the header's length (20,000 recipients took 4.8 s, 40,000
16 s, 100,000 over two minutes and a gigabyte). Dossier reads address headers in one linear pass
and keeps at most MAX_ADDRESSES_PER_HEADER of them (the rest stay in the raw bytes, noted as a
defect), so the time per recipient stays flat. Prints, for each size: seconds, microseconds per
recipient, addresses kept, peak memory of the parse; with ``--stdlib`` also the standard
library's own time for the same header (sizes up to ``--stdlib-max`` only: it is quadratic).

    .venv/bin/python bench/parse_recipients.py [--sizes 1000,10000,20000,40000,100000]
                                              [--stdlib] [--stdlib-max 20000]
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from email import policy
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mail_archive.parse import MAX_ADDRESSES_PER_HEADER, parse  # noqa: E402


def message(recipients: int) -> bytes:
    to = ",\r\n ".join(f'"Příjemce {i}" <prijemce{i}@odberatel.example>' for i in range(recipients))
    head = (
        "From: Jan Novák <jan.novak@stavby-pribram.cz>\r\n"
        f"To: {to}\r\n"
        "Subject: Oběžník\r\n"
        "Date: Mon, 2 Nov 2026 09:30:00 +0000\r\n"
        "Message-ID: <obeznik@stavby-pribram.cz>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
    )
    return head.encode() + "Dobrý den všem.\r\n".encode()


def timed_parse(raw: bytes) -> tuple[float, int, int]:
    """Seconds and addresses kept of one parse, and the peak memory of a second one (memory
    tracing slows the parse down several times over, so it is not timed)."""
    started = time.perf_counter()
    parsed = parse(raw)
    elapsed = time.perf_counter() - started
    tracemalloc.start()
    parse(raw)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return elapsed, len(parsed.to), peak


def stdlib_time(recipients: int) -> float:
    value = ", ".join(f'"Příjemce {i}" <prijemce{i}@odberatel.example>' for i in range(recipients))
    started = time.perf_counter()
    policy.default.header_factory("to", value).addresses  # noqa: B018
    return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000,10000,20000,40000,100000")
    ap.add_argument("--stdlib", action="store_true", help="time the standard library too")
    ap.add_argument("--stdlib-max", type=int, default=20000)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    print(f"addresses kept per header: {MAX_ADDRESSES_PER_HEADER}")
    print(
        f"{'recipients':>10} {'seconds':>8} {'µs/recipient':>13} {'kept':>6} {'peak MB':>8}", end=""
    )
    print(f" {'stdlib s':>9}" if args.stdlib else "")
    for n in sizes:
        seconds, kept, peak = timed_parse(message(n))
        line = f"{n:>10} {seconds:>8.3f} {seconds / n * 1e6:>13.1f} {kept:>6} {peak / 2**20:>8.1f}"
        if args.stdlib:
            line += f" {stdlib_time(n):>9.2f}" if n <= args.stdlib_max else f" {'-':>9}"
        print(line)


if __name__ == "__main__":
    main()
