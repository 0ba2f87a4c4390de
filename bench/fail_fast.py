"""Fail fast: a healthy stack with its exporter stopped must end in RESULT=FAIL with
F-FAIL-EXPORTER after about one retry budget (10 s), not the sum of all budgets."""

from __future__ import annotations

from typing import Any

from shadow_mvs.core.contract import load_contract

from .common import (
    EXIT_FAIL,
    EXIT_OK,
    emit,
    failure_line,
    healthy_stack,
    parser,
    run_main,
    timed_verify,
    wait_green,
)

EXPECTED = "F-FAIL-EXPORTER"


def main() -> int:
    args = parser(__doc__).parse_args()
    contract = load_contract()
    budget_s = contract.check("exporter").budget_s
    all_budgets_s = sum(check.budget_s for check in contract.checks)
    with healthy_stack(args.online) as bench:
        wait_green(bench)
        restore = bench.stop_service("exporter")
        try:
            seconds, outcome = timed_verify(bench.workdir)
        finally:
            restore()
    exporter: dict[str, Any] = next(
        (
            t["metadata"]
            for t in outcome.report.get("tests", [])
            if t["metadata"]["check"] == "exporter"
        ),
        {},
    )
    emit("fail_fast_wall", seconds, "s")
    emit("fail_fast_exporter_check", float(exporter.get("elapsed_s", -1)), "s")
    emit("fail_fast_exporter_attempts", str(exporter.get("attempts", "?")))
    emit("fail_fast_budget", float(budget_s), "s")
    emit("fail_fast_sum_of_budgets", float(all_budgets_s), "s")
    named = outcome.verify_code == EXPECTED and "RESULT=FAIL" in outcome.output
    # One budget plus pytest start-up; a second budget spent anywhere would cross 2x.
    within_one_budget = seconds < 2 * budget_s
    print(
        f"fail fast: {failure_line(outcome)} after {seconds:.2f} s "
        f"(budget {budget_s:.0f} s, sum of budgets {all_budgets_s:.0f} s)"
    )
    if not named:
        print(f"  expected {EXPECTED}, got {outcome.verify_code}")
    if not within_one_budget:
        print(f"  took {seconds:.2f} s: more than one {budget_s:.0f} s budget")
    return EXIT_OK if named and within_one_budget else EXIT_FAIL


if __name__ == "__main__":
    run_main(main)
