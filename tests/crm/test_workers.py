"""Workers (crm.workers): a crashing worker is restarted with a growing back-off and its error
is recorded where the System page reads it; a stop waits for the unit of work in progress;
leases let one taker at a time; requests reach one worker; ``dossier worker`` names the known
workers when given an unknown one."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner

from crm import workers
from crm.cli import main
from crm.db import Database
from crm.leases import lease
from crm.settings import Settings


def eventually(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


class Flaky:
    """Crashes on its first ``crashes`` runs, then does units until stopped."""

    def __init__(self, crashes: int) -> None:
        self.crashes = crashes
        self.starts: list[float] = []
        self.units = 0

    def run(self, stop: threading.Event) -> None:
        self.starts.append(time.monotonic())
        if len(self.starts) <= self.crashes:
            raise RuntimeError(f"crash number {len(self.starts)}")
        while not stop.is_set():
            self.units += 1
            workers.unit_done()
            stop.wait(0.01)


def test_a_crashing_worker_is_restarted_with_back_off_and_its_error_shown(
    database: Database,
) -> None:
    flaky = Flaky(crashes=3)
    supervisor = workers.Supervisor(
        database, {"flaky": lambda db, settings: flaky}, first_backoff=0.2, heartbeat_seconds=0.2
    )
    supervisor.start()
    try:
        eventually(lambda: flaky.units > 0, "the worker runs after its crashes")
        gaps = [b - a for a, b in zip(flaky.starts, flaky.starts[1:], strict=False)]
        assert len(gaps) == 3
        assert gaps[0] >= 0.2 and gaps[1] >= 0.4 and gaps[2] >= 0.8  # doubling
        record = supervisor.records["flaky"]
        assert record.state == workers.RUNNING and record.restarts == 3

        def shown() -> list[workers.WorkerView]:
            with database.session(write=False) as s:
                return workers.worker_states(s)

        eventually(lambda: any(v.last_run_at for v in shown()), "last run recorded")
        (view,) = shown()
        assert view.name == "flaky" and view.state == workers.RUNNING and view.responding
        assert view.last_error == "RuntimeError: crash number 3" and view.last_error_at
    finally:
        assert supervisor.stop(timeout=5)
    with database.session(write=False) as s:
        assert workers.worker_states(s) == []  # a clean stop leaves no row behind


def test_the_back_off_stops_growing_at_its_maximum(database: Database) -> None:
    flaky = Flaky(crashes=6)
    supervisor = workers.Supervisor(
        database, {"flaky": lambda db, settings: flaky}, first_backoff=0.05, max_backoff=0.1
    )
    supervisor.start()
    try:
        eventually(lambda: flaky.units > 0, "the worker runs after its crashes")
    finally:
        supervisor.stop(timeout=5)
    gaps = [b - a for a, b in zip(flaky.starts, flaky.starts[1:], strict=False)]
    assert max(gaps) < 0.5


class Careful:
    """A unit of work takes a while; a stop waits for it to end."""

    def __init__(self) -> None:
        self.began = threading.Event()
        self.units_begun = 0
        self.units_done = 0

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.units_begun += 1
            self.began.set()
            time.sleep(0.5)
            self.units_done += 1


def test_stop_lets_the_unit_in_progress_finish(database: Database) -> None:
    careful = Careful()
    supervisor = workers.Supervisor(database, {"careful": lambda db, settings: careful})
    supervisor.start()
    assert careful.began.wait(5)
    assert supervisor.stop(timeout=5)
    assert careful.units_begun == careful.units_done >= 1


def test_a_worker_turned_off_by_the_settings_is_not_started(database: Database) -> None:
    supervisor = workers.Supervisor(database, {"off": lambda db, settings: None})
    assert supervisor.start() == []
    assert supervisor.stop(timeout=5)


def test_workers_registered_in_process_join_the_entry_points(database: Database) -> None:
    assert {"mail-sync", "imap-idle", "outbox"} <= set(workers.worker_factories())
    workers.register_worker("test-extra", lambda db, settings: Flaky(0))
    try:
        assert "test-extra" in workers.worker_factories()
    finally:
        workers.unregister_worker("test-extra")
    assert "test-extra" not in workers.worker_factories()


def test_dossier_worker_with_an_unknown_name_lists_the_workers(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    monkeypatch.setenv("DOSSIER_HOME", str(settings.home))
    if settings.database_url:
        monkeypatch.setenv("DATABASE_URL", settings.database_url)
    result = CliRunner().invoke(main, ["worker", "mail-snyc"])
    assert result.exit_code == 2
    assert "no worker named 'mail-snyc'" in result.output
    assert "imap-idle, mail-sync, outbox" in result.output


def test_a_lease_has_one_holder_at_a_time(database: Database) -> None:
    with lease(database, "mail-account:1") as first:
        assert first
        with lease(database, "mail-account:1") as second:
            assert not second
        taken_elsewhere: list[bool] = []

        def other_thread() -> None:
            with lease(database, "mail-account:1") as held:
                taken_elsewhere.append(held)

        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
        assert taken_elsewhere == [False]
        with lease(database, "mail-account:2") as other_key:
            assert other_key
    with lease(database, "mail-account:1") as again:
        assert again


def test_a_request_reaches_one_taker(database: Database) -> None:
    with database.session() as s:
        workers.request_work(s, "mail-sync", "7")
        workers.request_work(s, "mail-sync", "7")
        workers.request_work(s, "other", "1")
    assert workers.take_requests(database, "mail-sync") == ["7"]
    assert workers.take_requests(database, "mail-sync") == []
    assert workers.take_requests(database, "other") == ["1"]


def test_a_mount_is_served_under_its_prefix_outside_the_csrf_check(database: Database) -> None:
    from werkzeug.test import Client

    from web.commands import served_app

    def dav(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("207 Multi-Status", [("Content-Type", "text/plain")])
        return [f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}".encode()]

    workers.register_mount("test-dav", lambda db, settings: ("/dav", dav))
    try:
        client = Client(served_app(database))
        answer = client.post("/dav/calendars/jana/")  # no CSRF token, no session
        assert answer.status_code == 207
        assert answer.get_data(as_text=True) == "POST /calendars/jana/"
        assert client.post("/partners/").status_code == 400  # Flask's pages keep the check
    finally:
        workers.unregister_mount("test-dav")
