"""The verdict survives its reports: `pytest verify/` where reports/ cannot be written.

Default paths that cannot be written turn their report off with a `WARN|reports|…` line,
every check line and RESULT still print, and the exit code follows RESULT; a path the
operator asked for is a usage error (exit 2) before any request. Docker-free: real
`pytest verify/` processes, run from a temporary directory (so its `reports` is the
default one), against a real exporter or closed ports."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixtures.local_prometheus import free_loopback_port
from shadow_mvs.core.contract import CHECKS_DIR, REPO_ROOT, load_contract
from shadow_mvs.report.report_files import write_problem
from tests.exporter.conftest import Exporter, Launcher

CHECKS = [c.name for c in load_contract().checks]


def dead_url() -> str:
    return f"http://127.0.0.1:{free_loopback_port()}"


@pytest.fixture(scope="module")
def exporter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exporter]:
    launcher = Launcher(tmp_path_factory.mktemp("exporter"))
    try:
        yield launcher.start(tick="0.01")
    finally:
        launcher.close()


def verify_in(cwd: Path, *args: str, exporter_url: str | None = None) -> tuple[int, str]:
    """One `pytest verify/` process with ``cwd`` as its working directory: the default
    reports/ is ``cwd/reports``. Prometheus and Grafana are closed ports."""
    command = [
        sys.executable,
        "-m",
        "pytest",
        str(CHECKS_DIR),
        "--stack=external",
        "-p",
        "no:cacheprovider",
        f"--exporter-url={exporter_url or dead_url()}",
        f"--prometheus-url={dead_url()}",
        f"--grafana-url={dead_url()}",
        *args,
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env, check=False)
    return result.returncode, result.stdout + result.stderr


def verify_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.split("|")[0] in ("PASS", "FAIL", "SKIP")]


def test_reports_is_a_file_the_verdict_still_prints_and_exits_1(tmp_path: Path):
    (tmp_path / "reports").write_text("not a directory\n")
    code, output = verify_in(tmp_path)
    assert "Traceback" not in output, output
    assert "INTERNALERROR" not in output, output
    assert len(verify_lines(output)) == len(CHECKS), output
    assert "RESULT=FAIL" in output
    assert code == 1
    reason = "(reports is a file, not a directory)"
    assert f"WARN|reports|not written: reports/verify.json {reason}" in output
    assert f"WARN|reports|not written: reports/junit.xml {reason}" in output
    assert "WARN|reports|not written: reports/forensics/" in output
    assert (tmp_path / "reports").read_text() == "not a directory\n"


def test_a_passing_run_without_its_reports_still_exits_0(tmp_path: Path, exporter: Exporter):
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "verify.json").mkdir()  # a directory where the file goes
    code, output = verify_in(tmp_path, "-k", "exporter", exporter_url=exporter.url)
    assert "Traceback" not in output, output
    assert "PASS|exporter|" in output
    assert "RESULT=PASS (partial: 1 of" in output
    assert "WARN|reports|not written: reports/verify.json (reports/verify.json is a directory)" in (
        output
    )
    assert (tmp_path / "reports" / "junit.xml").is_file()  # the other report is written
    assert code == 0


def test_an_asked_for_report_path_that_cannot_be_written_is_exit_2(tmp_path: Path):
    (tmp_path / "blocked").write_text("")
    code, output = verify_in(tmp_path, f"--json-report-file={tmp_path}/blocked/verify.json")
    assert code == 2
    assert f"cannot write --json-report-file {tmp_path}/blocked/verify.json" in output
    assert f"{tmp_path}/blocked is a file, not a directory" in output
    assert "Traceback" not in output
    assert "RESULT=" not in output  # refused before any check ran


def refusal_of_sysfs() -> str:
    """What the kernel says to a new directory in sysfs, which refuses it even to root (a
    read-only place on any Linux machine; the words differ between kernels)."""
    try:
        os.mkdir("/sys/shadow-mvs")
    except OSError as error:
        return f"/sys/shadow-mvs: {error.strerror}"
    os.rmdir("/sys/shadow-mvs")
    pytest.skip("this kernel lets a new directory into /sys")


def test_an_asked_for_junit_path_that_is_read_only_is_exit_2(tmp_path: Path):
    code, output = verify_in(tmp_path, "--junitxml=/sys/shadow-mvs/junit.xml")
    assert code == 2
    assert f"cannot write --junitxml /sys/shadow-mvs/junit.xml: {refusal_of_sysfs()}" in output
    assert "Traceback" not in output


def test_write_problem_names_what_is_in_the_way(tmp_path: Path):
    assert write_problem(tmp_path / "new" / "deeper" / "verify.json") is None
    assert (tmp_path / "new" / "deeper").is_dir()
    (tmp_path / "file").write_text("")
    assert write_problem(tmp_path / "file" / "x" / "verify.json") == (
        f"{tmp_path / 'file'} is a file, not a directory"
    )
    (tmp_path / "dir.json").mkdir()
    assert write_problem(tmp_path / "dir.json") == f"{tmp_path / 'dir.json'} is a directory"
    assert write_problem(Path("/sys/shadow-mvs/verify.json")) == refusal_of_sysfs()
