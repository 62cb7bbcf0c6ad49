"""The issue's case in headless Chromium, two people in two browsers (issue 9 §6)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask

from crm.db import Database
from crm.services.partners import partners
from tests.conftest import World, require_or_skip
from tests.web.browser import CHROMIUM, FLAGS, chromium_missing, keep_screenshot, live_server
from tests.web.conftest import log_in

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@contextmanager
def two_browsers() -> Iterator[tuple[Any, Any]]:
    """Two pages with their own profiles (cookies): two people, one Playwright."""
    from playwright.sync_api import sync_playwright

    profiles = [tempfile.mkdtemp(prefix="dossier-chromium-") for _ in range(2)]
    try:
        with sync_playwright() as pw:
            contexts = [
                pw.chromium.launch_persistent_context(
                    profile,
                    executable_path=CHROMIUM,
                    args=FLAGS,
                    headless=True,
                    locale="en-US",
                    viewport={"width": 1366, "height": 900},
                )
                for profile in profiles
            ]
            try:
                yield contexts[0].new_page(), contexts[1].new_page()
            finally:
                for context in contexts:
                    context.close()
    finally:
        for profile in profiles:
            shutil.rmtree(profile, ignore_errors=True)


def test_a_stale_save_in_the_browser_keeps_the_note_and_shows_the_managers_values(
    app: Flask, database: Database, world: World
) -> None:
    missing = chromium_missing()
    if missing:
        require_or_skip(missing)
    with database.session() as s:
        partner_id = partners.create(
            s, world.sales_a, {"name": "Pila Hůrka s.r.o.", "city": "Písek"}
        ).id
    with live_server(app) as url, two_browsers() as (sales, manager):
        edit = f"{url}/partners/{partner_id}/edit"
        log_in(sales, url, world.sales_a.email)
        sales.goto(edit)  # the salesperson opens the form first ...
        log_in(manager, url, world.manager_a.email)
        manager.goto(edit)  # ... the manager changes phone and city and saves
        manager.fill("#f-phones", "+420 777 111 222")
        manager.fill("#f-city", "Tábor")
        with manager.expect_navigation():
            manager.click("form.recordform button[type=submit]")

        sales.fill("#f-note", "Volat ráno, ne v pátek.")
        with sales.expect_navigation():
            sales.click("form.recordform button[type=submit]")
        notice = sales.locator("#stale-notice")
        assert "Marek Manažer changed this record at" in notice.inner_text()
        assert sales.input_value("#f-note") == "Volat ráno, ne v pátek."
        assert sales.locator("#f-city-theirs .theirs-value").inner_text() == "Tábor"
        assert sales.locator("#f-phones-theirs .theirs-value").inner_text() == "+420 777 111 222"
        keep_screenshot(sales, "versions-refused")

        # The salesperson takes the manager's values and saves again: a deliberate overwrite.
        sales.fill("#f-city", "Tábor")
        sales.fill("#f-phones", "+420 777 111 222")
        sales.focus("#f-name")
        with sales.expect_navigation():
            sales.keyboard.press("Enter")
        assert sales.url == f"{url}/partners/{partner_id}"
    with database.session() as s:
        stored = partners.get(s, world.admin, partner_id)
        assert (stored.note, stored.city, stored.phones) == (
            "Volat ráno, ne v pátek.",
            "Tábor",
            ["+420 777 111 222"],
        )
