"""Config preflight without Docker: the repo's mounted files pass; config copies that
Prometheus (promtool) or Grafana (the stand-in's provisioning rules) reject, or that break
a contract value, become findings on the check they break — the cause of its FAIL line if
it fails, a WARN line if it passes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from fixtures.mounted_files import compose_mounts, copy_compose_files
from fixtures.prometheus_tools import needs_prometheus_tools
from shadow_mvs.core.causes import Finding
from shadow_mvs.core.contract import load_contract
from shadow_mvs.core.run import CheckFailed, VerifyRun
from shadow_mvs.evidence.grafana_preflight import grafana_findings
from shadow_mvs.evidence.preflight import prometheus_findings
from shadow_mvs.report.reporter import render


@pytest.fixture
def copies(tmp_path: Path) -> tuple[Path, Path]:
    return copy_compose_files(tmp_path)


def edit_prometheus(prometheus: Path, change) -> None:
    path = prometheus / "prometheus.yml"
    config = yaml.safe_load(path.read_text())
    change(config)
    path.write_text(yaml.safe_dump(config))


@needs_prometheus_tools
def test_the_repo_files_pass():
    repo = compose_mounts()
    assert prometheus_findings(repo) == []
    assert grafana_findings(repo) == []


@needs_prometheus_tools
def test_promtool_rejects_a_bad_config_copy(copies):
    prometheus, grafana = copies
    (prometheus / "prometheus.yml").write_text("global:\n  scrape_interval: 5x\n")
    [finding] = prometheus_findings(compose_mounts(prometheus, grafana))
    assert finding.check == "prometheus"
    assert finding.cause == "prometheus_config_rejected"
    assert "5x" in finding.facts["error"]


@needs_prometheus_tools
def test_promtool_rejects_a_bad_rule_file(copies):
    prometheus, grafana = copies
    (prometheus / "rules" / "broken.yml").write_text(
        "groups:\n  - name: x\n    rules:\n      - alert: A\n        expr: rate(\n"
    )
    findings = prometheus_findings(compose_mounts(prometheus, grafana))
    assert [f.cause for f in findings] == ["prometheus_config_rejected"] or [
        f.cause for f in findings
    ] == ["rules_rejected"]
    assert findings[0].check == "prometheus"


@needs_prometheus_tools
@pytest.mark.parametrize(
    ("change", "check", "cause", "words"),
    [
        (
            lambda c: c["scrape_configs"][0].update(job_name="old"),
            "targets",
            "scrape_job_missing",
            "old",
        ),
        (
            lambda c: c["scrape_configs"][0].update(scrape_interval="1m"),
            "targets",
            "scrape_interval_wrong",
            "every 1m",
        ),
        (
            lambda c: c.update(rule_files=["rules/absent-*.yml"]),
            "rules",
            "rule_files_miss_group",
            "absent",
        ),
        (
            lambda c: c["scrape_configs"][0]["static_configs"][0].update(targets=["exporter:9109"]),
            "targets",
            "scrape_target_wrong",
            "exporter:9109",
        ),
        (  # a second target in the job: up{job="shadow_mvs"} is no longer the exporter alone
            lambda c: c["scrape_configs"][0]["static_configs"][0]["targets"].append(
                "exporter:9109"
            ),
            "targets",
            "scrape_target_wrong",
            "host.docker.internal:9109, exporter:9109",
        ),
        (
            lambda c: c["scrape_configs"][0].pop("static_configs"),
            "targets",
            "scrape_target_wrong",
            "scrapes no static target",
        ),
    ],
    ids=["job", "interval", "rule-files", "target", "extra-target", "no-target"],
)
def test_contract_values_in_the_prometheus_files(copies, change, check, cause, words):
    prometheus, grafana = copies
    edit_prometheus(prometheus, change)
    [finding] = prometheus_findings(compose_mounts(prometheus, grafana))
    assert (finding.check, finding.cause) == (check, cause)
    assert words in finding.text


def test_two_defaults_are_fatal_as_in_grafana(copies):
    prometheus, grafana = copies
    extra = {
        "apiVersion": 1,
        "datasources": [{"name": "other", "type": "prometheus", "isDefault": True}],
    }
    (grafana / "provisioning/datasources/zz-other.yaml").write_text(yaml.safe_dump(extra))
    [finding] = grafana_findings(compose_mounts(prometheus, grafana))
    assert (finding.check, finding.cause) == ("grafana", "grafana_provisioning_rejected")
    assert "Only one datasource per organization" in finding.text


def test_datasource_not_default_in_the_files(copies):
    prometheus, grafana = copies
    ds_file = next((grafana / "provisioning/datasources").glob("*.y*ml"))
    doc = yaml.safe_load(ds_file.read_text())
    doc["datasources"][0]["isDefault"] = False
    ds_file.write_text(yaml.safe_dump(doc))
    [finding] = grafana_findings(compose_mounts(prometheus, grafana))
    assert (finding.check, finding.cause) == ("datasource", "datasource_not_default")


def test_dashboard_json_that_does_not_parse(copies):
    prometheus, grafana = copies
    [dashboard] = (grafana / "dashboards").rglob("*.json")
    dashboard.write_text(dashboard.read_text()[:-20])
    findings = grafana_findings(compose_mounts(prometheus, grafana))
    causes = [(f.check, f.cause) for f in findings]
    assert causes == [("dashboard", "dashboard_file_rejected"), ("dashboard", "dashboard_missing")]
    assert dashboard.name in findings[0].text


def test_dashboard_with_another_uid(copies):
    prometheus, grafana = copies
    [dashboard] = (grafana / "dashboards").rglob("*.json")
    body = json.loads(dashboard.read_text())
    body["uid"] = "peaktrade-shadow-other"
    dashboard.write_text(json.dumps(body))
    [finding] = grafana_findings(compose_mounts(prometheus, grafana))
    assert finding.cause == "dashboard_missing"
    assert "peaktrade-shadow-other" in finding.detail


def edit_grafana_file(path: Path, change) -> None:
    """A provisioning YAML or a dashboard JSON, changed in place."""
    is_json = path.suffix == ".json"
    doc = json.loads(path.read_text()) if is_json else yaml.safe_load(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc) if is_json else yaml.safe_dump(doc))


@pytest.mark.parametrize(
    ("file", "change", "words"),
    [
        (
            "provisioning/dashboards/dashboards.yaml",
            lambda doc: doc["providers"][0].update(folder="General"),
            "folder 'General'",
        ),
        (
            "provisioning/dashboards/dashboards.yaml",
            lambda doc: doc["providers"][0].update(allowUiUpdates=True),
            "allowUiUpdates: true",
        ),
        (
            "dashboards/shadow/peaktrade-shadow-pipeline-mvs.json",
            lambda doc: doc.update(title="Shadow"),
            "dashboard title 'Shadow'",
        ),
    ],
    ids=["folder", "ui-updates", "title"],
)
def test_dashboard_provisioned_not_as_the_contract_says(copies, file, change, words):
    """What the dashboard check finds in Grafana (folder, title, meta.provisioned), read
    from the files: one finding, one sentence, the difference in its detail."""
    prometheus, grafana = copies
    edit_grafana_file(grafana / file, change)
    [finding] = grafana_findings(compose_mounts(prometheus, grafana))
    assert (finding.check, finding.cause) == ("dashboard", "dashboard_misplaced")
    assert (
        finding.text
        == "dashboard uid peaktrade-shadow-pipeline-mvs is provisioned, but not as the contract says"
    )
    assert words in finding.detail


def test_a_finding_is_the_cause_of_its_failing_check():
    run = VerifyRun()
    run.attach(
        [
            Finding(
                "prometheus",
                "promtool check config",
                cause="prometheus_config_rejected",
                facts={"file": "prometheus.yml", "error": 'not a valid duration string: "5x"'},
            )
        ]
    )
    run.settle("prometheus", CheckFailed("GET http://127.0.0.1:9092/-/ready: connection failed"))
    record = run.records["prometheus"]
    assert record.cause == "prometheus_config_rejected"
    assert record.node.id == "G-2"
    assert record.message.startswith("promtool rejects prometheus.yml: not a valid duration string")
    assert "connection failed" in record.message
    lines = render(run, "docker compose")
    assert lines[0].startswith("FAIL|F-FAIL-PROMETHEUS|promtool rejects prometheus.yml")
    assert not any(line.startswith("WARN|") for line in lines)


def test_a_finding_ends_the_wait_of_its_check():
    run = VerifyRun()
    run.attach(
        [Finding("rules", "rule_files", cause="rule_files_miss_group", facts={"group": "g"})]
    )
    ctx = run.context(load_contract().check("rules"))

    def probe():
        raise CheckFailed("rule group 'shadow_mvs' not loaded (groups: none)")

    with pytest.raises(CheckFailed) as failed:
        ctx.poll(probe)
    assert ctx.record.attempts == 1
    assert failed.value.cause == "rule_files_miss_group"


def test_a_finding_that_breaks_nothing_is_one_warn_line():
    run = VerifyRun()
    run.attach([Finding("dashboard", "other.json skipped", cause="dashboard_file_rejected")])
    run.attach([Finding(None, "promtool not found")])
    for name in run.records:
        run.settle(name, None)
    warnings = [line for line in render(run, "docker compose") if line.startswith("WARN|")]
    assert len(warnings) == 2
    assert warnings[1] == "WARN|preflight: promtool not found"
    assert "RESULT=PASS" in render(run, "docker compose")


def test_files_right_but_grafana_disagrees_names_grafana_state():
    """Compose mode: the preflight read Grafana's files and found nothing, yet Grafana reports
    no default datasource — the running Grafana disagrees with its own files."""
    run = VerifyRun()
    run.attach([], covered=grafana_findings.covers)  # type: ignore[attr-defined]
    run.settle(
        "datasource",
        CheckFailed("no default datasource (have [])", cause="datasource_not_default"),
    )
    record = run.records["datasource"]
    assert record.cause == "datasource_not_as_files"
    assert record.node.id == "G-5"
    assert record.message.endswith("— no default datasource (have [])")
    external = VerifyRun()  # nothing read: the check's own cause stands
    external.settle("datasource", CheckFailed("no default", cause="datasource_not_default"))
    assert external.records["datasource"].cause == "datasource_not_default"
