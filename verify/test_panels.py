"""F-FAIL-PANELS → G-9: the provisioned dashboard as Grafana's frontend renders it (runbook
F-4 "panels empty"). Its own template variables are resolved through its datasource
(label_values/query_result via the datasource resource API, regex, sort, saved current or
first option, All, multi), every panel query is interpolated as Grafana's Prometheus
datasource does and run through Grafana's POST /api/ds/query over the dashboard's default
time range. The contract's variable values are expectations (the run's mode among $mode's
options), not input. Semantics and sources: shadow_mvs/evidence/dashboard_vars.py."""

import time

from shadow_mvs.core.contract import Contract
from shadow_mvs.core.run import CheckContext
from shadow_mvs.evidence.panels import DashboardRender, RenderedTarget, render_panels
from shadow_mvs.plugin.clients import GrafanaClient
from shadow_mvs.plugin.stack import Stack

CHECK = "panels"


def test_every_panel_returns_data(
    shadow_mvs_check: CheckContext,
    shadow_mvs_stack: Stack,
    shadow_mvs_grafana: GrafanaClient,
    shadow_mvs_contract: Contract,
    shadow_mvs_mode: str,
) -> None:
    ds_uid = shadow_mvs_contract.datasource["uid"]
    dashboard_uid = shadow_mvs_contract.dashboard["uid"]
    expected = {**shadow_mvs_contract.variables, "mode": shadow_mvs_mode}
    cache: dict[str, object] = {}  # variable options and the datasource interval, per run

    def probe() -> tuple[DashboardRender, list[RenderedTarget]]:
        return render_panels(
            shadow_mvs_grafana, dashboard_uid, ds_uid, expected, cache, int(time.time() * 1000)
        )

    render, targets = shadow_mvs_check.poll(probe)
    shown = " ".join(f"{name}={v.shown()}" for name, v in render.variables.items())
    panels = len({t.panel for t in targets})
    shadow_mvs_check.passed(
        f"{panels} panels, {len(targets)} queries with data through Grafana ({shown})"
    )
    shadow_mvs_check.evidence(
        "panels",
        f"panels={panels} queries={len(targets)} datasource={ds_uid} {shown}".rstrip(),
    )
