"""What every benchmark shares: the ``BENCH|`` line, timing spreads, a healthy stack.

Numbers go to stdout as ``BENCH|<name>=<value> <unit>`` (one per line, grep-able and
stable); everything else is a short human summary around them.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from fixtures.faults import FaultBench, VerifyOutcome, run_verify
from shadow_mvs.config.settings import host_network_default
from shadow_mvs.stack.compose import ComposeProject, EnvironmentProblem, require_docker

EXIT_OK, EXIT_FAIL, EXIT_ENVIRONMENT = 0, 1, 2


def emit(name: str, value: float | str, unit: str = "") -> None:
    text = f"{value:.3f}" if isinstance(value, float) else str(value)
    print(f"BENCH|{name}={text}{' ' + unit if unit else ''}", flush=True)


def emit_spread(name: str, values: Sequence[float], unit: str = "s") -> None:
    emit(f"{name}_min", min(values), unit)
    emit(f"{name}_median", statistics.median(values), unit)
    emit(f"{name}_max", max(values), unit)


def p95(values: Sequence[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


def parser(doc: str | None, stack: bool = True) -> argparse.ArgumentParser:
    """Arguments every benchmark shares; ``--online`` only where a stack is started."""
    prog = f"python -m bench.{Path(sys.argv[0]).stem}"
    description = " ".join((doc or "").split("\n\n")[0].split())
    result = argparse.ArgumentParser(prog=prog, description=description)
    if stack:
        result.add_argument(
            "--online",
            action="store_true",
            help="official images (needs a registry); default: offline image + Grafana stand-in",
        )
    return result


def compose_project(online: bool) -> ComposeProject:
    return ComposeProject(offline=not online, host_network=host_network_default())


@contextmanager
def healthy_stack(online: bool) -> Iterator[FaultBench]:
    """A freshly started stack, always taken down again (also on Ctrl-C or error)."""
    require_docker()
    with tempfile.TemporaryDirectory(prefix="shadow-mvs-bench-") as workdir:
        bench = FaultBench(compose_project(online), Path(workdir))
        bench.down()
        try:
            bench.up()
            yield bench
        finally:
            bench.down()


def timed_verify(
    workdir: Path, env: dict[str, str] | None = None, extra_args: tuple[str, ...] = ()
) -> tuple[float, VerifyOutcome]:
    """Wall time of one whole ``pytest verify/ --stack=external`` process."""
    report = workdir / "verify.json"
    report.unlink(missing_ok=True)  # a stale report must not pass for this run's verdict
    started = time.monotonic()
    outcome = run_verify(report, env, extra_args)
    return time.monotonic() - started, outcome


def failure_line(outcome: VerifyOutcome) -> str:
    """The FAIL line of the check that set the verify code (not a blocked one)."""
    failures = [line for line in outcome.output.splitlines() if line.startswith("FAIL|")]
    named = [line for line in failures if line.startswith(f"FAIL|{outcome.verify_code}|")]
    if named or failures:
        return (named or failures)[0]
    lines = outcome.output.strip().splitlines()
    return lines[-1] if lines else f"no output (exit {outcome.exit_code})"


def wait_green(bench: FaultBench) -> float:
    """The first verify after ``up`` absorbs Prometheus's discovery; it must pass."""
    seconds, outcome = timed_verify(bench.workdir)
    if outcome.verify_code != "F-OK":
        raise EnvironmentProblem(f"healthy stack did not pass: {failure_line(outcome)}")
    return seconds


def run_main(body: Callable[[], int]) -> None:
    """Exit 0/1 from the benchmark; 2 with one sentence when the machine cannot run it."""
    try:
        code = body()
    except EnvironmentProblem as problem:
        print(f"bench: {problem}", file=sys.stderr)
        code = EXIT_ENVIRONMENT
    except subprocess.CalledProcessError as error:
        detail = (error.stderr or error.stdout or "").strip().splitlines()[-1:]
        print(f"bench: {error.cmd!s} failed: {' '.join(detail)}", file=sys.stderr)
        code = EXIT_ENVIRONMENT
    sys.exit(code)


def start_at_grid_phase(phase_s: float, grid_s: float) -> float:
    """Wait until the wall clock is ``phase_s`` into a ``grid_s`` slot; return the phase.

    Prometheus scrapes a target at a fixed offset within each interval of wall-clock time
    (scrape/target.go ``offset``), and Grafana aligns a panel's last point to a multiple of
    its step (promlib ``AlignTimeRange``). A cold run's time therefore depends on where in
    the 5 s grid it starts, and runs started back to back lock onto one phase (each ends on
    a step boundary). Spreading the starts evenly over the grid makes the median a median
    over that phase, not one sample of it. Choosing the start is the point, not a wait for
    something to happen."""
    delay = (phase_s - time.time() % grid_s) % grid_s
    time.sleep(delay)
    return time.time() % grid_s
