"""Standard pytest outcomes and ``--format``: one dead external stack counted alike by the
terminal, verify.json and JUnit; each machine format alone on stdout, parsed by what reads
it (json, ElementTree, a TAP reader's rules, Nagios's line and exit code, prometheus-client's
parser and promtool); the metrics file written atomically. Docker-free: real ``pytest
verify/`` processes against closed loopback ports."""

from __future__ import annotations

import json
import os
import re
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from fixtures.faults import verify_command
from fixtures.local_prometheus import free_loopback_port
from fixtures.prometheus_tools import PROMTOOL_BIN, needs_prometheus_tools
from shadow_mvs.core.contract import REPO_ROOT, load_contract
from shadow_mvs.core.run import CheckFailed, VerifyRun
from shadow_mvs.report import formats, metrics

N = len(load_contract().checks)
VERIFY_RULES = "compose/prometheus/rules/verify/shadow_mvs_verify.yml"
VERIFY_DASHBOARD = "compose/grafana/verify/shadow-mvs-verify.json"
ROOTS = ["exporter", "prometheus", "grafana"]  # what a dead stack fails; the rest is blocked


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    reports: Path

    @property
    def report(self) -> dict:
        return json.loads((self.reports / "verify.json").read_text())


def dead_stack_args() -> list[str]:
    return [
        f"--{name}-url=http://127.0.0.1:{free_loopback_port()}"
        for name in ("exporter", "prometheus", "grafana")
    ]


def verify(tmp: Path, *args: str, env: dict[str, str] | None = None) -> Run:
    reports = tmp / "reports"
    result = subprocess.run(
        verify_command(
            "-p",
            "no:cacheprovider",
            f"--json-report-file={reports / 'verify.json'}",
            *dead_stack_args(),
            *args,
        ),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )
    return Run(result.returncode, result.stdout, result.stderr, reports)


@pytest.fixture(scope="module")
def text_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return verify(tmp_path_factory.mktemp("text"))


@pytest.fixture(scope="module")
def json_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    tmp = tmp_path_factory.mktemp("json")
    (tmp / "textfile").mkdir()  # a textfile collector's directory exists before any run
    return verify(tmp, "--format=json", f"--metrics-file={tmp / 'textfile' / 'verify.prom'}")


# --- item 1: standard outcomes, three reports, one count -------------------------------------


def test_dead_stack_counts_agree_in_terminal_json_and_junit(text_run: Run):
    assert text_run.code == 1, text_run.stdout + text_run.stderr
    summary_line = text_run.stdout.strip().splitlines()[-1]
    counted = rf"^=+ {len(ROOTS)} failed, {N - len(ROOTS)} skipped in [\d.]+s =+$"
    assert re.match(counted, summary_line), summary_line
    report = text_run.report
    assert report["summary"]["failed"] == len(ROOTS)  # jq .summary.failed
    assert report["summary"]["skipped"] == N - len(ROOTS)
    assert "check failed" not in report["summary"]
    outcomes = {
        t["nodeid"].split("/")[1].split(".py")[0][5:]: t["outcome"] for t in report["tests"]
    }
    assert {c for c, o in outcomes.items() if o == "failed"} == set(ROOTS)
    assert {o for c, o in outcomes.items() if c not in ROOTS} == {"skipped"}
    # The suite's own status stays in its own fields.
    statuses = {c["check"]: c["status"] for c in report["checks"]}
    assert {statuses[c] for c in ROOTS} == {"fail"}
    assert {s for c, s in statuses.items() if c not in ROOTS} == {"blocked"}
    suite = ET.parse(text_run.reports / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("failures"), suite.get("skipped"), suite.get("errors")) == (
        str(len(ROOTS)),
        str(N - len(ROOTS)),
        "0",
    )


def test_a_run_with_no_secret_in_play_keeps_its_json_report_whole(tmp_path: Path):
    """No token, no .env admin: the redactor has nothing to hide, and the report it
    passes through must still be the whole document (it once came out as {})."""
    run = verify(
        tmp_path,
        env={
            "SHADOW_MVS_ENV_FILE": str(tmp_path / "absent.env"),
            "GRAFANA_AUTH": "",
            "GF_SECURITY_ADMIN_USER": "",
            "GF_SECURITY_ADMIN_PASSWORD": "",
        },
    )
    assert run.code == 1, run.stdout + run.stderr
    assert run.report["result"] == "FAIL"
    assert run.report["summary"]["failed"] >= 1


