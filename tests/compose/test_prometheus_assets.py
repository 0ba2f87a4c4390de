"""Prometheus config and alert rules: promtool-valid, unit-tested, in line with the contract."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from fixtures.prometheus_tools import needs_prometheus_tools
from shadow_mvs.core.contract import Contract
from tests.compose import checks

PROMETHEUS_DIR = Path("compose/prometheus")
RULES = PROMETHEUS_DIR / "rules" / "shadow_mvs_alerts.yml"
RULE_TESTS = PROMETHEUS_DIR / "tests" / "shadow_mvs_alerts_test.yml"
MINI_STACK_CONFIG = Path("compose/mini-stack/prometheus.yml")
PHASE7_ALERTS = {
    "PeakTradeNoPipelineEvents",
    "PeakTradeErrorRateHigh",
    "PeakTradeRiskBlockSpike",
    "PeakTradeAckLatencyHigh",
    "PeakTradeFeedGapsSustained",
}


def promtool_run(promtool: Path, *args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(promtool), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    "args",
    [
        ("check", "config", "compose/prometheus/prometheus.yml"),
        ("check", "config", MINI_STACK_CONFIG),
        ("check", "rules", RULES),
        ("test", "rules", RULE_TESTS),
    ],
    ids=["check-config", "check-mini-stack-config", "check-rules", "test-rules"],
)
@needs_prometheus_tools
def test_promtool_accepts(promtool: Path, repo_root: Path, args):
    result = promtool_run(promtool, *args, cwd=repo_root)
    assert result.returncode == 0, result.stdout + result.stderr


@needs_prometheus_tools
def test_config_loads_the_rules(promtool: Path, repo_root: Path):
    result = promtool_run(
        promtool, "check", "config", "compose/prometheus/prometheus.yml", cwd=repo_root
    )
    assert "SUCCESS: 1 rule files found" in result.stdout


def copy_prometheus_dir(repo_root: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "prometheus"
    shutil.copytree(repo_root / PROMETHEUS_DIR, copy)
    return copy


@pytest.mark.parametrize(
    ("original", "replacement"),
    [
        ("> 0.01", "> 0.10"),  # shadow error budget loosened: the 5 % case no longer fires
        ("> 0.05", "> 5"),  # risk-block floor raised: the spike no longer fires
        ("== 1)", "== 2)"),  # run-state condition never true: the stall no longer fires
        (">= 0.5", ">= 5"),  # ack p95 bound raised: slow acks no longer fire
        (">= 3", ">= 30"),  # feed-gap bound raised: a gapping feed no longer fires
        (">= 0.25", ">= 0.75"),  # share-of-signals arm raised: a fresh run's spike is missed
    ],
    ids=["error-threshold", "risk-floor", "run-state", "ack-p95", "feed-gaps", "risk-share"],
)
@needs_prometheus_tools
def test_rule_unit_tests_catch_a_broken_rule(
    promtool: Path, repo_root: Path, tmp_path: Path, original: str, replacement: str
):
    copy = copy_prometheus_dir(repo_root, tmp_path)
    rules = copy / "rules" / "shadow_mvs_alerts.yml"
    text = rules.read_text()
    assert original in text
    rules.write_text(text.replace(original, replacement))
    result = promtool_run(promtool, "test", "rules", "tests/shadow_mvs_alerts_test.yml", cwd=copy)
    assert result.returncode != 0
    assert "FAILED" in result.stdout + result.stderr


@needs_prometheus_tools
def test_check_config_catches_a_missing_rule_file(promtool: Path, repo_root: Path, tmp_path: Path):
    copy = copy_prometheus_dir(repo_root, tmp_path)
    config = copy / "prometheus.yml"
    config.write_text(config.read_text().replace("rules/*.yml", "rules/missing.yml"))
    # A glob that matches nothing is legal; a named file that is missing is not.
    result = promtool_run(promtool, "check", "config", "prometheus.yml", cwd=copy)
    assert result.returncode != 0


def test_rules_define_the_phase7_alerts(repo_root: Path):
    doc = yaml.safe_load((repo_root / RULES).read_text())
    rules = [rule for group in doc["groups"] for rule in group["rules"]]
    assert {rule["alert"] for rule in rules} == PHASE7_ALERTS
    for rule in rules:
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert {"summary", "runbook", "r_node"} <= set(rule["annotations"]), rule["alert"]
    error_rules = [r for r in rules if r["alert"] == "PeakTradeErrorRateHigh"]
    assert all("clamp_min(" in r["expr"] and "1e-9" in r["expr"] for r in error_rules)


def test_rule_tests_cover_every_alert_firing_and_silent(repo_root: Path):
    doc = yaml.safe_load((repo_root / RULE_TESTS).read_text())
    fired: set[str] = set()
    silent: set[str] = set()
    for case in doc["tests"]:
        for expectation in case["alert_rule_test"]:
            (fired if expectation["exp_alerts"] else silent).add(expectation["alertname"])
    assert fired == PHASE7_ALERTS
    assert silent == PHASE7_ALERTS


@pytest.mark.parametrize("config_file", ["compose/prometheus/prometheus.yml", MINI_STACK_CONFIG])
def test_prometheus_config_matches_contract(
    repo_root: Path, shadow_mvs_contract: Contract, config_file
):
    doc = yaml.safe_load((repo_root / config_file).read_text())
    assert checks.prometheus_config_problems(doc, shadow_mvs_contract) == []


def test_prometheus_config_check_catches_its_faults(repo_root: Path, shadow_mvs_contract: Contract):
    doc = yaml.safe_load((repo_root / shadow_mvs_contract.prometheus["config_file"]).read_text())
    wrong_target = yaml.safe_load(yaml.safe_dump(doc))
    wrong_target["scrape_configs"][0]["static_configs"][0]["targets"] = ["localhost:9109"]
    assert "job targets" in " ".join(
        checks.prometheus_config_problems(wrong_target, shadow_mvs_contract)
    )
    renamed = yaml.safe_load(yaml.safe_dump(doc))
    renamed["scrape_configs"][0]["job_name"] = "peak_trade"
    assert "no scrape job" in " ".join(
        checks.prometheus_config_problems(renamed, shadow_mvs_contract)
    )
    slow = yaml.safe_load(yaml.safe_dump(doc))
    slow["global"]["scrape_interval"] = "15s"
    assert "global.scrape_interval" in " ".join(
        checks.prometheus_config_problems(slow, shadow_mvs_contract)
    )
