"""A short flake run: consecutive verifies against one healthy stack must all pass.

N comes from SHADOW_MVS_FLAKE_RUNS (default 5); `python -m bench.flake_run` is the long
run (50). The first verify follows `up` directly, so it also covers target discovery.
"""

import os

import pytest

from fixtures.faults import FaultBench, run_verify

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def flake_runs() -> int:
    raw = os.environ.get("SHADOW_MVS_FLAKE_RUNS") or "5"
    if not raw.isdigit() or int(raw) < 1:
        pytest.fail(f"SHADOW_MVS_FLAKE_RUNS must be a positive integer, got {raw!r}")
    return int(raw)


def test_consecutive_verifies_all_pass(fault_bench: FaultBench, tmp_path):
    runs = flake_runs()
    failures = []
    for run in range(1, runs + 1):
        outcome = run_verify(tmp_path / f"verify-{run}.json")
        if outcome.exit_code != 0 or outcome.verify_code != "F-OK":
            first_fail = next(
                (
                    line
                    for line in outcome.output.splitlines()
                    if line.startswith(f"FAIL|{outcome.verify_code}|")
                ),
                "",
            )
            failures.append(f"run {run}: verify_code={outcome.verify_code} {first_fail}")
    print(f"flake_pass={runs - len(failures)}/{runs}")
    assert not failures, f"{len(failures)} of {runs} verifies failed: " + "; ".join(failures)
