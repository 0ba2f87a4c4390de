"""Imports point one way: fixtures (and the check modules) build on the verify core; the
core never imports fixtures, so it can be read, tested and packaged on its own."""

import ast
from pathlib import Path

from verify.contract import PACKAGE_DIR


def core_modules() -> list[Path]:
    return [p for p in sorted(PACKAGE_DIR.glob("*.py")) if not p.name.startswith("test_")]


def imported_packages(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_core_never_imports_fixtures():
    offenders = [p.name for p in core_modules() if "fixtures" in imported_packages(p)]
    assert offenders == []


def test_layering_check_sees_a_fixtures_import(tmp_path):
    # The check above can fail: a module that imports fixtures is caught.
    bad = tmp_path / "bad.py"
    bad.write_text("from fixtures.clients import GrafanaClient\nimport fixtures.stack\n")
    assert "fixtures" in imported_packages(bad)
    assert len(core_modules()) >= 10
