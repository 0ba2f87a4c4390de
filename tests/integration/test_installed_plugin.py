"""The suite as a real pytest plugin: build the wheel, install it (not editable, with its
dependencies resolved by pip from the machine's usual index) into a fresh venv beside PyPI's
``fixtures`` package, and verify.

The suite ships one import package, ``shadow_mvs`` (its checks as ``shadow_mvs.checks``);
the checkout's own ``fixtures/`` never ships, so PyPI's ``fixtures`` (testtools' library)
installs beside it and both work. From the checkout, the installed venv's `pytest verify/`
and `shadow-mvs verify` behave like the editable install (options, reporter, JUnit,
version); from any other directory, `shadow-mvs verify` runs the installed copy. The last
test verifies a running offline stack with it, from the checkout and from an empty
directory.

The venv costs ~30 s (wheel ~8 s, venv ~9 s, install ~18 s measured here), paid once for
the module; it runs with the Docker tests because of that and its last test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from fixtures.faults import FaultBench
from fixtures.locked_grafana import locked_grafana
from fixtures.packaging import build_wheel
from shadow_mvs import suite_version
from shadow_mvs.config.env_file import grafana_credentials
from shadow_mvs.core.contract import REPO_ROOT, load_contract

pytestmark = [pytest.mark.docker, pytest.mark.slow]

INSTALL_TIMEOUT_S = 600


# Variables that would hand the venv's Python another interpreter's packages (a test run
# with PYTHONPATH=<checkout> must not make the checkout's modules look installed).
FOREIGN_PYTHON_VARIABLES = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")


def venv_environment(bin_dir: Path | None = None) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if k not in FOREIGN_PYTHON_VARIABLES}
    if bin_dir is not None:
        clean["PATH"] = f"{bin_dir}{os.pathsep}{clean.get('PATH', '')}"
    return clean


@dataclass(frozen=True)
class Installed:
    bin: Path
    site_package: Path  # the installed copy of shadow_mvs (its checks in checks/)
    seconds: dict[str, float]

    @property
    def site_packages(self) -> Path:
        return self.site_package.parent

    def run(self, *args: str, cwd: Path, env: dict[str, str] | None = None):
        return subprocess.run(
            [str(self.bin / args[0]), *args[1:]],
            cwd=cwd,
            env={**venv_environment(self.bin), **(env or {})},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )


def _timed(seconds: dict[str, float], name: str, command: list[str], cwd: Path) -> None:
    started = time.monotonic()
    result = subprocess.run(
        command,
        cwd=cwd,
        env=venv_environment(),
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT_S,
        check=False,
    )
    seconds[name] = round(time.monotonic() - started, 1)
    assert result.returncode == 0, f"{name} failed:\n{result.stdout}\n{result.stderr}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    work = tmp_path_factory.mktemp("wheel")
    built = build_wheel(work)  # from a copy: the checkout gets no build/ or *.egg-info
    seconds: dict[str, float] = {"wheel": built.seconds}
    venv = work / "venv"
    # No --system-site-packages: every dependency comes from the index, as for a user.
    _timed(seconds, "venv", [sys.executable, "-m", "venv", str(venv)], work)
    vpip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    # PyPI's fixtures beside the suite: a name the checkout's test support also has.
    _timed(seconds, "install", [*vpip, "install", str(built.path), "fixtures"], work)
    empty = tmp_path_factory.mktemp("empty")
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import shadow_mvs; print(shadow_mvs.__file__)"],
        cwd=empty,
        env=venv_environment(),
        capture_output=True,
        text=True,
        check=True,
    )
    print(f"installed-plugin venv: {seconds}")
    return Installed(venv / "bin", Path(where.stdout.strip()).parent, seconds)


def test_install_is_not_editable(installed: Installed):
    assert installed.site_packages.name == "site-packages"
    assert not installed.site_package.is_relative_to(REPO_ROOT)
    assert (installed.site_package / "checks" / "test_targets.py").is_file()
    assert not (installed.site_packages / "verify").exists()


def test_version(installed: Installed, tmp_path):
    result = installed.run("shadow-mvs", "--version", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"shadow-mvs {suite_version()}"


# Run by the venv's Python in an empty directory: PyPI's fixtures used for real (a Fixture
# and a TempDir) around the suite's own code, then both distributions' installed files.
SIDE_BY_SIDE = """
import json, pathlib
from importlib.metadata import distribution

import fixtures
import shadow_mvs
from shadow_mvs.core.contract import load_contract


class ContractJob(fixtures.Fixture):
    def _setUp(self):
        self.job = load_contract().prometheus["job"]


with fixtures.TempDir() as temp, ContractJob() as contract:
    note = pathlib.Path(temp.path, "job")
    note.write_text(contract.job)
    temp_dir, job = temp.path, note.read_text()


def files(name):
    return sorted(str(f) for f in distribution(name).files or ())


