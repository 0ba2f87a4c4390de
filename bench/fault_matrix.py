"""Fault matrix: every scenario of fixtures/fault_scenarios.toml injected into a healthy
stack, one at a time; the verify suite must name its F-code, G-node and cause words.

Per scenario: the seconds from ``up`` to the verdict — for an external-mode scenario from
the ``up`` that recreated the faulty service (or, where nothing was recreated, the start of
the ``pytest verify/`` process) to the end of its checks, without the process's own
start-up (the ``wall`` column keeps it: Python, plugin and collection take seconds on a
loaded machine), for a compose-mode one (the run brings the
broken stack up itself) from the end of ``up`` until every check had settled — whether its
cause is final, and the root check's FAIL line. Prints min/median/max over the matrix and
over the final-cause scenarios (target: median ≤ 5 s, none above 12 s: no budget waited
out for a cause that cannot heal), and the median for the start-up deaths.

Exit 1 on any mismatch. ``--only NAME`` (repeatable) runs a subset.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from fixtures.faults import Scenario, VerifyOutcome, load_scenarios

from .common import (
    EXIT_FAIL,
    EXIT_OK,
    emit,
    emit_spread,
    healthy_stack,
    parser,
    run_main,
    timed_verify,
)

STARTUP_DEATH_TARGET_S = 5.0
FINAL_MEDIAN_TARGET_S = 5.0
FINAL_MAX_TARGET_S = 12.0


def verdict_matches(scenario: Scenario, outcome: VerifyOutcome) -> bool:
    return (
        outcome.verify_code == scenario.expect_f_code
        and outcome.node == scenario.expect_node
        and all(word in outcome.fail_line for word in scenario.expect_words)
    )


def main() -> int:
    cli = parser(__doc__)
    cli.add_argument("--only", action="append", default=[], metavar="NAME", help="scenario name")
    args = cli.parse_args()
    scenarios = [s for s in load_scenarios() if not args.only or s.name in args.only]
    if not scenarios:
        cli.error(f"no scenario named {', '.join(args.only)}")
    rows: list[tuple[str, bool, float]] = []
    width = max(len(name) for name in ["healthy", *(s.name for s in scenarios)])

    def record(
        name: str, ok: bool, seconds: float, outcome: VerifyOutcome, mode: str, final: bool
    ) -> None:
        """Print each row as it lands: the whole matrix takes minutes."""
        rows.append((name, ok, seconds))
        mark = "ok " if ok else "MISMATCH"
        line = outcome.fail_line if outcome.exit_code else "RESULT=PASS"
        kind = "final" if final else "warm-up"
        wall = f"{outcome.wall_s:6.2f} s" if outcome.wall_s else "   -    "
        print(
            f"{name:<{width}} | {mode:<8} | {kind:<7} | {seconds:6.2f} s | {wall} | {mark} | "
            f"{line}",
            flush=True,
        )

    print(
        f"{'scenario':<{width}} | mode     | cause   | from up  | wall     | ok  | FAIL line",
        flush=True,
    )
    started = time.monotonic()
    startup_deaths: list[float] = []
    finals: dict[str, float] = {}
    with healthy_stack(args.online) as bench, tempfile.TemporaryDirectory() as tmp:
        seconds, outcome = timed_verify(bench.workdir)
        record("healthy", outcome.verify_code == "F-OK", seconds, outcome, "external", False)
        for scenario in scenarios:
            outcome, seconds = bench.verify(scenario, Path(tmp) / f"{scenario.name}.json")
            matches = verdict_matches(scenario, outcome)
            record(scenario.name, matches, seconds, outcome, scenario.stack, scenario.final)
            if scenario.settled_within_s is not None:
                startup_deaths.append(seconds)
            if scenario.final:
                finals[scenario.name] = seconds
    total_s = time.monotonic() - started
    mismatches = [row for row in rows if not row[1]]
    emit("fault_matrix_named", f"{len(rows) - len(mismatches)}/{len(rows)}")
    for name, _, seconds in rows:
        emit(f"fault_matrix_{name}", seconds, "s")
    if startup_deaths:
        median = statistics.median(startup_deaths)
        emit("fault_matrix_startup_death_median_after_up", median, "s")
        print(
            f"start-up deaths: median {median:.2f} s after up (target ≤ {STARTUP_DEATH_TARGET_S} s)"
        )
    emit_spread("fault_matrix_from_up", [seconds for name, _, seconds in rows if name != "healthy"])
    slow: list[str] = []
    if finals:
        emit_spread("fault_matrix_final_from_up", list(finals.values()))
        median = statistics.median(finals.values())
        slow = [f"{name} {s:.1f} s" for name, s in finals.items() if s > FINAL_MAX_TARGET_S]
        print(
            f"final causes: median {median:.2f} s from up (target ≤ {FINAL_MEDIAN_TARGET_S} s), "
            f"above {FINAL_MAX_TARGET_S} s: {', '.join(slow) or 'none'}"
        )
        if median > FINAL_MEDIAN_TARGET_S:
            slow.append(f"median {median:.2f} s")
    emit("fault_matrix_total", total_s, "s")
    return EXIT_FAIL if mismatches or slow else EXIT_OK


if __name__ == "__main__":
    run_main(main)