def test_blocked_check_is_skipped_with_its_reason_everywhere(text_run: Run):
    targets = next(t for t in text_run.report["tests"] if "test_targets" in t["nodeid"])
    reason = targets["setup"]["longrepr"]
    assert "Skipped: blocked by F-FAIL-EXPORTER (exporter)" in reason
    assert "blocked by F-FAIL-EXPORTER (exporter)" in ET.tostring(
        ET.parse(text_run.reports / "junit.xml").getroot(), encoding="unicode"
    )
    # Told once by the verify block; pytest's summary sections do not repeat it.
    assert "short test summary" not in text_run.stdout
    assert "= FAILURES =" not in text_run.stdout


def test_triage_symptom_names_the_url_being_verified(text_run: Run):
    exporter_url = text_run.report["stack"]["urls"]["exporter_url"]
    symptom = next(line for line in text_run.stdout.splitlines() if "|symptom: " in line)
    assert symptom.startswith(f"TRIAGE|G-1|symptom: {exporter_url}/metrics "), symptom
    assert "127.0.0.1:9109" not in symptom


# --- item 2: formats ------------------------------------------------------------------------


def test_json_format_is_verify_json_alone_on_stdout(json_run: Run):
    assert json_run.code == 1, json_run.stderr
    document = json.loads(json_run.stdout)  # nothing else on stdout
    assert document == json_run.report
    assert document["result"] == "FAIL"
    assert document["summary"]["failed"] == len(ROOTS)
    assert "RESULT=FAIL" in json_run.stderr  # pytest's own output went to stderr


def test_junit_format_is_junit_xml_alone_on_stdout(tmp_path: Path):
    run = verify(tmp_path, "--format=junit")
    root = ET.fromstring(run.stdout)
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("name") == "shadow-mvs-verify"
    assert suite.get("failures") == str(len(ROOTS))
    assert run.stdout.strip() == (run.reports / "junit.xml").read_text().strip()


def test_tap_format_is_tap13(tmp_path: Path):
    run = verify(tmp_path, "--format=tap")
    lines = run.stdout.splitlines()
    assert lines[:2] == ["TAP version 13", f"1..{N}"], run.stdout
    points = [line for line in lines if re.match(r"^(not )?ok \d+ - ", line)]
    assert len(points) == N
    assert [p.startswith("not ok") for p in points].count(True) == len(ROOTS)
    skips = [p for p in points if " # SKIP blocked by F-FAIL-" in p]
    assert len(skips) == N - len(ROOTS)
    assert all(p.startswith("ok ") for p in skips)
    # Every line is a TAP line: version, plan, test point, YAML block or comment.
    allowed = re.compile(r"^(TAP version 13|1\.\.\d+|(not )?ok \d+ - .*|  .*|#.*)$")
    assert all(allowed.match(line) for line in lines), run.stdout


def test_nagios_format_is_one_critical_line_with_perfdata_and_exit_2(tmp_path: Path):
    run = verify(tmp_path, "--format=nagios")
    assert run.code == formats.NAGIOS_CRITICAL, run.stderr
    lines = run.stdout.splitlines()
    assert len(lines) == 1, run.stdout
    text, perfdata = lines[0].split(" | ")
    assert text.startswith("SHADOW-MVS VERIFY CRITICAL - F-FAIL-EXPORTER exporter: ")
    assert f"failed={len(ROOTS)};;;0;{N}" in perfdata.split()
    assert f"blocked={N - len(ROOTS)};;;0;{N}" in perfdata.split()
    assert (run.reports / "verify.json").is_file()  # files under reports/ are still written


def test_nagios_usage_error_is_unknown_exit_3(tmp_path: Path):
    run = verify(tmp_path, "--format=nagios", "--budget-scale=zero")
    assert run.code == formats.NAGIOS_UNKNOWN, run.stdout + run.stderr
    assert run.stdout.startswith("SHADOW-MVS VERIFY UNKNOWN - shadow-mvs: --budget-scale=")
    assert len(run.stdout.splitlines()) == 1


def passing_run(warnings: tuple[str, ...] = ()) -> VerifyRun:
    run = VerifyRun()
    for name in run.records:
        run.settle(name, None)
    run.records["slo"].warnings.extend(warnings)
    run.records["slo"].measurements.update({"slo_error_rate": 0.02, "slo_events_flowing": 3.0})
    return run


def test_nagios_codes_follow_the_verdict():
    assert formats.nagios_code(passing_run()) == formats.NAGIOS_OK
    warned = passing_run(("error_rate 0.02 breaches <0.01",))
    assert formats.nagios_code(warned) == formats.NAGIOS_WARNING
    line = formats.nagios_line(warned, formats.NAGIOS_WARNING, 1.0, "shadow")
    assert line.startswith(f"SHADOW-MVS VERIFY WARNING - {N}/{N} checks passed, 1 SLO warning")
    assert "slo_error_rate=0.02;0.01" in line.split(" | ")[1].split()
    assert formats.nagios_code(passing_run(), stopped=True) == formats.NAGIOS_UNKNOWN
    broken = passing_run()
    broken.settle("slo", RuntimeError("boom"))
    broken.records["slo"].message = "internal error: RuntimeError: boom"
    assert formats.nagios_code(broken) == formats.NAGIOS_UNKNOWN
    failed = passing_run()
    failed.settle("panels", CheckFailed("no data"))
    assert formats.nagios_code(failed) == formats.NAGIOS_CRITICAL


