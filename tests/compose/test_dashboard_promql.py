"""Every dashboard query is real PromQL: a real Prometheus evaluates each one."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from fixtures.prometheus_tools import needs_prometheus_tools
from shadow_mvs.core.contract import REPO_ROOT, Contract, load_contract
from tests.compose import checks


def dashboard_exprs() -> list[tuple[str, str]]:
    doc = json.loads((REPO_ROOT / load_contract().dashboard["file"]).read_text())
    return checks.panel_exprs(doc)


def evaluate(base_url: str, expr: str) -> dict:
    """Instant query; Prometheus answers 400 with status=error for a parse error."""
    response = httpx.post(f"{base_url}/api/v1/query", data={"query": expr}, timeout=5.0)
    return response.json()


EXPRS = dashboard_exprs()


@pytest.mark.parametrize(("title", "expr"), EXPRS, ids=[f"{t}:{e[:30]}" for t, e in EXPRS])
@needs_prometheus_tools
def test_panel_query_is_valid_promql(
    scratch_prometheus_url: str, shadow_mvs_contract: Contract, title, expr
):
    query = checks.substitute_variables(expr, shadow_mvs_contract.variables)
    assert "$" not in query, f"panel {title!r}: unresolved variable in {query}"
    answer = evaluate(scratch_prometheus_url, query)
    assert answer["status"] == "success", f"panel {title!r}: {answer.get('error')} in {query}"


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
    query = checks.substitute_variables(
        'up{mode="$mode", venue="${venue}"}', shadow_mvs_contract.variables
    )
    assert query == 'up{mode="shadow", venue="${venue}"}'
