"""Grafana provisioning files and the dashboard agree with the contract."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from shadow_mvs.core.contract import Contract
from tests.compose import checks


def load_yaml(repo_root: Path, relative: str) -> dict[str, Any]:
    return yaml.safe_load((repo_root / relative).read_text())


@pytest.fixture(scope="module")
def dashboard_text(repo_root: Path, shadow_mvs_contract: Contract) -> str:
    return (repo_root / shadow_mvs_contract.dashboard["file"]).read_text()


@pytest.fixture(scope="module")
def dashboard(dashboard_text: str) -> dict[str, Any]:
    return json.loads(dashboard_text)


def test_datasource_file_matches_contract(repo_root: Path, shadow_mvs_contract: Contract):
    doc = load_yaml(repo_root, shadow_mvs_contract.datasource["file"])
    assert checks.datasource_problems(doc, shadow_mvs_contract) == []


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
    assert checks.provider_problems(doc, shadow_mvs_contract) == []


def test_dashboard_matches_contract(
    dashboard: dict[str, Any], dashboard_text: str, shadow_mvs_contract: Contract
):
    assert checks.dashboard_problems(dashboard, shadow_mvs_contract, dashboard_text) == []


def test_dashboard_is_the_only_one_with_its_uid(repo_root: Path, shadow_mvs_contract: Contract):
    directory = repo_root / "compose" / "grafana" / "dashboards"
    uids = [json.loads(p.read_text()).get("uid") for p in directory.rglob("*.json")]
    assert uids.count(shadow_mvs_contract.dashboard["uid"]) == 1, uids


# --- each check turns red for its fault --------------------------------------------

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
        panel = next(p for p in checks.walk_panels(doc) if p.get("title") == title)
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
}


@pytest.mark.parametrize("fault", DASHBOARD_FAULTS.values(), ids=DASHBOARD_FAULTS.keys())
def test_dashboard_check_catches(dashboard: dict[str, Any], shadow_mvs_contract: Contract, fault):
    mutate, expected = fault
    doc = copy.deepcopy(dashboard)
    mutate(doc)
    problems = checks.dashboard_problems(doc, shadow_mvs_contract, json.dumps(doc))
    assert any(expected in p for p in problems), problems


DATASOURCE_FAULTS: dict[str, tuple[Mutation, str]] = {
    "no apiVersion": (set_key(("apiVersion",), 0), "apiVersion"),
    "mini-stack url": (set_key(("datasources", 0, "url"), "http://prometheus:9090"), "url"),
    "not default": (set_key(("datasources", 0, "isDefault"), False), "isDefault"),
    "other uid": (set_key(("datasources", 0, "uid"), "prometheus"), "uid"),
    "scrape step": (set_key(("datasources", 0, "jsonData", "timeInterval"), "15s"), "timeInterval"),
}


@pytest.mark.parametrize("fault", DATASOURCE_FAULTS.values(), ids=DATASOURCE_FAULTS.keys())
def test_datasource_check_catches(repo_root: Path, shadow_mvs_contract: Contract, fault):
    mutate, expected = fault
    doc = load_yaml(repo_root, shadow_mvs_contract.datasource["file"])
    mutate(doc)
    assert any(expected in p for p in checks.datasource_problems(doc, shadow_mvs_contract))


PROVIDER_FAULTS: dict[str, tuple[Mutation, str]] = {
    "folder": (set_key(("providers", 0, "folder"), "General"), "folder"),
    "path": (set_key(("providers", 0, "options", "path"), "/var/lib/grafana/dashboards"), "path"),
    "ui updates": (set_key(("providers", 0, "allowUiUpdates"), True), "allowUiUpdates"),
}


@pytest.mark.parametrize("fault", PROVIDER_FAULTS.values(), ids=PROVIDER_FAULTS.keys())
def test_provider_check_catches(repo_root: Path, shadow_mvs_contract: Contract, fault):
    mutate, expected = fault
    doc = load_yaml(repo_root, shadow_mvs_contract.dashboard["provider_file"])
    mutate(doc)
    assert any(expected in p for p in checks.provider_problems(doc, shadow_mvs_contract))
