"""The dashboard JSON as the repo writes it: a provisioning file (no import leftovers), the
contract's variables and rows, every panel bound to the contract datasource, and runbook
Phase 5's queries with the dashboard's filters and windows.

Its uid and title are the contract's as Grafana provisions them: that rule is
``dashboard_provisioning.contract_findings``, over what Grafana's rules made of the file.
"""

from __future__ import annotations

import re
from typing import Any

from shadow_mvs.core.causes import Finding
from shadow_mvs.core.contract import Contract
from shadow_mvs.evidence.panels import leftover_inputs, walk_panels

SCHEMA_VERSION = 39
TIME_FROM = "now-1h"
MIN_REFRESH_S = 5  # Grafana's default min_refresh_interval: faster refreshes are clamped
# Runbook Phase 5's six MVS queries as the dashboard must carry them: the runbook text
# plus the dashboard's variable filters, and clamp_min on the error-rate denominator
# (runbook hardening note). Compared with all whitespace removed.
_EVENTS = 'peak_trade_pipeline_events_total{mode="$mode", exchange=~"$exchange"'
_LATENCY = 'peak_trade_pipeline_latency_seconds_bucket{mode="$mode", exchange=~"$exchange"'
PHASE5_QUERIES = {
    "event throughput": f"sum by (mode, stage) (rate({_EVENTS}}}[5m]))",
    "error rate": (
        f'sum(rate({_EVENTS}, stage="error"}}[5m])) / clamp_min(sum(rate({_EVENTS}}}[5m])), 1e-9)'
    ),
    "risk blocks": 'sum by (mode, reason) (rate(peak_trade_risk_blocks_total{mode="$mode"}[5m]))',
    "latency p95": (
        "histogram_quantile(0.95, sum by (le, mode) "
        f'(rate({_LATENCY}, edge="intent_to_ack"}}[5m])))'
    ),
    "feed gaps": 'sum by (mode, feed) (rate(peak_trade_feed_gaps_total{mode="$mode"}[15m]))',
    "run state": 'sum by (mode, state) (peak_trade_run_state{mode="$mode"})',
}
# Families whose long window is part of the design (runbook: feed gaps over 15m).
LONG_WINDOW_FAMILIES = {"peak_trade_feed_gaps_total": "15m"}
DEFAULT_WINDOW = "5m"
# Panel types that show text, not queries.
QUERYLESS_PANEL_TYPES = {"row", "text"}

RANGE_WINDOW = re.compile(r"\[(\w+)\]")
FAMILY_NAME = re.compile(r"\b(shadow_mvs_\w+|peak_trade_\w+)")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _panel_exprs(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, expr) for every query target, variables as written."""
    return [
        (str(panel.get("title")), str(target["expr"]))
        for panel in walk_panels(dashboard.get("panels") or [])
        for target in panel.get("targets") or []
        if "expr" in target
    ]


def design_findings(dashboard: dict[str, Any], contract: Contract) -> list[Finding]:
    problems = _file_problems(dashboard)
    problems += _variable_problems(dashboard, contract)
    problems += _panel_problems(dashboard, contract)
    problems += _query_problems(_panel_exprs(dashboard), contract)
    return [Finding(None, problem) for problem in problems]


def _file_problems(dashboard: dict[str, Any]) -> list[str]:
    """A provisioning file, not an export for import: no id, no import placeholders; the
    schema, time range and refresh the dashboard was built for."""
    problems = []
    if dashboard.get("schemaVersion") != SCHEMA_VERSION:
        problems.append(
            f"dashboard schemaVersion is {dashboard.get('schemaVersion')!r}, "
            f"expected {SCHEMA_VERSION!r}"
        )
    if dashboard.get("id") not in (None, 0):
        problems.append(f"dashboard id is {dashboard.get('id')!r}; provisioned files carry none")
    problems += [f"{leftover} is left in the file" for leftover in leftover_inputs(dashboard)]
    refresh = str(dashboard.get("refresh", ""))
    if not re.fullmatch(r"\d+[smhd]", refresh) or _seconds(refresh) < MIN_REFRESH_S:
        problems.append(f"refresh {refresh!r} is not a duration of at least {MIN_REFRESH_S}s")
    time_from = (dashboard.get("time") or {}).get("from")
    if time_from != TIME_FROM:
        problems.append(f"time.from is {time_from!r}, expected {TIME_FROM}")
    return problems


def _seconds(duration: str) -> int:
    return int(duration[:-1]) * _SECONDS[duration[-1]]


def _datasource_ref_problem(where: str, ref: Any, uid: str) -> str | None:
    want = {"type": "prometheus", "uid": uid}
    if ref != want:
        return f"{where}: datasource {ref!r}, expected {want!r}"
    return None


def _variable_problems(dashboard: dict[str, Any], contract: Contract) -> list[str]:
    """The contract's variables, in order: label_values queries over the events family on
    the contract datasource, defaulting to the contract's values."""
    problems = []
    uid = contract.datasource["uid"]
    variables = {v.get("name"): v for v in (dashboard.get("templating") or {}).get("list") or []}
    if list(variables) != list(contract.dashboard["variables"]):
        problems.append(f"variables {list(variables)}, expected {contract.dashboard['variables']}")
    for name in contract.dashboard["variables"]:
        var = variables.get(name)
        if var is None:
            continue
        if var.get("type") != "query":
            problems.append(f"variable {name}: type {var.get('type')!r}, expected query")
        query = var.get("query")
        text = str(query.get("query") if isinstance(query, dict) else query)
        if not text.startswith("label_values(peak_trade_pipeline_events_total") or not (
            text.endswith(f", {name})")
        ):
            problems.append(
                f"variable {name}: query {text!r} is not label_values(<events>, {name})"
            )
        problem = _datasource_ref_problem(f"variable {name}", var.get("datasource"), uid)
        if problem:
            problems.append(problem)
        default = contract.variables[name]
        current = (var.get("current") or {}).get("value")
        if current != default:
            problems.append(f"variable {name}: default {current!r}, expected {default!r}")
    return problems


