"""``shadow-mvs verify --env a --env b …``: every environment verified at once, each in its own
``pytest verify/`` session and process, then one combined summary and exit code.

One process per environment, not pytest-xdist: xdist splits the tests of ONE session over
workers, but a verify session is one environment — its checks run in contract order and
block on their upstream (``depends_on``), and its settings, records, verify.json and JUnit
belong to that session. Separate sessions keep all of that unchanged and isolated, and the
work is waiting on the network, so processes overlap almost perfectly.

Each session is a fork of this process (``multiprocessing``'s "fork" start method) that runs
``pytest.main`` with the arguments ``pytest verify/`` would get, its output going to its own
log. Before forking, this process imports what every session imports (``ENGINE``) once:
a fresh ``python -m pytest`` per environment spent ~0.9 s of CPU each, mostly importing
pytest, the HTTP clients and the engine again; a fork starts with them imported and
shares their memory copy-on-write (bench/multi_env.py measures it). On Linux only: macOS's
system libraries are not fork-safe (multiprocessing docs, "Contexts and start methods"),
so there each session starts a fresh interpreter ("spawn") and nothing is shared.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shadow_mvs.config.settings import Settings

if TYPE_CHECKING:
    from multiprocessing.context import ForkContext, SpawnContext

EXIT_PASS, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
# What every verify session imports: pytest and the engine under the plugin and the checks
# (the reporters and formats bring the HTTP clients, access and the transports). Not the
# plugin's own modules (shadow_mvs.plugin.*) nor the checks: pytest imports those in each
# session itself, to rewrite their asserts; imported here they could not be rewritten.
ENGINE = (
    "pytest",
    "prometheus_api_client",
    "yaml",
    "shadow_mvs.report.formats",
    "shadow_mvs.report.ci_reports",
    "shadow_mvs.report.progress",
    "shadow_mvs.stack.services",
    "shadow_mvs.evidence.alerting",
    "shadow_mvs.evidence.alertmanager_preflight",
    "shadow_mvs.evidence.exposition",
    "shadow_mvs.evidence.grafana_preflight",
    "shadow_mvs.evidence.hops",
    "shadow_mvs.evidence.panels",
    "shadow_mvs.evidence.preflight",
    "shadow_mvs.evidence.remote_write",
    "shadow_mvs.evidence.slo",
    "shadow_mvs.evidence.status_api",
)


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


def load_engine() -> None:
    """Import ``ENGINE`` with the collector off, then freeze what it allocated: the gc
    module docs' advice for a parent that forks workers ("gc.disable() early in the parent
    process, gc.freeze() right before fork(), and gc.enable() early in child processes").
    The imports free almost nothing, so collecting during them is wasted (~0.05-0.1 s of
    CPU here), and frozen objects are neither scanned nor copied by the children's
    collections. The caller turns the collector on again once the children are forked."""
    gc.disable()
    for name in ENGINE:
        importlib.import_module(name)
    gc.freeze()


def run_session(pytest_args: list[str], cwd: Path, env: Mapping[str, str], log: Path) -> None:
    """In the child process: one pytest session, stdout and stderr into ``log``; its exit
    code becomes the child's (multiprocessing turns ``SystemExit`` into it)."""
    import pytest

    gc.enable()  # off in a forking parent while it loaded the engine (load_engine)
    with log.open("wb") as out:
        os.dup2(out.fileno(), sys.stdout.fileno())
        os.dup2(out.fileno(), sys.stderr.fileno())
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    sys.path.insert(0, str(cwd))  # as `python -m pytest` run there has it
    sys.exit(int(pytest.main(pytest_args)))


def session_starter() -> ForkContext | SpawnContext:
    """How each session's process starts: a fork sharing the engine on Linux, a fresh
    interpreter elsewhere (see the module docstring)."""
    if sys.platform == "linux":
        load_engine()
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def verify_many(
    args: argparse.Namespace,
    pytest_args_for: Callable[[argparse.Namespace], list[str]],
    root: Path,
    env: Mapping[str, str] | None = None,
) -> int:
    names = list(dict.fromkeys(args.env))
    for name in names:  # every environment must resolve before any starts
        Settings.from_values({**vars(args), "env": name}, verifying=True)
    start = session_starter()
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
        pytest_args = pytest_args_for(argparse.Namespace(**{**vars(args), "env": [name]}))
        pytest_args.append(f"--json-report-file={run.report}")
        session = (pytest_args, root, dict(os.environ if env is None else env), root / run.log)
        process = start.Process(target=run_session, args=session, name=f"verify-{name}")
        sys.stdout.flush()  # nothing buffered here may be written twice
        sys.stderr.flush()
        process.start()
        runs.append(run)
        processes.append((process, time.monotonic()))
    gc.enable()
    for run, (process, began) in zip(runs, processes, strict=True):
        process.join()
        run.exit_code = process.exitcode if process.exitcode is not None else EXIT_USAGE
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
