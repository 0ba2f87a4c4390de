"""Warm verify: stack up once, then K whole ``pytest verify/ --stack=external`` processes.

Target (ARCHITECTURE.md): about 2 s per process.
"""

from __future__ import annotations

import statistics

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

TARGET_S = 2.0


def main() -> int:
    cli = parser(__doc__)
    cli.add_argument("--runs", type=int, default=5, help="timed verify processes (default 5)")
    args = cli.parse_args()
    with healthy_stack(args.online) as bench:
        warmup_s = wait_green(bench)
        times, failures = [], []
        for run in range(1, args.runs + 1):
            seconds, outcome = timed_verify(bench.workdir)
            times.append(seconds)
            if outcome.verify_code != "F-OK":
                failures.append(f"run {run}: {failure_line(outcome)}")
    emit("warm_verify_warmup", warmup_s, "s")
    emit_spread("warm_verify", times)
    emit("warm_verify_runs", str(len(times)))
    print(
        f"warm verify: {len(times)} runs, median {statistics.median(times):.2f} s "
        f"(target ~{TARGET_S:.0f} s); first verify after up {warmup_s:.2f} s"
    )
    for failure in failures:
        print(f"  not PASS: {failure}")
    return EXIT_FAIL if failures else EXIT_OK


if __name__ == "__main__":
    run_main(main)
