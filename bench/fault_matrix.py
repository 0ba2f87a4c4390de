"""Fault matrix: every scenario of fixtures/fault_scenarios.toml injected into a healthy
stack, one at a time; the verify suite must name its F-code and G-node.

Exit 1 on any mismatch. ``--only NAME`` (repeatable) runs a subset.
"""

from __future__ import annotations

import time

from fixtures.faults import VerifyOutcome, load_scenarios

from .common import (
    EXIT_FAIL,
    EXIT_OK,
    emit,
    failure_line,
    healthy_stack,
    parser,
    run_main,
    timed_verify,
)


def main() -> int:
    cli = parser(__doc__)
    cli.add_argument("--only", action="append", default=[], metavar="NAME", help="scenario name")
    args = cli.parse_args()
    scenarios = [s for s in load_scenarios() if not args.only or s.name in args.only]
    if not scenarios:
        cli.error(f"no scenario named {', '.join(args.only)}")
    rows: list[tuple[str, str, str, float]] = []
    width = max(len(name) for name in ["healthy", *(s.name for s in scenarios)])

    def record(name: str, expected: str, outcome: VerifyOutcome, seconds: float) -> None:
        """Print each row as it lands: the whole matrix takes minutes."""
        got = f"{outcome.verify_code} {outcome.node or '-'}"
        rows.append((name, expected, got, seconds))
        mark = "" if expected == got else f"   <-- MISMATCH: {failure_line(outcome)}"
        print(f"{name:<{width}} | {expected:<22} | {got:<22} | {seconds:7.2f}{mark}", flush=True)

    print(f"{'scenario':<{width}} | {'expected':<22} | {'got':<22} | seconds", flush=True)
    started = time.monotonic()
    with healthy_stack(args.online) as bench:
        seconds, outcome = timed_verify(bench.workdir)
        record("healthy", "F-OK -", outcome, seconds)
        for scenario in scenarios:
            restore, verify_env = bench.inject(scenario)
            try:
                seconds, outcome = timed_verify(bench.workdir, env=verify_env)
            finally:
                restore()
            expected = f"{scenario.expect_f_code} {scenario.expect_node}"
            record(scenario.name, expected, outcome, seconds)
    total_s = time.monotonic() - started
    mismatches = [row for row in rows if row[1] != row[2]]
    emit("fault_matrix_named", f"{len(rows) - len(mismatches)}/{len(rows)}")
    for name, _, _, seconds in rows:
        emit(f"fault_matrix_{name}", seconds, "s")
    emit("fault_matrix_total", total_s, "s")
    return EXIT_FAIL if mismatches else EXIT_OK


if __name__ == "__main__":
    run_main(main)
