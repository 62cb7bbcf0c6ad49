"""One settings schema: every option declared once, read typed, refused by name when bad."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from crm.db import Database
from crm.services.partners import partners
from crm.settings import KINDS, Settings, markdown_table, schema
from tests.conftest import REPO, World, login

DOSSIER = Path(sys.executable).parent / "dossier"
PACKAGES = ("crm", "web", "connector", "mail_archive", "doc_library", "calendar_bridge", "search")


def run_dossier(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The installed command, as a user runs it, with only the given Dossier variables set."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DOSSIER_", "DATABASE_"))}
    return subprocess.run(
        [str(DOSSIER), *args], env={**clean, **env}, capture_output=True, text=True, timeout=60
    )


def test_every_option_is_declared_once_with_type_help_and_a_valid_default() -> None:
    options = schema()
    assert {"home", "database_url", "secret_key"} <= set(options)  # crm's own
    assert {"mail_hosts", "mail_timeout", "sync_minutes", "imap_idle"} <= set(options)
    assert {"https", "trusted_proxies", "page_size"} <= set(options)
    for name, option in options.items():
        assert option.name == name and option.env.isupper() and option.kind in KINDS
        assert option.help.strip(), f"{name} has no help text"
        option.parse(option.default)  # the default is a valid value
    assert options["secret_key"].secret


def test_options_are_read_typed_from_the_environment() -> None:
    found = Settings.from_env(
        {"DOSSIER_SYNC_MINUTES": "0.5", "DOSSIER_IMAP_IDLE": "off", "DOSSIER_PAGE_SIZE": "20"}
    )
    assert (found.option("sync_minutes"), found.option("imap_idle")) == (0.5, False)
    assert found.page_size == found.option("page_size") == 20
    defaults = Settings.from_env({})
    assert (defaults.option("sync_minutes"), defaults.option("imap_idle")) == (5, True)
    assert (defaults.mail_timeout, defaults.page_size) == (10, 50)
    # A Settings made in code (tests, benchmarks) answers every option too.
    assert Settings(home=Path("/tmp/x")).option("imap_idle") is True


def test_attribute_defaults_match_the_declarations() -> None:
    made = Settings(home=Path("/tmp/x"))
    read = Settings.from_env({"DOSSIER_HOME": "/tmp/x"})
    assert [e.value for e in made.effective()] == [e.value for e in read.effective()]


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DOSSIER_MAIL_TIMEOUT", "ten", "DOSSIER_MAIL_TIMEOUT must be a whole number, not 'ten'"),
        ("DOSSIER_MAIL_TIMEOUT", "0", "DOSSIER_MAIL_TIMEOUT must be at least 1"),
        ("DOSSIER_PAGE_SIZE", "-5", "DOSSIER_PAGE_SIZE must be a whole number"),
        ("DOSSIER_SYNC_MINUTES", "often", "DOSSIER_SYNC_MINUTES must be a number"),
        ("DOSSIER_IMAP_IDLE", "maybe", "DOSSIER_IMAP_IDLE must be on or off"),
        ("DOSSIER_HTTPS", "yes", "DOSSIER_HTTPS must be one of auto, on, off"),
    ],
)
def test_a_bad_value_is_refused_with_the_variable_name(
    variable: str, value: str, message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        Settings.from_env({variable: value})


def test_dossier_config_prints_effective_values_and_masks_secrets(tmp_path: Path) -> None:
    done = run_dossier(
        "config",
        DOSSIER_HOME=str(tmp_path),
        DATABASE_URL="postgresql+psycopg://jana:tajne-heslo@db.firma.cz:5432/dossier",
        DOSSIER_SECRET_KEY="podpisovy-klic",
        DOSSIER_SYNC_MINUTES="15",
    )
    assert done.returncode == 0, done.stderr
    lines = {line.split()[0]: line for line in done.stdout.splitlines()}
    assert set(lines) == {option.env for option in schema().values()}
    assert str(tmp_path) in lines["DOSSIER_HOME"] and "[environment]" in lines["DOSSIER_HOME"]
    assert (
        "15" in lines["DOSSIER_SYNC_MINUTES"] and "[environment]" in lines["DOSSIER_SYNC_MINUTES"]
    )
    assert re.search(r"\s10\s+\[default\]$", lines["DOSSIER_MAIL_TIMEOUT"])
    assert "on" in lines["DOSSIER_IMAP_IDLE"] and "[default]" in lines["DOSSIER_IMAP_IDLE"]
    assert "tajne-heslo" not in done.stdout and "podpisovy-klic" not in done.stdout
    assert "jana:********@db.firma.cz:5432/dossier" in lines["DATABASE_URL"]


def test_every_command_refuses_a_bad_value_before_it_starts(tmp_path: Path) -> None:
    for command in (["config"], ["init"]):
        done = run_dossier(*command, DOSSIER_HOME=str(tmp_path), DOSSIER_MAIL_TIMEOUT="ten")
        assert done.returncode != 0
        assert "DOSSIER_MAIL_TIMEOUT must be a whole number, not 'ten'" in done.stderr
        assert "Traceback" not in done.stderr
    assert not (tmp_path / "dossier.db").exists()  # init did nothing


def test_readme_settings_table_is_generated_from_the_schema() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- settings:start -->\n(.*?)<!-- settings:end -->", readme, re.S)
    assert found, "README.md has the settings table between <!-- settings:start/end --> markers"
    table = "".join(
        line + "\n" for line in found.group(1).splitlines() if not line.startswith("<!--")
    )
    assert table == markdown_table(), (
        "README.md's settings table differs from the schema: replace the lines between the "
        "markers with the output of `dossier config --markdown`"
    )
    assert run_dossier("config", "--markdown").stdout == markdown_table()


def environ_reads(path: Path) -> list[int]:
    """Lines of ``path`` that read the process environment (os.environ, os.getenv, environ)."""
    names = {"environ", "environb", "getenv"}
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and node.attr in names:
            lines.append(node.lineno)
        if isinstance(node, ast.ImportFrom) and node.module == "os":
            lines.extend(node.lineno for alias in node.names if alias.name in names)
    return lines


def test_nothing_reads_the_environment_outside_the_schema() -> None:
    found = [
        f"{path.relative_to(REPO)}:{line}"
        for package in PACKAGES
        for path in sorted((REPO / package).rglob("*.py"))
        if path != REPO / "crm" / "settings.py"
        for line in environ_reads(path)
    ]
    assert not found, (
        "read settings through crm.settings (Settings.option, secret_from_env), not os.environ: "
        + ", ".join(found)
    )


def test_the_environment_walk_finds_a_planted_read(tmp_path: Path) -> None:
    planted = tmp_path / "planted.py"
    planted.write_text("import os\nfrom os import getenv\nX = os.environ.get('A')\n")
    assert sorted(environ_reads(planted)) == [2, 3]  # `from os import getenv` and os.environ


def test_page_size_sets_the_rows_of_web_lists(
    settings: Settings, database: Database, world: World
) -> None:
    import dataclasses

    from web import create_app

    with database.session() as s:
        for name in ("Agro Žatec", "Beton Brno", "Cihelna Cheb"):
            partners.create(s, world.sales_a, {"name": name})
    app = create_app(dataclasses.replace(settings, page_size=2), database)
    app.config["TESTING"] = True
    client: FlaskClient = app.test_client()
    login(client, world.sales_a)
    rows = re.compile(r'<td><a href="/partners/\d+">([^<]+)</a>')
    first = rows.findall(client.get("/partners/?sort=name").get_data(as_text=True))
    second = rows.findall(client.get("/partners/?sort=name&page=2").get_data(as_text=True))
    assert (first, second) == (["Agro Žatec", "Beton Brno"], ["Cihelna Cheb"])
    wide = rows.findall(client.get("/partners/?per_page=10").get_data(as_text=True))
    assert len(wide) == 3  # the query's per_page still wins
