"""The fault matrix: every scenario breaks one link of a healthy offline stack, and the
verify suite must name the right first F-code and G-node — the diagnosis is the product."""

import json
from pathlib import Path

import pytest

from fixtures.faults import FaultBench, load_scenarios, run_cli, run_verify
from shadow_mvs.core.causes import load_causes
from shadow_mvs.core.contract import load_contract

SCENARIOS = load_scenarios()

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def test_healthy_stack_passes_before_any_fault(fault_bench: FaultBench, tmp_path):
    # With the pre-live gate on: the healthy profile meets every SLO, no alert would fire.
    outcome = run_verify(tmp_path / "verify.json", env={"SHADOW_MVS_SLO_GATE": "true"})
    assert outcome.exit_code == 0, outcome.output
    assert outcome.report["result"] == "PASS"
    assert outcome.verify_code == "F-OK"
    assert "EVIDENCE|slo_error_rate=" in outcome.output
    assert "breach" not in outcome.output
    # The gate waited only until each ratio SLO's confidence bound settled below its limit.
    assert "confidence=0.95" in outcome.output
    for ratio in ("error_rate", "intent_to_ack_p95", "risk_block_rate"):
        line = next(x for x in outcome.output.splitlines() if f"EVIDENCE|slo_{ratio}=" in x)
        assert " ok wilson95 upper=" in line, line
    assert "EVIDENCE|alerts_would_fire=none" in outcome.output


def test_partial_runs_on_the_healthy_stack_agree_with_their_exit_code(
    fault_bench: FaultBench, tmp_path
):
    """-m targets on a real stack: a partial PASS, exit 0, upstreams named as not selected;
    the same selection through `shadow-mvs verify -- …` agrees."""
    total = len(load_contract().checks)
    outcome = run_verify(tmp_path / "verify.json", extra_args=("-m", "targets"))
    assert outcome.exit_code == 0, outcome.output
    assert f"RESULT=PASS (partial: 1 of {total} checks selected)" in outcome.output
    assert "INFO|targets_ran_without=exporter,prometheus (not selected)" in outcome.output
    assert outcome.report["partial"] is True
    cli = run_cli(
        "verify",
        "--stack=external",
        "--",
        "-k",
        "exporter",
        f"--json-report-file={tmp_path / 'cli.json'}",
    )
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert f"RESULT=PASS (partial: 1 of {total} checks selected)" in cli.stdout


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_fault_is_named(fault_bench: FaultBench, scenario, tmp_path):
    outcome, seconds = fault_bench.verify(scenario, tmp_path / "verify.json")
    assert outcome.exit_code == 1, outcome.output
    assert outcome.verify_code == scenario.expect_f_code, outcome.output
    assert outcome.node == scenario.expect_node, outcome.output
    assert f"TRIAGE|{scenario.expect_node}|" in outcome.output
    assert "RESULT=FAIL" in outcome.output
    assert "Traceback" not in outcome.output
    assert scenario.expect_detail in outcome.report["failure"], outcome.report["failure"]
    for word in scenario.expect_words:  # the FAIL line names the cause, not only the node
        assert word in outcome.fail_line, outcome.fail_line
    if scenario.final:  # a cause that cannot heal ends the wait: no budget waited out
        assert "gave up after" not in outcome.fail_line, outcome.fail_line
        root = next(
            t["metadata"]
            for t in outcome.report["tests"]
            if t.get("metadata", {}).get("status") == "fail"
            and t["metadata"].get("f_code") == scenario.expect_f_code
        )
        assert root["cause"] is None or load_causes()[root["cause"]].final, root["cause"]
    if scenario.settled_within_s is not None:  # a final state ends the wait
        assert outcome.settled_after_up_s is not None, outcome.output
        assert seconds <= scenario.settled_within_s, outcome.output
    for text in scenario.expect_evidence:
        assert text in outcome.output, text
    forensics = outcome.report["forensics"]
    assert {Path(f).name for f in forensics} >= {
        "prometheus-targets.json",
        "grafana-datasources.json",
        "exporter-metrics.txt",
    }
    assert all(Path(f).is_file() for f in forensics)


def test_every_scenario_names_its_cause_in_words():
    assert all(s.expect_words for s in SCENARIOS), [s.name for s in SCENARIOS if not s.expect_words]


def test_every_g_node_is_reached_by_some_scenario():
    from shadow_mvs.core.triage import load_triage

    reached = {s.expect_node for s in SCENARIOS}
    # R-1 (no SLO data although the chain passed) has no injectable fault that the
    # earlier checks would not name first; tests/verify/test_triage.py routes to it.
    assert set(load_triage()) - {"R-1"} <= reached


def test_live_shaped_stack_verifies_with_mode_live(fault_bench: FaultBench, tmp_path):
    """The same suite verifies a live-shaped stack: only the expected mode changes."""
    restore = fault_bench.exporter_env(SHADOW_MVS_MODE="live", LIVE_TRADING_ENABLED="true")
    try:
        outcome = run_verify(tmp_path / "verify.json", extra_args=("--mode=live",))
    finally:
        restore()
    assert outcome.exit_code == 0, outcome.output
    assert outcome.report["stack"]["pipeline_mode"] == "live"
    assert "mode=live" in outcome.output


def test_slo_breach_without_the_gate_is_a_warning(fault_bench: FaultBench, tmp_path):
    """By default an unhealthy session is reported, not failed: the chain verdict stands."""
    restore = fault_bench.exporter_env(SHADOW_MVS_PROFILE="error_spike", SHADOW_MVS_TICK="0.05")
    try:
        outcome = run_verify(tmp_path / "verify.json", env={"SHADOW_MVS_SLO_GATE": "false"})
    finally:
        restore()
    assert outcome.exit_code == 0, outcome.output
    assert outcome.verify_code == "F-OK"
    assert "WARN|slo|error_rate=" in outcome.output
    assert "-> R-3" in outcome.output
    slo = next(t for t in outcome.report["tests"] if t["nodeid"].startswith("verify/test_slo.py"))
    assert "breach" in slo["metadata"]["evidence"]["slo_error_rate"]
    assert 'stage="error"' in slo["metadata"]["info"]["slo_error_rate_promql"]


def test_r2_drill_follows_a_stall_to_the_receiver_and_back(fault_bench: FaultBench):
    """The one real drill in CI (R-2: `for: 1m`): on the bench's own compose stack (kept, so
    the module's bench stays up), the stalled simulator must raise PeakTradeNoPipelineEvents,
    reach the receiver through the R-2 route with its runbook, and resolve."""
    done = run_cli("drill", "R-2", "--offline", "--keep-stack", "--format", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    timeline = json.loads(done.stdout)
    assert timeline["result"] == "PASS", timeline
    stages = {s["stage"]: s for s in timeline["stages"]}
    assert list(stages) == [
        "fault",
        "pending",
        "firing",
        "sent",
        "notified",
        "restored",
        "resolved",
    ]
    assert "r_node=R-2" in stages["notified"]["note"]
    assert "RUNBOOK.md (R-2" in stages["notified"]["note"]
    assert stages["resolved"]["offset_s"] > stages["restored"]["offset_s"]
    # for 60s + evaluation 5s + scrape 5s + group_wait 2s: read from the loaded configs.
    assert timeline["promise_s"] == 72
    assert timeline["time_to_detect_s"] == stages["notified"]["offset_s"]
    print(f"R-2 drill: time to detect {timeline['time_to_detect_s']} s ({timeline['promise']})")
