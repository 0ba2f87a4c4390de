"""Imports point one way, enforced by package: core ← config ← stack ← evidence ← report ←
the entry points (plugin, CLI, docs); the checks (verify/) sit on top. Nothing in the
package imports the checkout's other folders (fixtures, the stand-in, the exporter, tests,
bench), so the wheel holds one package that works on its own. And no code of the project
reaches into another library's internals (private modules, names or attributes), so a
library's patch release cannot break it silently. Docker-free."""

import ast
from pathlib import Path

import pytest

from shadow_mvs.core.contract import CHECKS_DIR, PACKAGE_DIR, REPO_ROOT

# Each room may import the rooms at or below its own rank.
RANK = {"core": 0, "config": 1, "stack": 2, "evidence": 3, "report": 4}
TOP = 5  # plugin/, cli.py, docs.py, many.py, pytest_entry.py
CHECKS = 6
OUTSIDE = (
    "fixtures",
    "grafana_standin",
    "exporter",
    "alert_receiver",
    "tests",
    "bench",
    "verify",
    "_pytest",
)


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
    top_modules = {"__init__", "cli", "docs", "many", "drill", "pytest_entry"}
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


# --- no other library's internals -----------------------------------------------------------

# Every folder of Python the project owns (the package and its checks, test support, the
# stack components, the project's own tests and benchmarks).
OWN_CODE = (PACKAGE_DIR, CHECKS_DIR, *(REPO_ROOT / d for d in ("fixtures", "grafana_standin")))
OWN_CODE += tuple(REPO_ROOT / d for d in ("exporter", "alert_receiver", "tests", "bench"))
ATTRIBUTE_BUILTINS = {"getattr", "setattr", "hasattr", "delattr"}


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_reaches(path: Path) -> list[str]:
    """``x._name`` on anything but ``self``/``cls``, ``getattr(x, "_name")``, and imports of
    a private module or name from outside the package: another object's internals."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        where = f"{path.name}:{getattr(node, 'lineno', 0)}"
        if is_private_attribute(node):
            found.append(f"{where} reaches {ast.unparse(node)} (a private attribute)")
        for name in imported_names(node):
            if name.split(".")[0] != "shadow_mvs" and any(map(is_private, name.split("."))):
                found.append(f"{where} imports {name} (a private module or name)")
    return found


def is_private_attribute(node: ast.AST) -> bool:
    if isinstance(node, ast.Attribute):
        own = isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")
        return is_private(node.attr) and not own
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ATTRIBUTE_BUILTINS
        and len(node.args) >= 2
        and isinstance(node.args[1], ast.Constant)
        and isinstance(node.args[1].value, str)
        and is_private(node.args[1].value)
    )


def imported_names(node: ast.AST) -> list[str]:
    """The modules an import names, and for ``from m import n`` also ``m.n``."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.module:
        return [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
    return []


def own_python_files() -> list[Path]:
    return sorted({path for folder in OWN_CODE for path in folder.rglob("*.py")})


def test_no_code_reaches_into_another_librarys_internals():
    files = own_python_files()
    assert len(files) >= 150
    offenders = [reach for path in files for reach in private_reaches(path)]
    assert offenders == []


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("mount(client._session, access)\n", "reaches client._session (a private attribute)"),
        ("line = reporter._tw.width\n", "reaches reporter._tw (a private attribute)"),
        ("super()._send(request)\n", "reaches super()._send (a private attribute)"),
        ("getattr(writer, '_current_line', '')\n", "a private attribute"),
        ("from _pytest.junitxml import LogXML\n", "imports _pytest.junitxml (a private module"),
        ("import urllib3._collections\n", "imports urllib3._collections (a private module"),
        ("from prometheus_api_client.prometheus_connect import _LOGGER\n", "or name)"),
    ],
)
def test_private_reach_check_turns_red(tmp_path, source, words):
    bad = tmp_path / "bad.py"
    bad.write_text(source)
    found = private_reaches(bad)
    assert found
    assert words in found[0], found


def test_private_reach_check_allows_own_state_and_dunders(tmp_path):
    fine = tmp_path / "fine.py"
    fine.write_text(
        "from __future__ import annotations\n"
        "from shadow_mvs.core.run import CheckRecord\n"
        "class A:\n"
        "    def f(self):\n"
        "        return self._http.get(self.__class__.__name__), cls_of(self)\n"
        "    @classmethod\n"
        "    def g(cls):\n"
        "        return cls._cache, getattr(cls, '__name__')\n"
    )
    assert private_reaches(fine) == []
