"""Every reporter line and every verdict field, from hand-built check records."""

import pytest

from shadow_mvs.config.redaction import Redactor
from shadow_mvs.core.contract import load_contract
from shadow_mvs.core.run import CheckBlocked, CheckFailed, VerifyRun
from shadow_mvs.report.reporter import check_line, render, verdict

COMPOSE = "docker compose -p peaktrade-shadow-mvs -f compose/x.yml"


def green_run() -> VerifyRun:
    run = VerifyRun()
    evidence = {"exporter": "E", "prometheus": "P", "grafana": "G", "dashboard": "D"}
    for name, record in run.records.items():
        record.attempts = 3 if name == "targets" else 1
        record.message = f"{name} fine"
        key = "dashboard_uid" if name == "dashboard" else name
        if name in evidence:
            record.evidence[key] = f"{evidence[name]}-value"
        run.settle(name, None)
    return run


def exporter_down_run() -> VerifyRun:
    run = VerifyRun()
    run.records["exporter"].attempts = 21
    run.settle("exporter", CheckFailed("connection refused (gave up after 21 attempts)"))
    run.settle("prometheus", None)
    run.settle("targets", CheckBlocked(run.records["exporter"]))
    return run


def test_pass_block_in_order():
    lines = render(green_run(), COMPOSE)
    names = [check.name for check in load_contract().checks]
    assert names[:4] == ["exporter", "prometheus", "rules", "targets"]
    assert lines[: len(names)] == [f"PASS|{n}|{n} fine" for n in names]
    assert "INFO|targets_retry=2" in lines
    evidence = [line for line in lines if line.startswith("EVIDENCE|")]
    assert evidence == [
        "EVIDENCE|exporter=E-value",
        "EVIDENCE|prometheus=P-value",
        "EVIDENCE|grafana=G-value",
        "EVIDENCE|dashboard_uid=D-value",
    ]
    assert not any(line.startswith("TRIAGE|") for line in lines)
    assert lines[-3:] == [
        "INFO|verify_code=F-OK",
        "RESULT=PASS",
        "INFO|See Contract: docs/CONTRACT.md",
    ]


def test_fail_block_names_code_node_and_commands():
    lines = render(exporter_down_run(), COMPOSE)
    assert lines[0] == "FAIL|F-FAIL-EXPORTER|connection refused (gave up after 21 attempts)"
    assert "FAIL|F-FAIL-TARGETS|blocked by F-FAIL-EXPORTER (exporter); not retried" in lines
    assert "SKIP|grafana|not run" in lines
    assert "TRIAGE|G-1|Exporter down / :9109 unreachable or not an exporter" in lines
    nexts = [line for line in lines if line.startswith("TRIAGE|G-1|next: ")]
    assert len(nexts) >= 2
    assert any(COMPOSE in line for line in nexts)
    assert "INFO|verify_code=F-FAIL-EXPORTER" in lines
    assert "RESULT=FAIL" in lines
    assert lines.index("RESULT=FAIL") > lines.index(nexts[-1])


def test_check_line_for_each_status():
    run = exporter_down_run()
    assert check_line(run.records["prometheus"]).startswith("PASS|prometheus|")
    assert check_line(run.records["exporter"]).startswith("FAIL|F-FAIL-EXPORTER|")
    assert check_line(run.records["targets"]).startswith("FAIL|F-FAIL-TARGETS|blocked")
    assert check_line(run.records["queries"]) == "SKIP|queries|not run"


def test_verdict_fields_on_pass_and_fail():
    passed = verdict(green_run(), COMPOSE, "compose-offline")
    assert passed["result"] == "PASS"
    assert passed["verify_code"] == "F-OK"
    assert passed["triage"] is None
    assert passed["stack"]["mode"] == "compose-offline"
    assert passed["stack"]["pipeline_mode"] == "shadow"
    assert passed["contract_version"]
    failed = verdict(exporter_down_run(), COMPOSE, "external")
    assert failed["result"] == "FAIL"
    assert failed["verify_code"] == "F-FAIL-EXPORTER"
    assert failed["failing_check"] == "exporter"
    assert failed["triage"]["node"] == "G-1"
    assert failed["triage"]["next_commands"]


def test_per_test_metadata_fields():
    meta = exporter_down_run().records["exporter"].as_metadata()
    for key in ("check", "f_code", "g_node", "attempts", "elapsed_s", "evidence", "last_error"):
        assert key in meta
    assert meta["g_node"] == "G-1"
    assert meta["attempts"] == 21
    assert green_run().records["exporter"].as_metadata()["g_node"] is None


def test_scrub_removes_secrets_everywhere():
    report = {"a": "user:Pa$$w0rd-x", "b": ["Pa$$w0rd-x"], "Pa$$w0rd-x": 1, "c": 'q"uote'}
    cleaned = Redactor(["Pa$$w0rd-x", 'q"uote']).data(report)
    assert "Pa$$w0rd-x" not in str(cleaned)
    assert cleaned["a"] == "user:***"
    assert cleaned["c"] == "***"