def _panel_problems(dashboard: dict[str, Any], contract: Contract) -> list[str]:
    """The contract's row groups; unique panel ids; every query panel has a query, and it
    and each of its targets name the contract datasource by uid."""
    problems = []
    uid = contract.datasource["uid"]
    want_rows = list(contract.dashboard["row_groups"])
    rows = [p.get("title") for p in dashboard.get("panels") or [] if p.get("type") == "row"]
    if rows != want_rows:
        problems.append(f"row panels {rows}, expected {want_rows}")
    panels = list(walk_panels(dashboard.get("panels") or []))
    ids = [p.get("id") for p in panels]
    if len(ids) != len(set(ids)):
        problems.append(f"panel ids are not unique: {ids}")
    for panel in panels:
        title = panel.get("title")
        if panel.get("type") in QUERYLESS_PANEL_TYPES:
            continue
        if not panel.get("targets"):
            problems.append(f"panel {title!r} has no query")
        problem = _datasource_ref_problem(f"panel {title!r}", panel.get("datasource"), uid)
        if problem:
            problems.append(problem)
        for target in panel.get("targets") or []:
            where = f"panel {title!r} target {target.get('refId')}"
            problem = _datasource_ref_problem(where, target.get("datasource"), uid)
            if problem:
                problems.append(problem)
    return problems


def _query_problems(exprs: list[tuple[str, str]], contract: Contract) -> list[str]:
    """Phase 5's queries are there; every family is a contract family, filtered by the
    dashboard's variables, over its design window; an error rate never divides by zero."""
    problems = []
    squashed = {_squash(expr) for _, expr in exprs}
    for meaning, query in PHASE5_QUERIES.items():
        if _squash(query) not in squashed:
            problems.append(f"Phase 5 query '{meaning}' missing: {query}")
    families = {f.name: f for f in contract.families}
    for title, expr in exprs:
        where = f"panel {title!r}"
        names = set(FAMILY_NAME.findall(expr))
        allowed = {LONG_WINDOW_FAMILIES.get(n, DEFAULT_WINDOW) for n in names} or {DEFAULT_WINDOW}
        for window in RANGE_WINDOW.findall(expr):
            if window not in allowed:
                problems.append(f"{where}: window [{window}], expected {sorted(allowed)}")
        for name in names:
            family = families.get(re.sub(r"_(bucket|sum|count)$", "", name))
            if family is None:
                problems.append(f"{where}: {name} is not a contract family")
                continue
            if 'mode="$mode"' not in expr:
                problems.append(f'{where}: {name} not filtered by mode="$mode"')
            if "exchange" in family.labels and 'exchange=~"$exchange"' not in expr:
                problems.append(f'{where}: {name} not filtered by exchange=~"$exchange"')
        if 'stage="error"' in expr and "/" in expr and "clamp_min(" not in expr:
            problems.append(f"{where}: error-rate denominator without clamp_min(..., 1e-9)")
    return problems
