"""Flake run: N consecutive verifies against one healthy stack; every one must PASS.

N: ``--runs N``, else env SHADOW_MVS_FLAKE_RUNS, else 50. The first run follows ``up``
directly and so includes Prometheus's target discovery.
"""

from __future__ import annotations

import os

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
)

RUNS_ENV = "SHADOW_MVS_FLAKE_RUNS"


def main() -> int:
    cli = parser(__doc__)
    cli.add_argument(
        "--runs",
        type=int,
        default=int(os.environ.get(RUNS_ENV) or 50),
        help=f"verifies in a row (default: env {RUNS_ENV}, else 50)",
    )
    args = cli.parse_args()
    times: list[float] = []
    failures: list[str] = []
    with healthy_stack(args.online) as bench:
        for run in range(1, args.runs + 1):
            seconds, outcome = timed_verify(bench.workdir)
            times.append(seconds)
            if outcome.exit_code != 0 or outcome.verify_code != "F-OK":
                failures.append(
                    f"run {run}: verify_code={outcome.verify_code} {failure_line(outcome)}"
                )
    passed = len(times) - len(failures)
    emit("flake_pass", f"{passed}/{len(times)}")
    emit("flake_first_verify", times[0], "s")
    emit_spread("flake_verify", times)
    print(f"flake run: {passed} of {len(times)} verifies passed")
    for failure in failures:
        print(f"  {failure}")
    return EXIT_FAIL if failures else EXIT_OK


if __name__ == "__main__":
    run_main(main)