# --- item 3: verify as metrics --------------------------------------------------------------


def families(text: str) -> dict[str, object]:
    return {family.name: family for family in text_string_to_metric_families(text)}


@needs_prometheus_tools
def test_prometheus_format_is_gauges_that_promtool_accepts(tmp_path: Path):
    run = verify(tmp_path, "--format=prometheus")
    found = text_string_to_metric_families(run.stdout)  # nothing else on stdout
    by_name = {family.name: family for family in found}
    assert {family.type for family in by_name.values()} == {"gauge"}
    success = {
        s.labels["check"]: s.value for s in by_name["shadow_mvs_verify_check_success"].samples
    }
    assert success == {name: 0.0 for name in success}
    assert len(success) == N
    result = by_name["shadow_mvs_verify_result"].samples[0].value
    assert result == 0.0
    lint = subprocess.run(
        [str(PROMTOOL_BIN), "check", "metrics"], input=run.stdout, capture_output=True, text=True
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert not (lint.stdout + lint.stderr).strip(), "promtool finds nothing to lint"


@needs_prometheus_tools
def test_metrics_file_is_written_whole_and_promtool_clean(json_run: Run):
    textfile = json_run.reports.parent / "textfile"
    assert [p.name for p in textfile.iterdir()] == ["verify.prom"], "no temp file left"
    text = (textfile / "verify.prom").read_text()
    assert "shadow_mvs_verify_last_run_timestamp_seconds " in text
    lint = subprocess.run(
        [str(PROMTOOL_BIN), "check", "metrics"], input=text, capture_output=True, text=True
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert not (lint.stdout + lint.stderr).strip(), "promtool finds nothing to lint"


def test_metrics_file_in_a_missing_directory_is_a_usage_error(tmp_path: Path):
    run = verify(tmp_path, f"--metrics-file={tmp_path / 'nowhere' / 'verify.prom'}")
    assert run.code == 2, run.stdout + run.stderr
    assert "--metrics-file" in run.stderr
    assert "Traceback" not in run.stderr


def test_slo_values_and_thresholds_become_gauges():
    run = passing_run()
    text = metrics.exposition(metrics.registry_for(run, 1_700_000_000.0, 12.5))
    by_name = families(text)
    values = by_name["shadow_mvs_verify_slo_value"].samples  # type: ignore[attr-defined]
    assert {s.labels["slo"]: s.value for s in values} == {"error_rate": 0.02, "events_flowing": 3.0}
    assert "shadow_mvs_verify_last_run_timestamp_seconds 1.7e+09" in text
    assert "shadow_mvs_verify_result 1.0" in text


def test_not_selected_checks_have_no_samples():
    run = passing_run()
    run.select({"exporter"})
    by_name = families(metrics.exposition(metrics.registry_for(run, 0.0, 0.0)))
    samples = by_name["shadow_mvs_verify_check_success"].samples  # type: ignore[attr-defined]
    assert [s.labels["check"] for s in samples] == ["exporter"]


def test_alert_rules_and_dashboard_read_only_series_the_metrics_have():
    """VerifyFailing/VerifyStale and the verify dashboard query series verify writes."""
    written = set(families(metrics.exposition(metrics.registry_for(passing_run(), 0.0, 0.0))))
    rules = yaml.safe_load((REPO_ROOT / VERIFY_RULES).read_text())
    rule_exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    assert {rule["alert"] for group in rules["groups"] for rule in group["rules"]} == {
        "VerifyFailing",
        "VerifyStale",
    }
    dashboard = json.loads((REPO_ROOT / VERIFY_DASHBOARD).read_text())
    panel_exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    for exprs in (rule_exprs, panel_exprs):
        named = {name for expr in exprs for name in re.findall(r"shadow_mvs_verify_\w+", expr)}
        assert named
        assert named <= written, named - written


def test_verify_rules_stay_out_of_the_local_stack():
    """The stack's rule_files glob does not reach them: the `rules` check expects exactly the
    runbook's alerts, and VerifyStale would fire for ever where nobody writes the metrics."""
    config = yaml.safe_load((REPO_ROOT / "compose/prometheus/prometheus.yml").read_text())
    loaded = {
        path.resolve()
        for pattern in config["rule_files"]
        for path in (REPO_ROOT / "compose/prometheus").glob(pattern)
    }
    assert loaded
    assert (REPO_ROOT / VERIFY_RULES).resolve() not in loaded
