"""Cold verify: from no stack to RESULT, as one ``pytest verify/`` (compose mode) and
as the operator's phases ``shadow-mvs up`` → first green verify → ``shadow-mvs down``.

Target (ARCHITECTURE.md): RESULT=PASS within about 15 s of the command.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from shadow_mvs.core.contract import REPO_ROOT
from shadow_mvs.evidence.preflight import PREFLIGHT_ENV
from shadow_mvs.stack.compose import DOWN_ARGS, require_docker

from .common import (
    EXIT_FAIL,
    EXIT_OK,
    compose_project,
    emit,
    failure_line,
    parser,
    run_main,
    timed_verify,
)

TARGET_S = 15.0
STACK_UP = re.compile(r"INFO\|stack up in ([0-9.]+) s")
PREFLIGHT = re.compile(
    r"INFO\|preflight (\d+) findings in ([0-9.]+) s \(waited ([0-9.]+) s after up\)"
)
PREFLIGHT_BUDGET_S = 0.3


def timed(
    command: list[str], env: dict[str, str] | None = None
) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.monotonic()
    result = subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, check=False, env=env
    )
    return time.monotonic() - started, result


def compose_mode(workdir: Path, online: bool, preflight: bool = True) -> bool:
    """One ``pytest verify/`` that brings the stack up, verifies, and takes it down."""
    report = workdir / "compose.json"
    command = [sys.executable, "-m", "pytest", "verify/", f"--json-report-file={report}"]
    env = {**os.environ, PREFLIGHT_ENV: "on" if preflight else "off"}
    seconds, result = timed(command + ([] if online else ["--offline"]), env)
    output = result.stdout + result.stderr
    verdict = json.loads(report.read_text()) if report.exists() else {}
    if not preflight:
        emit("cold_verify_compose_without_preflight", seconds, "s")
        return verdict.get("result") == "PASS"
    emit("cold_verify_compose", seconds, "s")
    if match := PREFLIGHT.search(output):
        # The preflight runs during `up`; what it adds is the wait for it after `up`.
        emit("cold_verify_preflight", float(match.group(2)), "s")
        emit("cold_verify_preflight_added", float(match.group(3)), "s")
        print(
            f"preflight: {match.group(1)} findings in {match.group(2)} s, "
            f"added {match.group(3)} s after up (budget {PREFLIGHT_BUDGET_S} s)"
        )
    if match := STACK_UP.search(output):
        emit("cold_verify_compose_stack_up", float(match.group(1)), "s")
    for test in verdict.get("tests", []):
        meta = test.get("metadata", {})
        emit(f"cold_verify_compose_check_{meta.get('check')}", float(meta["elapsed_s"]), "s")
    passed = verdict.get("result") == "PASS"
    print(
        f"compose mode: RESULT={verdict.get('result', '?')} in {seconds:.2f} s "
        f"(target ~{TARGET_S:.0f} s)"
    )
    if not passed:
        print(f"  last lines: {output.strip().splitlines()[-3:]}")
    return passed


def operator_phases(workdir: Path, online: bool) -> bool:
    cli = [sys.executable, "-m", "shadow_mvs.cli"]
    stack_flags = [] if online else ["--offline"]
    up_s, up = timed([*cli, "up", *stack_flags])
    if up.returncode != 0:
        print(f"shadow-mvs up failed: {up.stderr.strip().splitlines()[-1:]}")
        timed([*cli, "down", *stack_flags])
        return False
    green_s, outcome = timed_verify(workdir)
    down_s, _ = timed([*cli, "down", *stack_flags])
    emit("cold_phase_up", up_s, "s")
    emit("cold_phase_first_verify", green_s, "s")
    emit("cold_phase_up_to_first_green", up_s + green_s, "s")
    emit("cold_phase_down", down_s, "s")
    passed = outcome.verify_code == "F-OK"
    print(
        f"operator phases: up {up_s:.2f} s, first verify {green_s:.2f} s "
        f"({'PASS' if passed else failure_line(outcome)}), down {down_s:.2f} s"
    )
    return passed


def main() -> int:
    args = parser(__doc__).parse_args()
    require_docker()
    compose = compose_project(args.online)
    compose.run(DOWN_ARGS, check=False)  # "from nothing": no leftover project
    with tempfile.TemporaryDirectory(prefix="shadow-mvs-bench-") as workdir:
        try:
            ok = compose_mode(Path(workdir), args.online)
            compose.run(DOWN_ARGS, check=False)
            ok = compose_mode(Path(workdir), args.online, preflight=False) and ok
            ok = operator_phases(Path(workdir), args.online) and ok
        finally:
            compose.run(DOWN_ARGS, check=False)
    return EXIT_OK if ok else EXIT_FAIL


if __name__ == "__main__":
    run_main(main)