@pytest.mark.parametrize("secrets", [[], ["absent-secret"]])
def test_scrub_keeps_report_when_nothing_to_hide(secrets):
    report = {"tests": [1, 2], "result": "PASS"}
    assert Redactor(secrets).data(report) == report


def two_roots_run() -> VerifyRun:
    """Exporter and Grafana both down: each root comes before the checks it blocked."""
    run = VerifyRun()
    run.settle("exporter", CheckFailed("exporter refused"))
    run.settle("prometheus", None)
    run.settle("rules", None)
    for name in ("targets", "queries"):
        run.records[name].blocked_by = "exporter"
        run.settle(name, CheckBlocked(run.records["exporter"]))
    run.settle("grafana", CheckFailed("grafana refused"))
    for name in ("datasource", "dashboard"):
        run.records[name].blocked_by = "grafana"
        run.settle(name, CheckBlocked(run.records["grafana"]))
    return run


def test_each_check_once_root_first_then_what_it_blocked():
    lines = render(two_roots_run(), COMPOSE)
    block = [line for line in lines if line.split("|")[0] in ("PASS", "FAIL", "SKIP")]
    assert [line.split("|")[1] for line in block] == [
        "F-FAIL-EXPORTER",
        "F-FAIL-TARGETS",
        "F-FAIL-QUERIES",
        "F-FAIL-GRAFANA",
        "F-FAIL-DATASOURCE",
        "F-FAIL-DASHBOARD",
        "prometheus",
        "rules",
        "panels",
        "slo",
        "alerting",
    ]
    assert block[-1] == "SKIP|alerting|not run"
    assert "RESULT=FAIL" in lines


def test_partial_run_says_so_and_not_selected_is_not_a_failure():
    run = VerifyRun()
    run.select({"exporter", "targets"})
    run.settle("exporter", None)
    run.settle("targets", None)
    lines = render(run, COMPOSE)
    assert f"RESULT=PASS (partial: 2 of {len(run.records)} checks selected)" in lines
    assert "SKIP|grafana|not selected" in lines
    assert "INFO|targets_ran_without=prometheus (not selected)" in lines
    report = verdict(run, COMPOSE, "external")
    assert report["result"] == "PASS"
    assert report["partial"] is True
    assert report["selection"]["selected"] == ["exporter", "targets"]


def test_full_run_has_no_partial_note():
    assert render(green_run(), COMPOSE)[-2] == "RESULT=PASS"
    assert verdict(green_run(), COMPOSE, "x")["partial"] is False


def test_external_mode_prints_verified_urls_and_no_docker():
    urls = {
        "exporter_url": "http://exp.example:19109",
        "prometheus_url": "https://prom.example",
        "grafana_url": "https://graf.example",
    }
    for name, code in (("exporter", "G-1"), ("prometheus", "G-2"), ("grafana", "G-4")):
        run = VerifyRun()
        run.settle(name, CheckFailed("down"))
        nexts = [line for line in render(run, None, urls) if "|next: " in line]
        assert nexts, code
        assert not any(
            "docker" in line or "$" in line.replace("$GRAFANA_AUTH", "") for line in nexts
        )
        assert not any("127.0.0.1" in line for line in nexts)
    run = VerifyRun()
    run.settle("exporter", CheckFailed("down"))
    assert verdict(run, None, "external", urls)["triage"]["next_commands"] == [
        "curl -fsS http://exp.example:19109/metrics | head -n 20"
    ]
    # compose mode keeps the compose commands
    assert any("docker compose" in line for line in render(run, COMPOSE) if "|next: " in line)


def test_slo_warning_is_a_warn_line_and_the_verdict_stands():
    run = green_run()
    run.records["slo"].warnings.append("error_rate=0.05 ratio breaches <0.01 (mode shadow) -> R-3")
    lines = render(run, COMPOSE)
    warn = "WARN|slo|error_rate=0.05 ratio breaches <0.01 (mode shadow) -> R-3"
    assert warn in lines
    assert lines.index(warn) < lines.index("RESULT=PASS")
    assert run.verify_code == "F-OK"


def test_slo_gate_failure_routes_to_its_incident_runbook():
    run = green_run()
    run.records["slo"].status = "pending"
    run.settle("slo", CheckFailed("SLO gate: risk_block_rate=0.6 …", cause="risk_block_rate"))
    lines = render(run, COMPOSE)
    fail = next(line for line in lines if line.startswith("FAIL|F-FAIL-SLO|"))
    assert "risk rules block more signals than the SLO allows" in fail
    assert "SLO gate: risk_block_rate=0.6 …" in fail
    assert "TRIAGE|R-4|Risk blocks unexpected" in lines
    assert verdict(run, COMPOSE, "compose-offline")["triage"]["node"] == "R-4"
