"""README.md's two commands do what it says, run the way it says, in a fresh copy."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.conftest import REPO
from tests.servers.postgres import free_port

README = (REPO / "README.md").read_text(encoding="utf-8")


def readme_commands() -> list[str]:
    block = re.search(r"```sh\n(.*?)```", README, re.S)
    assert block, "README.md starts with a ```sh block of commands"
    return [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_readme_begins_with_make_demo_and_make_test() -> None:
    assert readme_commands()[:2] == ["make demo", "make test"]
    assert README.index("make demo") < 400  # the first thing a reader sees


@pytest.mark.parametrize("target", ["demo", "test"])
def test_the_makefile_has_the_targets(target: str) -> None:
    dry = subprocess.run(["make", "-n", target], cwd=REPO, capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr
    assert {"demo": "dossier demo", "test": "pytest"}[target] in dry.stdout


def test_ci_runs_make_test_with_everything_required() -> None:
    ci = (REPO / ".ci" / "run").read_text()
    assert "DOSSIER_REQUIRE_ALL=1 make test" in ci


def tracked_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return [f for f in listed if (REPO / f).is_file()]


@pytest.mark.slow
def test_make_demo_on_a_fresh_copy_serves_the_demo(tmp_path: Path) -> None:
    """`make demo` as a new user runs it: a copy of the repo, its own venv and data."""
    copy = tmp_path / "dossier"
    for name in tracked_files():
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, copy / name)
    port = free_port()
    log = (tmp_path / "demo.log").open("w+")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOSSIER_", "DATABASE_"))}
    proc = subprocess.Popen(
        ["make", "demo", f"PORT={port}"],
        cwd=copy,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 600
        while True:
            assert proc.poll() is None, (tmp_path / "demo.log").read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "make demo did not serve within 10 minutes"
            time.sleep(1)
        printed = (tmp_path / "demo.log").read_text()
        assert "jana@demo.dossier.cz" in printed and "demo1234" in printed
        assert (copy / "data" / "dossier.db").exists()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        login_page = opener.open(f"{base}/login").read().decode()
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', login_page)
        assert csrf
        body = urlencode(
            {"email": "jana@demo.dossier.cz", "password": "demo1234", "csrf_token": csrf.group(1)}
        ).encode()
        partners = opener.open(f"{base}/login", data=body).read().decode()
        assert "Stavby Příbram s.r.o." in partners
        assert re.search(r"activities, [1-9]\d* messages\.", printed)  # the demo has mail
        mail = opener.open(f"{base}/mail/").read().decode()
        assert re.search(r'<td><a href="/partners/\d+">[^<]+</a>', mail)  # filed to a partner
        assert "/mail/triage" in mail
        assert re.search(r'class="badge count"[^>]*>[1-9]', mail)  # Jana has mail to file
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
        log.close()
