"""reports/junit.xml on every verify run, and in GitHub Actions the ::error annotation and the
step summary — from a real `pytest verify/` process against a real (if tiny) HTTP server.

The server plays a Grafana whose health is fine and whose API refuses the credentials: the
grafana check passes, the dashboard check fails at once (401 is not retried), and panels,
downstream of it, is blocked. Docker-free, a few seconds.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from fixtures.faults import run_verify
from fixtures.locked_grafana import locked_grafana
from shadow_mvs import suite_version
from shadow_mvs.core.run import CheckBlocked, CheckFailed, VerifyRun
from shadow_mvs.core.triage import route
from shadow_mvs.report.ci_reports import annotation, escape_data, escape_property, step_summary

PASSWORD = "Ci-Secret-7f3a"  # the fake Grafana leaks it in its version string
NODE = route("F-FAIL-DASHBOARD", "auth").id  # a 401 routes to the datasource/auth node
COMPOSE = "docker compose -p peaktrade-shadow-mvs --env-file .env -f compose/x.yml"


def fake_grafana():
    return locked_grafana(version=f"fake-{PASSWORD}")


@pytest.fixture(scope="module")
def github_run(tmp_path_factory):
    """One verify run as GitHub Actions would run it; returns (outcome, report dir, summary)."""
    out = tmp_path_factory.mktemp("ci")
    summary = out / "step-summary.md"
    summary.write_text("# earlier step\n")  # the file is shared by all steps: append only
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_STEP_SUMMARY": str(summary),
        "GRAFANA_AUTH": f"admin:{PASSWORD}",
    }
    with fake_grafana() as url:
        outcome = run_verify(
            out / "verify.json",
            env,
            (f"--grafana-url={url}", "-k", "grafana or dashboard or panels"),
        )
    return outcome, out, summary


def junit_cases(junit_file):
    root = ET.parse(junit_file).getroot()
    return {case.get("name"): case for case in root.iter("testcase")}, root


def props(case):
    return {p.get("name"): p.get("value") for p in case.iter("property")}


def test_junit_is_written_beside_verify_json_by_default(github_run):
    outcome, out, _ = github_run
    assert outcome.exit_code == 1, outcome.output
    assert (out / "junit.xml").is_file(), outcome.output
    assert f"generated xml file: {out / 'junit.xml'}" in outcome.output
    assert outcome.report["suite_version"] == suite_version()  # verify.json names the suite


def test_junit_one_testcase_per_check_named_with_f_code(github_run):
    _, out, _ = github_run
    cases, root = junit_cases(out / "junit.xml")
    assert list(cases) == [
        "grafana (F-FAIL-GRAFANA)",
        "dashboard (F-FAIL-DASHBOARD)",
        "panels (F-FAIL-PANELS)",
    ]
    suite = root.find("testsuite")
    assert suite.get("name") == "shadow-mvs-verify"
    assert (suite.get("tests"), suite.get("failures")) == ("3", "1")
    assert (suite.get("errors"), suite.get("skipped")) == ("0", "1")
    suite_props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert suite_props["verify_code"] == "F-FAIL-DASHBOARD"
    assert suite_props["result"] == "FAIL"


def test_junit_failure_message_is_the_fail_line(github_run):
    _, out, _ = github_run
    cases, _ = junit_cases(out / "junit.xml")
    failure = cases["dashboard (F-FAIL-DASHBOARD)"].find("failure")
    assert failure is not None
    assert failure.get("message").startswith("FAIL|F-FAIL-DASHBOARD|Grafana auth failed")
    assert cases["dashboard (F-FAIL-DASHBOARD)"].find("error") is None
    assert props(cases["dashboard (F-FAIL-DASHBOARD)"])["g_node"] == NODE


def test_junit_blocked_check_is_skipped_not_error(github_run):
    _, out, _ = github_run
    cases, _ = junit_cases(out / "junit.xml")
    panels = cases["panels (F-FAIL-PANELS)"]
    assert panels.find("error") is None
    skipped = panels.find("skipped")
    assert skipped.get("type") == "blocked"
    assert "blocked by F-FAIL-DASHBOARD (dashboard)" in skipped.get("message")
    assert props(panels)["status"] == "blocked"
    assert props(panels)["blocked_by"] == "dashboard"


def test_junit_evidence_as_properties_with_secrets_redacted(github_run):
    _, out, _ = github_run
    text = (out / "junit.xml").read_text()
    assert PASSWORD not in text
    cases, _ = junit_cases(out / "junit.xml")
    grafana = props(cases["grafana (F-FAIL-GRAFANA)"])
    assert grafana["status"] == "pass"
    assert grafana["evidence.grafana"].endswith("version=fake-*** database=ok")
    assert grafana["version.grafana"] == "fake-***"
    assert float(grafana["budget_s"]) > 0


def test_junit_marker_property_stays_out_of_verify_json(github_run):
    outcome, _, _ = github_run
    tests = outcome.report["tests"]
    assert len(tests) == 3
    assert all("user_properties" not in test for test in tests), tests


def test_github_annotation_names_root_failure(github_run):
    outcome, _, _ = github_run
    errors = [line for line in outcome.output.splitlines() if line.startswith("::error")]
    assert len(errors) == 1, outcome.output
    line = errors[0]
    assert line.startswith(f"::error title=F-FAIL-DASHBOARD {NODE}::dashboard: Grafana auth failed")
    assert "likely cause: " in line
    assert " — next: curl" in line
    assert PASSWORD not in outcome.output
    assert "WAIT|" not in outcome.output  # no check waited: no progress lines


def test_github_step_summary_appended(github_run):
    _, _, summary = github_run
    text = summary.read_text()
    assert text.startswith("# earlier step\n")
    assert "## Shadow-MVS verify: FAIL (`F-FAIL-DASHBOARD`)" in text
    assert "| dashboard | F-FAIL-DASHBOARD | ❌ FAIL |" in text
    assert "| panels | F-FAIL-PANELS | ⏸ blocked |" in text
    assert "| grafana | F-FAIL-GRAFANA | ✅ pass |" in text
    assert "### Evidence" in text
    assert f"### Triage {NODE}:" in text
    assert "```bash\ncurl" in text
    assert PASSWORD not in text


def test_no_annotation_or_summary_outside_github(tmp_path):
    with fake_grafana() as url:
        outcome = run_verify(
            tmp_path / "verify.json",
            {"GITHUB_ACTIONS": "", "GITHUB_STEP_SUMMARY": str(tmp_path / "s.md")},
            (f"--grafana-url={url}", "-k", "grafana or dashboard"),
        )
    assert outcome.verify_code == "F-FAIL-DASHBOARD", outcome.output
    assert "::error" not in outcome.output
    assert not (tmp_path / "s.md").exists()
    assert (tmp_path / "junit.xml").is_file()


def test_explicit_junitxml_path_wins(tmp_path):
    with fake_grafana() as url:
        outcome = run_verify(
            tmp_path / "verify.json",
            None,
            (f"--grafana-url={url}", "-k", "grafana", f"--junitxml={tmp_path / 'mine.xml'}"),
        )
    assert (tmp_path / "mine.xml").is_file(), outcome.output
    assert not (tmp_path / "junit.xml").exists()


@pytest.mark.parametrize(
    ("raw", "data", "prop"),
    [
        ("100% done", "100%25 done", "100%25 done"),
        ("a\r\nb", "a%0D%0Ab", "a%0D%0Ab"),
        ("G-1: x, y", "G-1: x, y", "G-1%3A x%2C y"),
        ("%0A literal", "%250A literal", "%250A literal"),
    ],
)
def test_workflow_command_escaping(raw, data, prop):
    assert escape_data(raw) == data
    assert escape_property(raw) == prop


def test_annotation_escapes_multiline_failures():
    run = VerifyRun()
    run.settle("exporter", CheckFailed("line one\nline two: 50% lost, sadly"))
    run.settle("targets", CheckBlocked(run.records["exporter"]))
    line = annotation(run, COMPOSE)
    assert line is not None
    assert "\n" not in line
    assert line.startswith("::error title=F-FAIL-EXPORTER G-1::exporter: line one%0Aline two")
    assert "50%25 lost" in line
    assert annotation(passing_run(), COMPOSE) is None


def passing_run() -> VerifyRun:
    run = VerifyRun()
    for name in run.records:
        run.settle(name, None)
    return run


def test_summary_escapes_table_cells():
    run = VerifyRun()
    run.settle("exporter", CheckFailed("a | b\nc"))
    text = step_summary(run, COMPOSE, "external")
    assert "| a \\| b c |" in text
    assert "## Shadow-MVS verify: PASS" in step_summary(passing_run(), COMPOSE, "external")