print(json.dumps({
    "fixtures": fixtures.__file__,
    "shadow_mvs": shadow_mvs.__file__,
    "job": job,
    "temp_dir_removed": not pathlib.Path(temp_dir).exists(),
    "files": {
        "fixtures": files("fixtures"),
        "suite": files("peaktrade-shadow-mvs-verify"),
    },
}))
"""


def test_pypi_fixtures_and_the_suite_import_and_work_side_by_side(installed: Installed, tmp_path):
    result = installed.run("python", "-c", SIDE_BY_SIDE, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert Path(seen["fixtures"]) == installed.site_packages / "fixtures" / "__init__.py"
    assert Path(seen["shadow_mvs"]) == installed.site_package / "__init__.py"
    assert seen["job"] == load_contract().prometheus["job"]
    assert seen["temp_dir_removed"]
    fixtures_files, suite_files = set(seen["files"]["fixtures"]), set(seen["files"]["suite"])
    assert "fixtures/__init__.py" in fixtures_files
    assert "shadow_mvs/checks/test_targets.py" in suite_files
    assert fixtures_files.isdisjoint(suite_files), fixtures_files & suite_files
    assert not any(f.startswith("fixtures/") for f in suite_files)


def test_entry_point_gives_pytest_verify_its_options_from_the_checkout(installed, tmp_path):
    # The options exist only through the plugin: a bare pytest would reject --stack.
    with locked_grafana() as url:
        result = installed.run(
            "pytest",
            "verify/",
            "--stack=external",
            f"--grafana-url={url}",
            "-k",
            "grafana or dashboard or panels",
            f"--json-report-file={tmp_path / 'verify.json'}",
            cwd=REPO_ROOT,
        )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert f"shadow-mvs {suite_version()} (suite at {REPO_ROOT / 'shadow_mvs'})" in output
    assert "PASS|grafana|" in output
    assert "FAIL|F-FAIL-DASHBOARD|Grafana auth failed" in output
    assert "RESULT=FAIL" in output
    assert "already registered" not in output  # conftest and entry point: one plugin
    report = json.loads((tmp_path / "verify.json").read_text())
    assert report["suite_version"] == suite_version()
    assert report["verify_code"] == "F-FAIL-DASHBOARD"
    assert (tmp_path / "junit.xml").is_file()


def test_shadow_mvs_verify_outside_a_checkout_runs_the_installed_copy(installed, tmp_path):
    with locked_grafana() as url:
        result = installed.run(
            "shadow-mvs",
            "verify",
            "--stack=external",
            f"--grafana-url={url}",
            "--",
            "-k",
            "grafana or dashboard",
            cwd=tmp_path,
        )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert f"(suite at {installed.site_package})" in output
    assert "FAIL|F-FAIL-DASHBOARD|" in output
    report = json.loads((tmp_path / "reports" / "verify.json").read_text())
    assert report["suite_version"] == suite_version()
    assert (tmp_path / "reports" / "junit.xml").is_file()
    for folder in (
        installed.site_packages,
        installed.site_package,
        installed.site_package / "checks",
    ):
        assert not (folder / ".pytest_cache").exists(), folder


def test_installed_suite_verifies_a_running_stack(
    installed: Installed, fault_bench: FaultBench, tmp_path
):
    """The same verdict as the editable install: the whole offline stack PASSes."""
    first = installed.run(
        "pytest",
        "verify/",
        "--stack=external",
        f"--json-report-file={tmp_path / 'a' / 'verify.json'}",
        cwd=REPO_ROOT,
    )
    assert first.returncode == 0, first.stdout + first.stderr
    assert "RESULT=PASS" in first.stdout
    second = installed.run(
        "shadow-mvs",
        "verify",
        "--stack=external",
        "--",
        f"--json-report-file={tmp_path / 'b' / 'verify.json'}",
        cwd=REPO_ROOT,
    )
    assert second.returncode == 0, second.stdout + second.stderr
    report = json.loads((tmp_path / "b" / "verify.json").read_text())
    assert report["result"] == "PASS"
    assert report["suite_version"] == suite_version()


def test_installed_suite_verifies_a_running_stack_from_an_empty_directory(
    installed: Installed, fault_bench: FaultBench, tmp_path
):
    """No checkout in sight: the installed copy's checks, plugin and data alone PASS the
    stack the checkout brought up (compose files ship with the checkout only). No .env
    either: the Grafana credentials come as an operator passes them, in GRAFANA_AUTH."""
    credentials = grafana_credentials(fault_bench.compose.env_file)
    assert credentials, "bootstrap writes .env with the admin password"
    user, password = credentials
    empty = tmp_path / "empty"
    empty.mkdir()
    result = installed.run(
        "shadow-mvs",
        "verify",
        "--stack=external",
        cwd=empty,
        env={"GRAFANA_AUTH": f"{user}:{password}"},
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output.replace(password, "***")
    assert password not in output
    assert f"(suite at {installed.site_package})" in output
    assert "RESULT=PASS" in result.stdout
    report = json.loads((empty / "reports" / "verify.json").read_text())
    assert report["result"] == "PASS"
    assert report["suite_version"] == suite_version()
    assert sorted(p.name for p in empty.iterdir()) == ["reports"]
