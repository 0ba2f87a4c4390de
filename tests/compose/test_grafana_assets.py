"""Grafana provisioning files and the dashboard agree with the contract: what Grafana's rules
provision from them (the runtime preflight, ``grafana_findings``) and how each file is
written (the rulebook's design rules)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from fixtures.mounted_files import compose_mounts, copy_compose_files
from shadow_mvs.core.causes import Finding
from shadow_mvs.core.contract import Contract
from shadow_mvs.evidence.grafana_preflight import grafana_findings
from shadow_mvs.evidence.grafana_rules.datasources import provision_datasources
from shadow_mvs.evidence.panels import walk_panels
from shadow_mvs.evidence.rulebook import dashboard_json, dashboard_provisioning, datasources
from tests.compose.conftest import details

GRAFANA_FILES = Path("compose/grafana")


def load_yaml(repo_root: Path, relative: str) -> dict[str, Any]:
    return yaml.safe_load((repo_root / relative).read_text())


@pytest.fixture(scope="module")
def dashboard(repo_root: Path, shadow_mvs_contract: Contract) -> dict[str, Any]:
    return json.loads((repo_root / shadow_mvs_contract.dashboard["file"]).read_text())


def test_grafana_provisions_the_contract_from_the_files():
    """Grafana's rules over the repo's files give the contract's default datasource and
    dashboard (uid, folder, title, file-provisioned), and refuse no file."""
    assert grafana_findings(compose_mounts()) == []


def test_datasource_file_matches_contract(repo_root: Path, shadow_mvs_contract: Contract):
    doc = load_yaml(repo_root, shadow_mvs_contract.datasource["file"])
    assert datasources.design_findings(doc, shadow_mvs_contract) == []
    provisioning = (repo_root / shadow_mvs_contract.datasource["file"]).parent.parent
    provisioned = provision_datasources(provisioning, {})
    assert datasources.contract_findings(provisioned, shadow_mvs_contract) == []


def test_only_one_default_datasource_is_provisioned(repo_root: Path, shadow_mvs_contract: Contract):
    directory = (repo_root / shadow_mvs_contract.datasource["file"]).parent
    defaults = [
        ds
        for path in directory.iterdir()
        if path.suffix in {".yaml", ".yml"}
        for ds in yaml.safe_load(path.read_text()).get("datasources") or []
        if ds.get("isDefault")
    ]
    assert len(defaults) == 1, "Grafana refuses to start with two default datasources"


def test_dashboard_provider_matches_contract(repo_root: Path, shadow_mvs_contract: Contract):
    doc = load_yaml(repo_root, shadow_mvs_contract.dashboard["provider_file"])
    assert dashboard_provisioning.design_findings(doc, shadow_mvs_contract) == []


def test_dashboard_matches_contract(dashboard: dict[str, Any], shadow_mvs_contract: Contract):
    assert dashboard_json.design_findings(dashboard, shadow_mvs_contract) == []


def test_dashboard_is_the_only_one_with_its_uid(repo_root: Path, shadow_mvs_contract: Contract):
    directory = repo_root / "compose" / "grafana" / "dashboards"
    uids = [json.loads(p.read_text()).get("uid") for p in directory.rglob("*.json")]
    assert uids.count(shadow_mvs_contract.dashboard["uid"]) == 1, uids


# --- each rule turns red for its fault ---------------------------------------------
# A fault is a change to one file of a copy of compose/grafana; every Grafana rule runs on
# the copy: the runtime preflight's (Grafana's rules, then the contract) and each file's
# design rules.


def in_copy(contract_path: str) -> Path:
    """Where a contract file (``compose/grafana/…``) sits in a copy of compose/grafana."""
    return Path(contract_path).relative_to(GRAFANA_FILES)


def every_grafana_finding(prometheus: Path, grafana: Path, contract: Contract) -> list[Finding]:
    datasource_file = grafana / in_copy(contract.datasource["file"])
    provider_file = grafana / in_copy(contract.dashboard["provider_file"])
    dashboard_file = grafana / in_copy(contract.dashboard["file"])
    return [
        *grafana_findings(compose_mounts(prometheus, grafana), contract),
        *datasources.design_findings(yaml.safe_load(datasource_file.read_text()), contract),
        *dashboard_provisioning.design_findings(
            yaml.safe_load(provider_file.read_text()), contract
        ),
        *dashboard_json.design_findings(json.loads(dashboard_file.read_text()), contract),
    ]


@pytest.fixture
def copies(tmp_path: Path) -> tuple[Path, Path]:
    return copy_compose_files(tmp_path)


Mutation = Callable[[dict[str, Any]], None]


def set_key(path: tuple[Any, ...], value: Any) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        node: Any = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return mutate


def first_target_of(title: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def find(doc: dict[str, Any]) -> dict[str, Any]:
        panel = next(p for p in walk_panels(doc["panels"]) if p.get("title") == title)
        return panel["targets"][0]

    return find


def edit_expr(title: str, old: str, new: str) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        target = first_target_of(title)(doc)
        assert old in target["expr"], (title, old)
        target["expr"] = target["expr"].replace(old, new)

    return mutate


def drop_row(title: str) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        doc["panels"] = [p for p in doc["panels"] if p.get("title") != title]

    return mutate


def set_target_datasource(title: str, ref: Any) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        first_target_of(title)(doc)["datasource"] = ref

    return mutate


DASHBOARD_FAULTS: dict[str, tuple[Mutation, str]] = {
    "wrong uid": (set_key(("uid",), "shadow-pipeline"), "dashboard uid"),
    "wrong title": (set_key(("title",), "Shadow"), "dashboard title"),
    "refresh too fast": (set_key(("refresh",), "1s"), "refresh '1s'"),
    "variable renamed": (set_key(("templating", "list", 0, "name"), "run_mode"), "variables"),
    "variable default": (
        set_key(("templating", "list", 1, "current", "value"), "binance"),
        "default 'binance'",
    ),
    "row missing": (drop_row("Placeholders"), "row panels"),
    "error rate without clamp_min": (
        edit_expr("Error rate / risk-block rate", "clamp_min(", "("),
        "without clamp_min",
    ),
    "window shortened": (edit_expr("Risk blocks by reason", "[5m]", "[1m]"), "window [1m]"),
    "feed gaps on 5m": (edit_expr("Feed gaps", "[15m]", "[5m]"), "window [5m]"),
    "mode filter dropped": (
        edit_expr("Risk blocks by reason", 'mode="$mode"', 'mode="shadow"'),
        "not filtered by mode",
    ),
    "exchange filter dropped": (
        edit_expr("Event throughput by stage", ', exchange=~"$exchange"', ""),
        "not filtered by exchange",
    ),
    "phase 5 query changed": (
        edit_expr("Latency p95 intent_to_ack", "0.95", "0.99"),
        "Phase 5 query 'latency p95' missing",
    ),
    "datasource by import placeholder": (
        set_target_datasource("Feed gaps", {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}),
        "${DS_",
    ),
    "datasource by name": (set_target_datasource("Run state", "prometheus-local"), "datasource"),
    "schema version": (set_key(("schemaVersion",), 16), "schemaVersion is 16"),
    "id kept from an export": (set_key(("id",), 7), "dashboard id is 7"),
    "import inputs kept": (set_key(("__inputs",), []), "__inputs section"),
    "time range": (set_key(("time", "from"), "now-6h"), "time.from is 'now-6h'"),
    "panel ids repeat": (set_key(("panels", 2, "id"), 1), "panel ids are not unique"),
    "panel without query": (set_key(("panels", 1, "targets"), []), "has no query"),
    "panel on another datasource": (
        set_key(("panels", 1, "datasource"), {"type": "prometheus", "uid": "other"}),
        "panel 'Exporter up': datasource",
    ),
    "variable type": (set_key(("templating", "list", 0, "type"), "custom"), "type 'custom'"),
    "variable query": (
        set_key(("templating", "list", 0, "query", "query"), "label_values(up, mode)"),
        "is not label_values(<events>, mode)",
    ),
    "variable on another datasource": (
        set_key(("templating", "list", 0, "datasource"), "prometheus-local"),
        "variable mode: datasource",
    ),
    "family outside the contract": (
        edit_expr("Run state", "peak_trade_run_state", "peak_trade_run_phase"),
        "peak_trade_run_phase is not a contract family",
    ),
}


def write_json(path: Path, doc: dict[str, Any]) -> None:
    path.write_text(json.dumps(doc))


def write_yaml(path: Path, doc: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump(doc))


@pytest.mark.parametrize("fault", DASHBOARD_FAULTS.values(), ids=DASHBOARD_FAULTS.keys())
def test_dashboard_check_catches(
    dashboard: dict[str, Any], copies: tuple[Path, Path], shadow_mvs_contract: Contract, fault
):
    mutate, expected = fault
    doc = copy.deepcopy(dashboard)
    mutate(doc)
    prometheus, grafana = copies
    write_json(grafana / in_copy(shadow_mvs_contract.dashboard["file"]), doc)
    findings = every_grafana_finding(prometheus, grafana, shadow_mvs_contract)
    assert expected in details(findings), findings


DATASOURCE_FAULTS: dict[str, tuple[Mutation, str]] = {
    "no apiVersion": (set_key(("apiVersion",), 0), "apiVersion"),
    "mini-stack url": (set_key(("datasources", 0, "url"), "http://prometheus:9090"), "url"),
    "not default": (set_key(("datasources", 0, "isDefault"), False), "isDefault"),
    "other uid": (set_key(("datasources", 0, "uid"), "prometheus"), "uid"),
    "scrape step": (set_key(("datasources", 0, "jsonData", "timeInterval"), "15s"), "timeInterval"),
    "other name": (set_key(("datasources", 0, "name"), "prometheus"), "'name'"),
    "other type": (set_key(("datasources", 0, "type"), "loki"), "'type'"),
    "browser access": (set_key(("datasources", 0, "access"), "direct"), "access is 'direct'"),
    "editable in the UI": (set_key(("datasources", 0, "editable"), True), "editable is True"),
    "queries by GET": (
        set_key(("datasources", 0, "jsonData", "httpMethod"), "GET"),
        "jsonData.httpMethod is 'GET'",
    ),
    "two in one file": (
        lambda doc: doc["datasources"].append({"name": "other", "type": "prometheus"}),
        "2 datasources, expected exactly one",
    ),
}


@pytest.mark.parametrize("fault", DATASOURCE_FAULTS.values(), ids=DATASOURCE_FAULTS.keys())
def test_datasource_check_catches(
    repo_root: Path, copies: tuple[Path, Path], shadow_mvs_contract: Contract, fault
):
    mutate, expected = fault
    doc = load_yaml(repo_root, shadow_mvs_contract.datasource["file"])
    mutate(doc)
    prometheus, grafana = copies
    write_yaml(grafana / in_copy(shadow_mvs_contract.datasource["file"]), doc)
    findings = every_grafana_finding(prometheus, grafana, shadow_mvs_contract)
    assert expected in details(findings), findings


PROVIDER_FAULTS: dict[str, tuple[Mutation, str]] = {
    "folder": (set_key(("providers", 0, "folder"), "General"), "folder"),
    "path": (set_key(("providers", 0, "options", "path"), "/var/lib/grafana/dashboards"), "path"),
    "ui updates": (set_key(("providers", 0, "allowUiUpdates"), True), "allowUiUpdates"),
    "no apiVersion": (set_key(("apiVersion",), 0), "apiVersion is 0, expected 1"),
    "two providers": (
        lambda doc: doc["providers"].append({**doc["providers"][0], "name": "other"}),
        "2 providers, expected exactly one",
    ),
    "not a file provider": (set_key(("providers", 0, "type"), "api"), "provider type is 'api'"),
    "deletes with its file": (
        set_key(("providers", 0, "disableDeletion"), False),
        "provider disableDeletion is False",
    ),
    "slow re-read": (
        set_key(("providers", 0, "updateIntervalSeconds"), 60),
        "provider updateIntervalSeconds is 60",
    ),
}


@pytest.mark.parametrize("fault", PROVIDER_FAULTS.values(), ids=PROVIDER_FAULTS.keys())
def test_provider_check_catches(
    repo_root: Path, copies: tuple[Path, Path], shadow_mvs_contract: Contract, fault
):
    mutate, expected = fault
    doc = load_yaml(repo_root, shadow_mvs_contract.dashboard["provider_file"])
    mutate(doc)
    prometheus, grafana = copies
    write_yaml(grafana / in_copy(shadow_mvs_contract.dashboard["provider_file"]), doc)
    findings = every_grafana_finding(prometheus, grafana, shadow_mvs_contract)
    assert expected in details(findings), findings
