"""Imports point one way, enforced by package: core ← config ← stack ← evidence ← report ←
the entry points (plugin, CLI, docs); the checks (verify/) sit on top. Nothing in the
package imports the checkout's other folders (fixtures, the stand-in, the exporter, tests,
bench), so the wheel holds one package that works on its own. Docker-free."""

import ast
from pathlib import Path

import pytest

from shadow_mvs.core.contract import CHECKS_DIR, PACKAGE_DIR

# Each room may import the rooms at or below its own rank.
RANK = {"core": 0, "config": 1, "stack": 2, "evidence": 3, "report": 4}
TOP = 5  # plugin/, cli.py, docs.py, many.py, pytest_entry.py
CHECKS = 6
OUTSIDE = ("fixtures", "grafana_standin", "exporter", "tests", "bench", "verify", "_pytest")


def imported_modules(path: Path) -> set[str]:
    """Every absolute module a file imports, at any depth (lazy imports count too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{path}: relative import; the package uses absolute ones"
            found |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def rank_of(module: str) -> int | None:
    """The rank of a ``shadow_mvs.…`` module; None for the package root (imports nothing)."""
    parts = module.split(".")
    if parts[0] != "shadow_mvs" or len(parts) == 1:
        return None
    if not ((PACKAGE_DIR / parts[1]).is_dir() or (PACKAGE_DIR / f"{parts[1]}.py").is_file()):
        return None  # a name from the package root (suite_version), which imports nothing
    if parts[1] == "checks":
        return CHECKS
    return RANK.get(parts[1], TOP)


def package_files() -> dict[Path, int]:
    files: dict[Path, int] = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        relative = path.relative_to(PACKAGE_DIR)
        room = relative.parts[0].removesuffix(".py")
        files[path] = RANK.get(room, TOP) if room != "__init__" else -1
    for path in sorted(CHECKS_DIR.glob("*.py")):
        files[path] = CHECKS
    return files


def violations(path: Path, rank: int) -> list[str]:
    found = []
    for module in sorted(imported_modules(path)):
        if module.split(".")[0] in OUTSIDE:
            found.append(f"{path.name} imports {module} (outside the package)")
        target = rank_of(module)
        if target is not None and target > rank:
            found.append(f"{path.name} imports {module} (a room above its own)")
    return found


def test_rooms_import_downward_only():
    files = package_files()
    assert len(files) >= 40
    offenders = [v for path, rank in files.items() for v in violations(path, rank)]
    assert offenders == []


def test_every_module_sits_in_a_room():
    known = {*RANK, "plugin", "data"}
    top_modules = {"__init__", "cli", "docs", "many", "pytest_entry"}
    for path in PACKAGE_DIR.rglob("*.py"):
        first = path.relative_to(PACKAGE_DIR).parts[0]
        assert first in known or first.removesuffix(".py") in top_modules, path


@pytest.mark.parametrize(
    ("room", "source", "why"),
    [
        ("core", "from shadow_mvs.config.settings import Settings\n", "a room above its own"),
        ("config", "import shadow_mvs.stack.compose\n", "a room above its own"),
        ("report", "def f():\n    from shadow_mvs.cli import main\n", "a room above its own"),
        ("evidence", "from fixtures.loopback import serve\n", "outside the package"),
        ("plugin", "from grafana_standin.app import main\n", "outside the package"),
        ("cli", "from _pytest.main import ExitCode\n", "outside the package"),
    ],
)
def test_layering_check_turns_red(tmp_path, room, source, why):
    bad = tmp_path / "bad.py"
    bad.write_text(source)
    found = violations(bad, RANK.get(room, TOP))
    assert found
    assert why in found[0], found
