"""Cold verify: from no stack to RESULT=PASS, as ``pytest verify/ --offline`` (compose
mode) run N times (default 5) from nothing, and optionally as the operator's phases
``shadow-mvs up`` → first green verify → ``shadow-mvs down``.

Each run's output is read as it streams, so the figures say where the time goes: process
start until bring-up begins, ``compose up`` (the fixture's ``stack up in`` line), each check
finished (its progress line), RESULT, and ``down`` after it. Target (ARCHITECTURE.md):
RESULT=PASS median <= 12 s from the command; the floor is Prometheus's first discovery plus
two scrapes at the contract's 5 s.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from shadow_mvs.core.contract import REPO_ROOT, load_contract
from shadow_mvs.evidence.preflight import PREFLIGHT_ENV
from shadow_mvs.stack.compose import DOWN_ARGS, require_docker

from .common import (
    EXIT_FAIL,
    EXIT_OK,
    compose_project,
    emit,
    emit_spread,
    failure_line,
    parser,
    run_main,
    start_at_grid_phase,
    timed_verify,
)

TARGET_S = 12.0
STACK_UP = re.compile(r"INFO\|stack up in ([0-9.]+) s")
PREFLIGHT = re.compile(
    r"INFO\|preflight (\d+) findings in ([0-9.]+) s \(waited ([0-9.]+) s after up\)"
)
CHECK_DONE = re.compile(r"^verify/test_(\w+)\.py \S")  # pytest's progress line of one module
PREFLIGHT_BUDGET_S = 0.3
# Where a cold run's time goes, as the difference of two milestones: the process before
# bring-up, `compose up`, Prometheus until the queries check has two samples for rate()
# (discovery, the target's scrape offset, a second scrape), and Grafana's panels until the
# panel's step-aligned last point holds the second sample.
PARTS = {
    "before_bringup": ("start", "bringup_start"),
    "bringup": ("bringup_start", "stack_up"),
    "up_to_queries": ("stack_up", "check_queries"),
    "queries_to_panels": ("check_queries", "check_panels"),
    "panels_to_result": ("check_panels", "result"),
}


def timed(
    command: list[str], env: dict[str, str] | None = None
) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.monotonic()
    result = subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, check=False, env=env
    )
    return time.monotonic() - started, result


def streamed(command: list[str], env: dict[str, str]) -> tuple[list[tuple[float, str]], float]:
    """Every output line with the seconds since start at which it arrived, and the exit."""
    started = time.monotonic()
    lines: list[tuple[float, str]] = []
    with subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        env={**env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        stream = process.stdout
        assert stream is not None

        def read() -> None:
            for line in stream:
                lines.append((time.monotonic() - started, line.rstrip("\n")))

        # A reader thread, so the exit is the process's own, not the moment the last
        # inheritor of its stdout (a child it started) lets go of the pipe.
        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        process.wait()
        exited = time.monotonic() - started
        reader.join()
    return lines, exited


def milestones(lines: list[tuple[float, str]], exited: float) -> dict[str, float]:
    """Seconds from the command to each milestone of one cold run."""
    found: dict[str, float] = {}
    for at, line in lines:
        if line.startswith("INFO|stack=") and " up: " in line:
            found.setdefault("bringup_start", at)
        elif STACK_UP.search(line):
            found.setdefault("stack_up", at)
        elif match := CHECK_DONE.match(line):
            found.setdefault(f"check_{match.group(1)}", at)
        elif line.startswith("RESULT="):
            found.setdefault("result", at)
    found["exit"] = exited
    found["start"] = 0.0
    return found


def compose_run(
    workdir: Path, online: bool, preflight: bool = True
) -> tuple[bool, dict[str, float]]:
    """One ``pytest verify/`` that brings the stack up, verifies, and takes it down."""
    report = workdir / "compose.json"
    report.unlink(missing_ok=True)
    command = [sys.executable, "-m", "pytest", "verify/", f"--json-report-file={report}"]
    env = {**os.environ, PREFLIGHT_ENV: "on" if preflight else "off"}
    lines, exited = streamed(command + ([] if online else ["--offline"]), env)
    output = "\n".join(line for _, line in lines)
    verdict = json.loads(report.read_text()) if report.exists() else {}
    found = milestones(lines, exited)
    if match := STACK_UP.search(output):
        found["stack_up_s"] = float(match.group(1))
    if match := PREFLIGHT.search(output):
        found["preflight_added_s"] = float(match.group(3))
    passed = verdict.get("result") == "PASS" and "result" in found
    if not passed:
        print(f"  not PASS: last lines {output.strip().splitlines()[-3:]}")
    return passed, found


def compose_mode(workdir: Path, online: bool, runs: int) -> bool:
    compose = compose_project(online)
    grid_s = float(load_contract().prometheus["scrape_interval_s"])
    results: list[dict[str, float]] = []
    ok = True
    for run in range(1, runs + 1):
        compose.run(DOWN_ARGS, check=False)  # "from nothing": no leftover project
        start_phase = start_at_grid_phase((run - 1) * grid_s / runs, grid_s)
        passed, found = compose_run(workdir, online)
        ok = ok and passed
        results.append(found)
        for part, (since, until) in PARTS.items():
            if since in found and until in found:
                found[part] = found[until] - found[since]
        load = os.getloadavg()[0]
        print(
            f"run {run}: started {start_phase:.2f} s into the {grid_s:g} s scrape grid; "
            f"RESULT at {found.get('result', float('nan')):.2f} s, exit "
            f"{found['exit']:.2f} s, stack up {found.get('stack_up_s', float('nan')):.2f} s, "
            f"up to queries {found.get('up_to_queries', float('nan')):.2f} s, "
            f"queries to panels {found.get('queries_to_panels', float('nan')):.2f} s "
            f"(load {load:.2f})",
            flush=True,
        )
    phases = ["result", "exit", "bringup_start", "stack_up", "stack_up_s", "preflight_added_s"]
    phases += list(PARTS)
    phases += [k for k in results[0] if k.startswith("check_")]
    for name in phases:
        values = [r[name] for r in results if name in r]
        if values:
            emit_spread(f"cold_verify_{name}", values)
    emit("cold_verify_runs", str(len(results)))
    median = statistics.median(r.get("result", float("inf")) for r in results)
    print(
        f"compose mode: RESULT median {median:.2f} s over {runs} runs (target <= {TARGET_S:.0f} s)"
    )
    return ok and median <= TARGET_S


def without_preflight(workdir: Path, online: bool) -> bool:
    compose_project(online).run(DOWN_ARGS, check=False)
    passed, found = compose_run(workdir, online, preflight=False)
    emit("cold_verify_result_without_preflight", found.get("result", float("nan")), "s")
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
    cli = parser(__doc__)
    cli.add_argument("--runs", type=int, default=5, help="cold compose runs (default 5)")
    cli.add_argument(
        "--phases",
        action="store_true",
        help="also one run without the config preflight, and the operator's up/verify/down",
    )
    args = cli.parse_args()
    require_docker()
    compose = compose_project(args.online)
    with tempfile.TemporaryDirectory(prefix="shadow-mvs-bench-") as workdir:
        try:
            ok = compose_mode(Path(workdir), args.online, args.runs)
            if args.phases:
                ok = without_preflight(Path(workdir), args.online) and ok
                compose.run(DOWN_ARGS, check=False)
                ok = operator_phases(Path(workdir), args.online) and ok
        finally:
            compose.run(DOWN_ARGS, check=False)
    return EXIT_OK if ok else EXIT_FAIL


if __name__ == "__main__":
    run_main(main)
