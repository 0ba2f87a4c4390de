"""``shadow-mvs verify --env a --env b …``: every environment verified at once, each in its own
``pytest verify/`` process, then one combined summary and exit code.

One process per environment, not pytest-xdist: xdist splits the tests of ONE session over
workers, but a verify session is one environment — its checks run in contract order and
block on their upstream (``depends_on``), and its settings, records, verify.json and JUnit
belong to that session. Separate sessions keep all of that unchanged and isolated, and the
work is waiting on the network, so processes overlap almost perfectly.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from shadow_mvs.config.settings import Settings

EXIT_PASS, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def reports() -> Path:
    """Where per-environment reports and summary.json go (SHADOW_MVS_REPORTS_DIR)."""
    return Path(os.environ.get("SHADOW_MVS_REPORTS_DIR") or "reports")


@dataclass
class EnvironmentRun:
    env: str
    report: str
    log: str
    exit_code: int = -1
    result: str = "FAIL"
    verify_code: str = "F-INCOMPLETE"
    failure: str | None = None
    node: str | None = None
    elapsed_s: float = 0.0


def report_dir(env: str) -> Path:
    return reports() / f"env-{env}"


def _read(run: EnvironmentRun, root: Path) -> None:
    path = root / run.report
    try:
        report: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        run.failure = f"no verify.json (pytest exit {run.exit_code}); see {run.log}"
        return
    run.result = str(report.get("result", "FAIL"))
    run.verify_code = str(report.get("verify_code", "F-INCOMPLETE"))
    run.failure = report.get("failure")
    run.node = (report.get("triage") or {}).get("node")


def verify_many(
    args: argparse.Namespace,
    command_for: Callable[[argparse.Namespace], list[str]],
    root: Path,
    env: Mapping[str, str] | None = None,
) -> int:
    names = list(dict.fromkeys(args.env))
    for name in names:  # every environment must resolve before any starts
        Settings.from_values({**vars(args), "env": name}, verifying=True)
    runs, processes = [], []
    started = time.monotonic()
    for name in names:
        out = root / report_dir(name)
        out.mkdir(parents=True, exist_ok=True)
        run = EnvironmentRun(
            env=name,
            report=str(report_dir(name) / "verify.json"),
            log=str(report_dir(name) / "verify.log"),
        )
        command = command_for(argparse.Namespace(**{**vars(args), "env": [name]}))
        command.append(f"--json-report-file={run.report}")
        with (root / run.log).open("wb") as log:
            process = subprocess.Popen(
                command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        runs.append(run)
        processes.append((process, time.monotonic()))
    for run, (process, began) in zip(runs, processes, strict=True):
        run.exit_code = process.wait()
        run.elapsed_s = round(time.monotonic() - began, 2)
        _read(run, root)
    wall = round(time.monotonic() - started, 2)
    exit_code = combined_exit(runs)
    for line in summary_lines(runs, wall, exit_code):
        print(line)
    summary = {
        "result": "PASS" if exit_code == EXIT_PASS else "FAIL",
        "exit_code": exit_code,
        "wall_s": wall,
        "environments": [asdict(run) for run in runs],
    }
    (root / reports() / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    sys.stdout.flush()
    return exit_code


def combined_exit(runs: list[EnvironmentRun]) -> int:
    if any(run.exit_code not in (0, 1) for run in runs):
        return EXIT_USAGE
    return EXIT_FAIL if any(run.result != "PASS" for run in runs) else EXIT_PASS


def summary_lines(runs: list[EnvironmentRun], wall_s: float, exit_code: int) -> list[str]:
    lines = []
    for run in runs:
        line = f"ENV|{run.env}|RESULT={run.result}|{run.verify_code}|{run.elapsed_s}s|{run.report}"
        lines.append(line)
        if run.result != "PASS" and run.failure:
            lines.append(f"ENV|{run.env}|FAIL|{run.verify_code}|{run.node or '-'}|{run.failure}")
    passed = sum(run.result == "PASS" for run in runs)
    lines.append(f"INFO|environments={len(runs)} passed={passed} wall={wall_s}s")
    lines.append(f"INFO|summary={reports() / 'summary.json'}")
    lines.append(f"RESULT={'PASS' if exit_code == EXIT_PASS else 'FAIL'}")
    return lines
