"""The suite as a real pytest plugin: build the wheel, install it (not editable, with its
dependencies resolved by pip from the machine's usual index) into a fresh venv, and verify.

From the checkout, the installed venv's `pytest verify/` and `shadow-mvs verify` behave like
the editable install (options, reporter, JUnit, version); outside a checkout, `shadow-mvs
verify` runs the installed copy. The last test verifies a running offline stack with it.

The venv costs ~30 s (wheel ~5 s, venv ~9 s, install ~18 s measured here), paid once for
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
from shadow_mvs import suite_version
from shadow_mvs.core.contract import REPO_ROOT

pytestmark = [pytest.mark.docker, pytest.mark.slow]

INSTALL_TIMEOUT_S = 600


@dataclass(frozen=True)
class Installed:
    bin: Path
    site_verify: Path  # where the installed copy of the verify package lives
    seconds: dict[str, float]

    def run(self, *args: str, cwd: Path, env: dict[str, str] | None = None):
        clean = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
        clean["PATH"] = f"{self.bin}{os.pathsep}{clean.get('PATH', '')}"
        return subprocess.run(
            [str(self.bin / args[0]), *args[1:]],
            cwd=cwd,
            env={**clean, **(env or {})},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )


def _timed(seconds: dict[str, float], name: str, command: list[str], cwd: Path) -> None:
    started = time.monotonic()
    result = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, check=False
    )
    seconds[name] = round(time.monotonic() - started, 1)
    assert result.returncode == 0, f"{name} failed:\n{result.stdout}\n{result.stderr}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    work = tmp_path_factory.mktemp("wheel")
    seconds: dict[str, float] = {}
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    _timed(seconds, "wheel", [*pip, "wheel", "--no-deps", "-w", str(work), "."], REPO_ROOT)
    wheel = next(work.glob("peaktrade_shadow_mvs_verify-*.whl"))
    venv = work / "venv"
    # No --system-site-packages: every dependency comes from the index, as for a user.
    _timed(seconds, "venv", [sys.executable, "-m", "venv", str(venv)], work)
    vpip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    _timed(seconds, "install", [*vpip, "install", str(wheel)], work)
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import verify; print(verify.__file__)"],
        cwd=work,
        capture_output=True,
        text=True,
        check=True,
    )
    print(f"installed-plugin venv: {seconds}")
    return Installed(venv / "bin", Path(where.stdout.strip()).parent, seconds)


def test_install_is_not_editable(installed: Installed):
    assert installed.site_verify.parent.name == "site-packages"
    assert not installed.site_verify.is_relative_to(REPO_ROOT)


def test_version(installed: Installed, tmp_path):
    result = installed.run("shadow-mvs", "--version", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"shadow-mvs {suite_version()}"


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
    assert f"shadow-mvs {suite_version()} (suite at {REPO_ROOT / 'verify'})" in output
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
    assert f"(suite at {installed.site_verify})" in output
    assert "FAIL|F-FAIL-DASHBOARD|" in output
    report = json.loads((tmp_path / "reports" / "verify.json").read_text())
    assert report["suite_version"] == suite_version()
    assert (tmp_path / "reports" / "junit.xml").is_file()
    assert not (installed.site_verify.parent / ".pytest_cache").exists()


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
