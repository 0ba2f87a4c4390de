"""Config preflight without Docker: the repo's mounted files pass; config copies that
Prometheus (promtool) or Grafana (the stand-in's provisioning rules) reject, or that break
a contract value, become findings on the check they break — the cause of its FAIL line if
it fails, a WARN line if it passes."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
import yaml

from fixtures.mounted_files import compose_mounts, copy_compose_files
from fixtures.prometheus_tools import needs_prometheus_tools
from shadow_mvs.core.causes import CAUSES_FILE, Finding
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


def edit_grafana_file(path: Path, change) -> None:
    """A provisioning YAML or a dashboard JSON, changed in place."""
    is_json = path.suffix == ".json"
    doc = json.loads(path.read_text()) if is_json else yaml.safe_load(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc) if is_json else yaml.safe_dump(doc))


DATASOURCE_FILE = "provisioning/datasources/datasources.prometheus-local.yaml"
PROVIDER_FILE = "provisioning/dashboards/dashboards.yaml"
DASHBOARD_FILE = "dashboards/shadow/peaktrade-shadow-pipeline-mvs.json"
UID = "peaktrade-shadow-pipeline-mvs"


def _datasource(change):
    return lambda doc: change(doc["datasources"][0])


def _provider(change):
    return lambda doc: change(doc["providers"][0])


def _rename_key(old: str, new: str):
    return lambda entry: entry.update({new: entry.pop(old)})


# One row per provisioning rule of reference/grafana-api.md §6-7 that breaks a contract
# value: the file copy changed, the cause the preflight names, and the words of its
# sentence (file, key, path and what Grafana then does — never only the symptom).
PROVISIONING_RULES = [
    ("isDefault-false", DATASOURCE_FILE, _datasource(lambda e: e.update(isDefault=False)),
     "datasource", "datasource_default_unset",
     ["datasources.prometheus-local.yaml: datasource prometheus-local sets no isDefault: true",
      "Grafana marks no datasource default"]),
    ("no-apiVersion", DATASOURCE_FILE, lambda doc: doc.pop("apiVersion"),
     "datasource", "datasource_legacy_schema",
     ["has no apiVersion: 1", "reads it as the legacy schema",
      '"[Deprecated] the datasource provisioning config is outdated"',
      "ignores isDefault, jsonData, uid", "is not default and has uid P7FB27DE22E85A0C7"]),
    ("key-typo", DATASOURCE_FILE, _datasource(_rename_key("isDefault", "is_default")),
     "datasource", "datasource_key_ignored",
     ["key is_default is not a Grafana datasource key", "no datasource is default"]),
    ("no-uid", DATASOURCE_FILE, _datasource(lambda e: e.pop("uid")),
     "datasource", "datasource_uid_derived",
     ["has no uid, so Grafana derives uid P7FB27DE22E85A0C7",
      "not peaktrade-prometheus-local"]),
    ("env-unset", DATASOURCE_FILE,
     _datasource(lambda e: e.update(url="http://${PROM_HOST}:9092")),
     "datasource", "datasource_env_unset",
     ["url uses $PROM_HOST, unset in the grafana service's environment",
      'expands it to "http://:9092"']),
    ("url", DATASOURCE_FILE,
     _datasource(lambda e: e.update(url="http://host.docker.internal:9093")),
     "datasource", "datasource_file_value",
     ["has url http://host.docker.internal:9093",
      "the contract says http://host.docker.internal:9092"]),
    ("deleted-by-a-later-file", "provisioning/datasources/zz-cleanup.yaml",
     lambda doc: doc.update(deleteDatasources=[{"name": "prometheus-local", "orgId": 1}]),
     "datasource", "datasource_deleted",
     ["zz-cleanup.yaml lists datasource prometheus-local under deleteDatasources",
      '"deleted datasource based on configuration"']),
    ("provider-path", PROVIDER_FILE,
     _provider(lambda p: p["options"].update(path="/etc/grafana/nothing")),
     "dashboard", "dashboard_provider_path_missing",
     ["provider peaktrade-shadow-mvs in compose/grafana/provisioning/dashboards/dashboards.yaml",
      "reads options.path /etc/grafana/nothing, which is not there",
      'Grafana logs "Failed to provision config"']),
    ("other-uid", DASHBOARD_FILE, lambda doc: doc.update(uid="peaktrade-shadow-other"),
     "dashboard", "dashboard_uid_not_in_files",
     [f"no dashboard file under /etc/grafana/dashboards (provider peaktrade-shadow-mvs) has "
      f"uid {UID}", "Grafana provisions uids peaktrade-shadow-other"]),
    ("uid-too-long", DASHBOARD_FILE, lambda doc: doc.update(uid=UID + "-" + "x" * 20),
     "dashboard", "dashboard_file_rejected",
     ['(logs "failed to save dashboard"): uid too long, max 40 characters']),
    ("empty-title", DASHBOARD_FILE, lambda doc: doc.update(title=""),
     "dashboard", "dashboard_file_rejected",
     ['(logs "failed to load dashboard from"): Dashboard title cannot be empty']),
    ("folder-general", PROVIDER_FILE, _provider(lambda p: p.update(folder="")),
     "dashboard", "dashboard_folder_wrong",
     [f"puts dashboard {UID} into folder General (folder is empty, which is General)",
      "the contract says Peak_Trade"]),
    ("folders-from-files", PROVIDER_FILE,
     _provider(lambda p: p.update(folder="", folderUid="")
               or p["options"].update(foldersFromFilesStructure=True)),
     "dashboard", "dashboard_folder_wrong",
     ["into folder shadow (foldersFromFilesStructure: true names folders after directories)"]),
    ("ui-updates", PROVIDER_FILE, _provider(lambda p: p.update(allowUiUpdates=True)),
     "dashboard", "dashboard_ui_updates",
     [f"sets allowUiUpdates: true, so Grafana serves dashboard {UID} with "
      "meta.provisioned false"]),
    ("title", DASHBOARD_FILE, lambda doc: doc.update(title="Shadow"),
     "dashboard", "dashboard_title_wrong",
     [f'/etc/grafana/dashboards/shadow/peaktrade-shadow-pipeline-mvs.json titles dashboard {UID} '
      '"Shadow"']),
    ("provider-v0", PROVIDER_FILE, lambda doc: doc.pop("apiVersion"),
     "grafana", "grafana_provisioning_rejected",
     ["Failed to create provisioner: Failed to read dashboards config: could not parse "
      "provisioning config file: dashboards.yaml error: yaml: unmarshal errors: "
      "line 1: cannot unmarshal !!map into []*dashboards.configV0"]),
    ("provider-type", PROVIDER_FILE, _provider(lambda p: p.update(type="sql")),
     "grafana", "grafana_provisioning_rejected",
     ["Failed to initialize file readers: type sql is not supported"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("file", "change", "check", "cause", "words"),
    [row[1:] for row in PROVISIONING_RULES],
    ids=[row[0] for row in PROVISIONING_RULES],
)
def test_grafana_provisioning_rule_is_named_with_its_reason(
    copies, file, change, check, cause, words
):
    """Each rule's finding comes first on its check (it becomes the FAIL line's cause)
    and says file, key and what Grafana then does, in the files' repo-relative words."""
    prometheus, grafana = copies
    if not (grafana / file).exists():  # a new file beside the repo's
        (grafana / file).write_text(yaml.safe_dump({"apiVersion": 1}))
    edit_grafana_file(grafana / file, change)
    findings = grafana_findings(compose_mounts(prometheus, grafana))
    first = findings[0]
    assert (first.check, first.cause) == (check, cause), [f.text for f in findings]
    for word in words:
        assert word in first.text.replace(str(grafana.parent) + "/", "compose/"), first.text


