"""Warm verify against the plain alternatives: stack up once, then in turn the runbook's
own script (``--peer``, default ``shared/bench-peers/seed_verify.sh`` beside the checkout:
curl + python per request, what an operator would otherwise run), the bare Phase F script
(bench/bare_phase_f.py: the Python baseline, one attempt per check) and the whole
``pytest verify/ --stack=external`` process, K times each, alternated against the same
stack. Prints every spread and the ratios of the medians (target: verify <= 1.5x the
runbook script).

``--stack-running`` skips up/down and measures whatever already runs on the contract
ports (for example after ``shadow-mvs up``).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from tempfile import TemporaryDirectory

from shadow_mvs.core.contract import REPO_ROOT

from .bare_phase_f import grafana_pair
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


def default_peer() -> Path | None:
    """The runbook script beside the checkout (../shared or ../../shared), if there."""
    for root in (REPO_ROOT.parent, REPO_ROOT.parent.parent):
        candidate = root / "shared" / "bench-peers" / "seed_verify.sh"
        if candidate.exists():
            return candidate
    return None


def timed_peer(script: Path) -> tuple[float, str]:
    env = {**os.environ, "GRAFANA_AUTH": grafana_pair()}  # the script's own login variable
    started = time.monotonic()
    result = subprocess.run(
        ["bash", str(script)], capture_output=True, text=True, check=False, env=env
    )
    lines = result.stdout.strip().splitlines()
    return time.monotonic() - started, lines[-1] if lines else ""


def main() -> int:
    cli = parser(__doc__)
    cli.add_argument("--runs", type=int, default=7, help="timed rounds (default 7)")
    cli.add_argument("--peer", type=Path, default=default_peer(), help="the runbook script")
    cli.add_argument(
        "--stack-running", action="store_true", help="measure the stack that already runs"
    )
    args = cli.parse_args()
    verify_times: list[float] = []
    bare_times: list[float] = []
    peer_times: list[float] = []
    failures: list[str] = []
    warmup_s = 0.0
    with TemporaryDirectory(prefix="shadow-mvs-warm-") as tmp:
        context = nullcontext(None) if args.stack_running else healthy_stack(args.online)
        with context as bench:
            workdir = bench.workdir if bench is not None else Path(tmp)
            if bench is not None:
                warmup_s = wait_green(bench)
            for run in range(1, args.runs + 1):
                if args.peer is not None:
                    seconds, peer_result = timed_peer(args.peer)
                    peer_times.append(seconds)
                    if peer_result != "RESULT=PASS":
                        failures.append(f"runbook script run {run}: {peer_result or 'no output'}")
                seconds, bare_result = timed_bare()
                bare_times.append(seconds)
                if bare_result != "RESULT=PASS":
                    failures.append(f"bare run {run}: {bare_result or 'no output'}")
                seconds, outcome = timed_verify(workdir)
                verify_times.append(seconds)
                if outcome.verify_code != "F-OK":
                    failures.append(f"verify run {run}: {failure_line(outcome)}")
    verify_median = statistics.median(verify_times)
    bare_ratio = verify_median / statistics.median(bare_times)
    if warmup_s:
        emit("warm_verify_warmup", warmup_s, "s")
    emit_spread("warm_verify", verify_times)
    emit_spread("warm_bare_phase_f", bare_times)
    emit("warm_verify_ratio_to_bare", bare_ratio, "x")
    if peer_times:
        emit_spread("warm_runbook_script", peer_times)
        ratio = verify_median / statistics.median(peer_times)
        emit("warm_verify_ratio", ratio, "x")
    else:
        ratio = bare_ratio
        print("no runbook script (--peer): the ratio is against the bare Phase F script")
    emit("warm_verify_runs", str(len(verify_times)))
    emit("warm_verify_load_1m", os.getloadavg()[0])
    print(
        f"warm verify: median {verify_median:.2f} s; runbook script median "
        f"{statistics.median(peer_times) if peer_times else float('nan'):.2f} s, bare Phase F "
        f"script median {statistics.median(bare_times):.2f} s: ratio {ratio:.2f}x "
        f"(target <= {TARGET_RATIO}x; {bare_ratio:.2f}x to the bare script) over "
        f"{len(verify_times)} alternating rounds"
    )
    for failure in failures:
        print(f"  not PASS: {failure}")
    return EXIT_FAIL if failures or ratio > TARGET_RATIO else EXIT_OK


if __name__ == "__main__":
    run_main(main)
