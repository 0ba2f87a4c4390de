"""The wheel a user installs: one top-level import package, ``shadow_mvs``, holding every
module of the checkout's ``shadow_mvs/`` and ``verify/`` (as ``shadow_mvs/checks/``) and the
data files, with the ``pytest11`` entry point and the ``shadow-mvs`` script; nothing of
``fixtures/``, ``exporter/``, ``grafana_standin/``, ``tests/`` or ``bench/``.

What the wheel must hold is read from the files on disk, never from pyproject.toml, so a
sub-package left out of its explicit ``packages`` list turns this red. Docker-free; each
build takes ~8 s (pip's isolated build environment), the module two builds.
"""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Iterable
from importlib.metadata import Distribution
from pathlib import Path

import pytest

from fixtures.packaging import BuiltWheel, build_wheel
from shadow_mvs.core.contract import REPO_ROOT

PACKAGE = "shadow_mvs"
CHECKS = "verify"  # shipped as shadow_mvs/checks/
# Top-level folders of the checkout that never ship.
CHECKOUT_ONLY = ("verify", "fixtures", "exporter", "grafana_standin", "tests", "bench")


def expected_files(source: Path) -> set[str]:
    """Every path the wheel must hold, read from the source tree: each module of the
    package and of the checks (under their installed name), each data file."""
    package, checks = source / PACKAGE, source / CHECKS
    files = {f"{PACKAGE}/{p.relative_to(package).as_posix()}" for p in package.rglob("*.py")}
    files |= {f"{PACKAGE}/checks/{p.relative_to(checks).as_posix()}" for p in checks.rglob("*.py")}
    files |= {f"{PACKAGE}/data/{p.name}" for p in (package / "data").iterdir() if p.is_file()}
    return files


def wheel_problems(names: Iterable[str], top_level: Iterable[str], expected: set[str]) -> list[str]:
    """What is wrong with a wheel's file list and its ``top_level.txt`` names; [] if nothing."""
    shipped = set(names)
    problems = [
        f"top-level {name!r} besides {PACKAGE}"
        for name in sorted({n.split("/", 1)[0] for n in shipped} | set(top_level))
        if name != PACKAGE and not name.endswith(".dist-info")
    ]
    problems += [f"missing {name}" for name in sorted(expected - shipped)]
    stale = {n for n in shipped if n.startswith(f"{PACKAGE}/") and n.endswith(".py")} - expected
    problems += [f"not in the checkout: {name}" for name in sorted(stale)]
    return problems


def problems_of(wheel_file: Path, source: Path) -> list[str]:
    with zipfile.ZipFile(wheel_file) as wheel:
        names = wheel.namelist()
        top_level_txt = [n for n in names if n.endswith(".dist-info/top_level.txt")]
        top_level = [line for n in top_level_txt for line in wheel.read(n).decode().split()]
    return wheel_problems(names, top_level, expected_files(source))


def checkout_listing() -> list[str]:
    return sorted(p.name for p in REPO_ROOT.iterdir())


@pytest.fixture(scope="module")
def checkout_before_build() -> list[str]:
    return checkout_listing()


@pytest.fixture(scope="module")
def built(checkout_before_build: list[str], tmp_path_factory: pytest.TempPathFactory) -> BuiltWheel:
    return build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def unpacked(built: BuiltWheel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("unpacked")
    with zipfile.ZipFile(built.path) as wheel:
        wheel.extractall(target)
    return target


def test_the_wheel_holds_shadow_mvs_whole_and_nothing_else(built: BuiltWheel):
    problems = problems_of(built.path, built.source)
    assert problems == [], "\n".join(problems)


def test_the_checks_ship_as_shadow_mvs_checks(unpacked: Path):
    checks = sorted(p.name for p in (unpacked / PACKAGE / "checks").glob("test_*.py"))
    assert checks == sorted(p.name for p in (REPO_ROOT / CHECKS).glob("test_*.py"))
    assert not (unpacked / CHECKS).exists()


def test_entry_point_and_console_script_are_declared(unpacked: Path):
    (info,) = unpacked.glob("*.dist-info")
    entry_points = Distribution.at(info).entry_points
    declared = {(e.group, e.name, e.value) for e in entry_points}
    assert ("pytest11", "shadow_mvs", "shadow_mvs.pytest_entry") in declared
    assert ("console_scripts", "shadow-mvs", "shadow_mvs.cli:main") in declared


def test_building_leaves_the_checkout_as_it_was(
    built: BuiltWheel, checkout_before_build: list[str]
):
    assert checkout_listing() == checkout_before_build  # no build/ or *.egg-info written here


def test_a_sub_package_left_out_of_pyproject_turns_it_red(tmp_path: Path):
    """A real build: a new room on disk that pyproject's ``packages`` list does not name."""
    checkout = tmp_path / "checkout"
    shutil.copytree(
        REPO_ROOT / PACKAGE, checkout / PACKAGE, ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copytree(
        REPO_ROOT / CHECKS, checkout / CHECKS, ignore=shutil.ignore_patterns("__pycache__")
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO_ROOT / name, checkout / name)
    room = checkout / PACKAGE / "newroom"
    room.mkdir()
    (room / "__init__.py").write_text('"""A room nobody added to pyproject.toml."""\n')
    built = build_wheel(tmp_path / "out", checkout)
    assert problems_of(built.path, built.source) == [f"missing {PACKAGE}/newroom/__init__.py"]


# The content check itself, against fabricated file lists: it must see what a build gets wrong.

ON_DISK = expected_files(REPO_ROOT)
WELL_FORMED = frozenset({*ON_DISK, "peaktrade_shadow_mvs_verify-0.1.0.dist-info/RECORD"})


def test_the_content_check_passes_a_well_formed_list():
    assert wheel_problems(WELL_FORMED, [PACKAGE], ON_DISK) == []


@pytest.mark.parametrize("top", CHECKOUT_ONLY)
def test_the_content_check_names_an_extra_top_level_package(top: str):
    problems = wheel_problems({*WELL_FORMED, f"{top}/__init__.py"}, [PACKAGE, top], ON_DISK)
    assert problems == [f"top-level {top!r} besides {PACKAGE}"]


def test_the_content_check_reads_top_level_txt_too():
    problems = wheel_problems(WELL_FORMED, [PACKAGE, "fixtures"], ON_DISK)
    assert problems == [f"top-level 'fixtures' besides {PACKAGE}"]


@pytest.mark.parametrize(
    "missing",
    [
        "shadow_mvs/evidence/grafana_rules/slug.py",
        "shadow_mvs/checks/test_targets.py",
        "shadow_mvs/data/causes.toml",
    ],
)
def test_the_content_check_names_a_missing_file(missing: str):
    assert wheel_problems(WELL_FORMED - {missing}, [PACKAGE], ON_DISK) == [f"missing {missing}"]


def test_the_content_check_names_checks_shipped_under_their_checkout_name():
    checks = {n for n in WELL_FORMED if n.startswith("shadow_mvs/checks/")}
    names = (WELL_FORMED - checks) | {n.replace("shadow_mvs/checks/", "verify/") for n in checks}
    problems = wheel_problems(names, [PACKAGE, "verify"], ON_DISK)
    assert problems[0] == f"top-level 'verify' besides {PACKAGE}"
    assert "missing shadow_mvs/checks/test_targets.py" in problems


def test_the_content_check_names_a_module_the_checkout_lacks():
    problems = wheel_problems({*WELL_FORMED, "shadow_mvs/core/leftover.py"}, [PACKAGE], ON_DISK)
    assert problems == ["not in the checkout: shadow_mvs/core/leftover.py"]
