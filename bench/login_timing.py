"""Does the time a failed login takes tell whether the account exists? (issue 8, finding 6)

Builds a fresh SQLite data directory with one active user, one deactivated user and one user
without a password, then posts wrong passwords to the real login form for each of them and for
an address nobody has, and prints the median answer time of each. Before the fix an existing
account answered in ~45 ms and an unknown one in ~2.5 ms; now every case does one scrypt check.
Each attempt comes from a new client address, so the login throttle does not cut the run short.

Run: .venv/bin/python bench/login_timing.py [--requests R]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crm.bootstrap import initialize
from crm.services.users import create_user
from crm.settings import Settings
from web import create_app

PASSWORD = "bench-password"
CASES = {
    "existing account": "jana@bench.cz",
    "deactivated account": "petr@bench.cz",
    "account without a password": "eva@bench.cz",
    "unknown account": "nikdo@bench.cz",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=40, help="attempts per case")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp), secret_key="bench")
        db = initialize(settings)
        with db.session() as s:
            create_user(s, "jana@bench.cz", "Jana", "sales", ["Obchod"], PASSWORD)
            create_user(s, "petr@bench.cz", "Petr", "sales", ["Obchod"], PASSWORD).active = False
            create_user(s, "eva@bench.cz", "Eva", "sales", ["Obchod"])
        app = create_app(settings, db)
        client = app.test_client()
        with client.session_transaction() as sess:
            sess["csrf"] = "bench"
        times: dict[str, list[float]] = {case: [] for case in CASES}
        for i in range(args.requests):  # the cases take turns, so drift hits all alike
            for n, (case, email) in enumerate(CASES.items()):
                address = f"10.{n}.{i // 250}.{i % 250}"
                start = time.perf_counter()
                response = client.post(
                    "/login",
                    data={"email": email, "password": "wrong", "csrf_token": "bench"},
                    environ_base={"REMOTE_ADDR": address},
                )
                times[case].append((time.perf_counter() - start) * 1000)
                assert response.status_code == 401, response.status_code
        medians = {case: statistics.median(found) for case, found in times.items()}
        for case, median in medians.items():
            print(f"{case:28} median {median:7.1f} ms over {args.requests} attempts")
        low, high = min(medians.values()), max(medians.values())
        print(f"spread {high - low:.1f} ms ({(high / low - 1) * 100:.0f} % of the fastest)")
        db.dispose()


if __name__ == "__main__":
    main()
