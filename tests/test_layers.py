"""DESIGN's import arrows hold, and a forbidden import fails `lint-imports` (make lint)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
PACKAGES = ("crm", "connector", "mail_archive", "doc_library", "calendar_bridge", "search", "web")


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    # --no-cache: a cache written for one tree must not answer for another.
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=300,
    )


def copy_of_the_packages(target: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(
            REPO / package, target / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy2(REPO / "pyproject.toml", target / "pyproject.toml")
    return target


def test_the_tree_keeps_every_contract() -> None:
    done = lint_imports(REPO)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(
    ("module", "planted", "contract"),
    [
        ("crm/text.py", "import connector.network", "crm imports none of ours"),
        ("mail_archive/parse.py", "import connector.accounts", "mail_archive imports only crm"),
        ("connector/network.py", "import web.security", "nothing imports web"),
        (
            "doc_library/__init__.py",
            "import mail_archive.models",
            "doc_library and calendar_bridge never import mail_archive",
        ),
    ],
)
def test_a_planted_forbidden_import_fails_naming_the_contract(
    tmp_path: Path, module: str, planted: str, contract: str
) -> None:
    tree = copy_of_the_packages(tmp_path)
    path = tree / module
    path.write_text(path.read_text(encoding="utf-8") + f"\n{planted}  # planted\n")
    done = lint_imports(tree)
    assert done.returncode != 0, done.stdout[-4000:]
    assert f"{contract} BROKEN" in done.stdout
    importer = module.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
    assert f"{importer} -> {planted.split()[1]}" in done.stdout  # names the planted import


def test_every_package_is_linted_and_typechecked() -> None:
    """A new top-level package is covered by the contracts and by `make typecheck` at once."""
    import tomllib

    packages = {p.parent.name for p in REPO.glob("*/__init__.py")} - {"tests"}
    assert packages == set(PACKAGES)
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert set(config["tool"]["importlinter"]["root_packages"]) == packages
    assert config["tool"]["mypy"]["strict"] is True
    typecheck = next(
        line for line in (REPO / "Makefile").read_text().splitlines() if "$(BIN)/mypy " in line
    )
    assert set(typecheck.split()[1:]) == packages
