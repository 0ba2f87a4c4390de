"""Every dashboard query is real PromQL: a real Prometheus evaluates each one."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from fixtures.prometheus_tools import needs_prometheus_tools
from shadow_mvs.core.contract import REPO_ROOT, Contract, load_contract
from shadow_mvs.evidence.panels import PanelQuery, panel_queries


def dashboard_queries() -> list[PanelQuery]:
    """Every panel query with the contract's variable values: what the panels check runs."""
    contract = load_contract()
    doc = json.loads((REPO_ROOT / contract.dashboard["file"]).read_text())
    return panel_queries(doc, contract.variables)


def evaluate(base_url: str, expr: str) -> dict:
    """Instant query; Prometheus answers 400 with status=error for a parse error."""
    response = httpx.post(f"{base_url}/api/v1/query", data={"query": expr}, timeout=5.0)
    return response.json()


QUERIES = dashboard_queries()


@pytest.mark.parametrize("query", QUERIES, ids=[f"{q.panel}:{q.expr[:30]}" for q in QUERIES])
@needs_prometheus_tools
def test_panel_query_is_valid_promql(scratch_prometheus_url: str, query: PanelQuery):
    title, expr = query.panel, query.expr
    assert "$" not in expr, f"panel {title!r}: unresolved variable in {expr}"
    answer = evaluate(scratch_prometheus_url, expr)
    assert answer["status"] == "success", f"panel {title!r}: {answer.get('error')} in {expr}"


def test_variable_queries_select_a_real_family(shadow_mvs_contract: Contract, repo_root: Path):
    doc = json.loads((repo_root / shadow_mvs_contract.dashboard["file"]).read_text())
    families = {f.name for f in shadow_mvs_contract.families}
    for var in doc["templating"]["list"]:
        metric = var["query"]["query"].removeprefix("label_values(").split("{")[0].split(",")[0]
        assert metric in families, var["name"]


@needs_prometheus_tools
def test_a_broken_query_is_reported(scratch_prometheus_url: str):
    answer = evaluate(
        scratch_prometheus_url, "sum by (mode (rate(peak_trade_pipeline_events_total[5m]))"
    )
    assert answer["status"] == "error"
    assert answer["errorType"] == "bad_data"


def test_an_unknown_variable_stays_visible(shadow_mvs_contract: Contract):
    panel = {"title": "t", "targets": [{"expr": 'up{mode="$mode", venue="${venue}"}'}]}
    [query] = panel_queries({"panels": [panel]}, shadow_mvs_contract.variables)
    assert query.expr == 'up{mode="shadow", venue="${venue}"}'
