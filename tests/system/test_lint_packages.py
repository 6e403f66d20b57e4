"""`make lint` type-checks the packages it names: a new package missing from that list
would go unchecked without anyone noticing."""

from __future__ import annotations

import re
from pathlib import Path

import tomli  # tomllib from Python 3.11; pytest and mypy need tomli on 3.10

ROOT = Path(__file__).resolve().parents[2]


def _packages_on_disk() -> set[str]:
    return {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "bench"}


def test_make_lint_type_checks_every_package():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    named = re.search(r"^PACKAGES\s*:=\s*(.+)$", makefile, re.M)
    assert named, "the Makefile has no PACKAGES list"
    assert "$(BIN)/mypy $(PACKAGES)" in makefile
    assert set(named.group(1).split()) == _packages_on_disk()


def test_the_installed_packages_are_the_checked_ones():
    config = tomli.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    included = config["tool"]["setuptools"]["packages"]["find"]["include"]
    assert {name.removesuffix("*") for name in included} == _packages_on_disk()