def test_a_rejected_file_holding_the_uid_comes_before_the_symptom(copies):
    prometheus, grafana = copies
    [dashboard] = (grafana / "dashboards").rglob("*.json")
    dashboard.write_text(dashboard.read_text()[:-20])
    findings = grafana_findings(compose_mounts(prometheus, grafana))
    causes = [(f.check, f.cause) for f in findings]
    assert causes == [
        ("dashboard", "dashboard_file_rejected"),
        ("dashboard", "dashboard_uid_not_in_files"),
    ]
    assert findings[0].text.endswith(
        'peaktrade-shadow-pipeline-mvs.json (logs "failed to load dashboard from"): unexpected EOF'
    )


def test_a_rejected_file_without_the_uid_is_only_a_warning(copies):
    prometheus, grafana = copies
    (grafana / "dashboards" / "other.json").write_text("{")
    [finding] = grafana_findings(compose_mounts(prometheus, grafana))
    assert (finding.check, finding.cause) == (None, "dashboard_file_rejected")
    assert "other.json" in finding.text


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


def test_every_provisioning_reason_is_final_and_routes_to_its_check_node():
    """A mounted provisioning file cannot change during the run: each reason the Grafana
    preflight names is `final` and routes to the node of the check it breaks."""
    with CAUSES_FILE.open("rb") as fh:
        declared = {c["id"]: c for c in tomllib.load(fh)["cause"]}
    named = {row[4] for row in PROVISIONING_RULES} | {"datasource_deleted"}
    nodes = {"datasource": "G-5", "dashboard": "G-6", "grafana": "G-4"}
    for row in PROVISIONING_RULES:
        cause = declared[row[4]]
        assert cause["node"] == nodes[row[3]], row[0]
    for cause_id in named - {"grafana_provisioning_rejected", "dashboard_file_rejected"}:
        assert declared[cause_id].get("class") == "final", cause_id
