"""Prometheus config and alert rules: promtool-valid, unit-tested, in line with the contract."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from fixtures.prometheus_tools import needs_prometheus_tools
from shadow_mvs.core.causes import Finding
from shadow_mvs.core.contract import Contract
from shadow_mvs.evidence.rulebook import prometheus_config, rule_files
from tests.compose.conftest import details

PROMETHEUS_DIR = Path("compose/prometheus")
RULES = PROMETHEUS_DIR / "rules" / "shadow_mvs_alerts.yml"
RULE_TESTS = PROMETHEUS_DIR / "tests" / "shadow_mvs_alerts_test.yml"
# Alerts on verify's own metrics (VerifyFailing, VerifyStale): not loaded by the stack.
VERIFY_RULES = PROMETHEUS_DIR / "rules" / "verify" / "shadow_mvs_verify.yml"
VERIFY_RULE_TESTS = PROMETHEUS_DIR / "tests" / "shadow_mvs_verify_test.yml"
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
        ("check", "rules", VERIFY_RULES),
        ("test", "rules", VERIFY_RULE_TESTS),
    ],
    ids=[
        "check-config",
        "check-mini-stack-config",
        "check-rules",
        "test-rules",
        "check-verify-rules",
        "test-verify-rules",
    ],
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


def config_findings(doc: dict[str, Any], contract: Contract) -> list[Finding]:
    return [
        *prometheus_config.contract_findings(doc, contract),
        *prometheus_config.design_findings(doc, contract),
    ]


@pytest.mark.parametrize("config_file", ["compose/prometheus/prometheus.yml", MINI_STACK_CONFIG])
def test_prometheus_config_matches_contract(
    repo_root: Path, shadow_mvs_contract: Contract, config_file
):
    doc = yaml.safe_load((repo_root / config_file).read_text())
    assert config_findings(doc, shadow_mvs_contract) == []


def test_config_loads_the_contract_rule_group(repo_root: Path, shadow_mvs_contract: Contract):
    path = repo_root / shadow_mvs_contract.prometheus["config_file"]
    doc = yaml.safe_load(path.read_text())
    loaded = rule_files.loaded_rule_files(path, doc)
    assert loaded == [repo_root / RULES]
    assert rule_files.contract_findings(doc, loaded, shadow_mvs_contract) == []


# --- each rule turns red for its fault ---------------------------------------------

Change = Callable[[dict[str, Any]], Any]


def job(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["scrape_configs"][0]


PROMETHEUS_CONFIG_FAULTS: dict[str, tuple[Change, str]] = {
    "wrong target": (
        lambda doc: job(doc)["static_configs"][0].update(targets=["localhost:9109"]),
        "job targets",
    ),
    "extra target": (
        lambda doc: job(doc)["static_configs"][0]["targets"].append("localhost:9109"),
        "job targets",
    ),
    "no target": (lambda doc: job(doc).pop("static_configs"), "job targets []"),
    "job renamed": (lambda doc: job(doc).update(job_name="peak_trade"), "no scrape job"),
    "global scrape interval": (
        lambda doc: doc["global"].update(scrape_interval="15s"),
        "global.scrape_interval",
    ),
    "evaluation interval": (
        lambda doc: doc["global"].update(evaluation_interval="1m"),
        "global.evaluation_interval",
    ),
    "job scrape interval": (
        lambda doc: job(doc).update(scrape_interval="1m"),
        "job scrape_interval '1m'",
    ),
    "no interval at all": (  # Prometheus's default, 1m
        lambda doc: (job(doc).pop("scrape_interval"), doc["global"].pop("scrape_interval")),
        "job scrape_interval '1m'",
    ),
    "absolute rule file": (
        lambda doc: doc.update(rule_files=["/etc/prometheus/rules/*.yml"]),
        "is absolute",
    ),
}


@pytest.mark.parametrize(
    "fault", PROMETHEUS_CONFIG_FAULTS.values(), ids=PROMETHEUS_CONFIG_FAULTS.keys()
)
def test_prometheus_config_check_catches(repo_root: Path, shadow_mvs_contract: Contract, fault):
    change, expected = fault
    doc = yaml.safe_load((repo_root / shadow_mvs_contract.prometheus["config_file"]).read_text())
    change(doc)
    assert expected in details(config_findings(doc, shadow_mvs_contract))


def test_rule_group_check_catches_rule_files_that_load_nothing(
    repo_root: Path, shadow_mvs_contract: Contract
):
    path = repo_root / shadow_mvs_contract.prometheus["config_file"]
    doc = yaml.safe_load(path.read_text())
    doc["rule_files"] = ["rules/absent-*.yml"]
    loaded = rule_files.loaded_rule_files(path, doc)
    assert loaded == []
    [finding] = rule_files.contract_findings(doc, loaded, shadow_mvs_contract)
    assert (finding.check, finding.cause) == ("rules", "rule_files_miss_group")
    assert "load no group 'shadow_mvs'" in finding.detail
