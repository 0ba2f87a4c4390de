"""Warm verify against the plain alternative: stack up once, then alternately the bare
Phase F script (bench/bare_phase_f.py: stdlib only, one attempt per check) and the whole
``pytest verify/ --stack=external`` process, K times each, against the same stack. Prints
both spreads and the ratio of the medians (target: verify <= 1.5x the bare script).

``--stack-running`` skips up/down and measures whatever already runs on the contract
ports (for example after ``shadow-mvs up``).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from tempfile import TemporaryDirectory

from shadow_mvs.core.contract import REPO_ROOT

from .common import (
    EXIT_FAIL,
    EXIT_OK,
    emit,
    emit_spread,
    failure_line,
    healthy_stack,
    parser,
    run_main,
    timed_verify,
    wait_green,
)

TARGET_RATIO = 1.5
BARE_SCRIPT = REPO_ROOT / "bench" / "bare_phase_f.py"


def timed_bare() -> tuple[float, str]:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, str(BARE_SCRIPT)], capture_output=True, text=True, check=False
    )
    lines = result.stdout.strip().splitlines()
    return time.monotonic() - started, lines[-1] if lines else ""


def main() -> int:
    cli = parser(__doc__)
    cli.add_argument("--runs", type=int, default=5, help="timed pairs (default 5)")
    cli.add_argument(
        "--stack-running", action="store_true", help="measure the stack that already runs"
    )
    args = cli.parse_args()
    verify_times: list[float] = []
    bare_times: list[float] = []
    failures: list[str] = []
    warmup_s = 0.0
    with TemporaryDirectory(prefix="shadow-mvs-warm-") as tmp:
        context = nullcontext(None) if args.stack_running else healthy_stack(args.online)
        with context as bench:
            workdir = bench.workdir if bench is not None else Path(tmp)
            if bench is not None:
                warmup_s = wait_green(bench)
            for run in range(1, args.runs + 1):
                seconds, bare_result = timed_bare()
                bare_times.append(seconds)
                if bare_result != "RESULT=PASS":
                    failures.append(f"bare run {run}: {bare_result or 'no output'}")
                seconds, outcome = timed_verify(workdir)
                verify_times.append(seconds)
                if outcome.verify_code != "F-OK":
                    failures.append(f"verify run {run}: {failure_line(outcome)}")
    ratio = statistics.median(verify_times) / statistics.median(bare_times)
    if warmup_s:
        emit("warm_verify_warmup", warmup_s, "s")
    emit_spread("warm_verify", verify_times)
    emit_spread("warm_bare_phase_f", bare_times)
    emit("warm_verify_ratio", ratio, "x")
    emit("warm_verify_runs", str(len(verify_times)))
    print(
        f"warm verify: median {statistics.median(verify_times):.2f} s, bare Phase F script "
        f"median {statistics.median(bare_times):.2f} s: ratio {ratio:.2f}x "
        f"(target <= {TARGET_RATIO}x) over {len(verify_times)} alternating pairs"
    )
    for failure in failures:
        print(f"  not PASS: {failure}")
    return EXIT_FAIL if failures or ratio > TARGET_RATIO else EXIT_OK


if __name__ == "__main__":
    run_main(main)
