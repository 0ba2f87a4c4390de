"""F-FAIL-PANELS → G-9: every panel of the provisioned dashboard, with $mode/$exchange
filled from the run, uses the provisioned datasource uid and returns data both from
Prometheus directly and through Grafana's POST /api/ds/query (runbook F-4 "panels empty")."""

from prometheus_api_client import PrometheusConnect

from shadow_mvs.core.contract import Contract
from shadow_mvs.core.run import CheckContext, CheckFailed
from shadow_mvs.evidence.panels import leftover_inputs, panel_queries
from shadow_mvs.plugin.clients import GrafanaClient
from shadow_mvs.plugin.stack import Stack

CHECK = "panels"


def test_every_panel_returns_data(
    shadow_mvs_check: CheckContext,
    shadow_mvs_stack: Stack,
    shadow_mvs_grafana: GrafanaClient,
    shadow_mvs_prometheus: PrometheusConnect,
    shadow_mvs_contract: Contract,
    shadow_mvs_mode: str,
) -> None:
    ds_uid = shadow_mvs_contract.datasource["uid"]
    variables = {**shadow_mvs_contract.variables, "mode": shadow_mvs_mode}

    def probe() -> tuple[int, int]:
        path = f"/api/dashboards/uid/{shadow_mvs_contract.dashboard['uid']}"
        dashboard = shadow_mvs_grafana.get_json(path)["dashboard"]
        if leftovers := leftover_inputs(dashboard):
            raise CheckFailed(
                f"dashboard keeps import leftovers: {leftovers}",
                cause="panel_datasource",
                retryable=False,
            )
        queries = panel_queries(dashboard, variables)
        for query in queries:
            if any(uid != ds_uid for uid in query.datasource_uids):
                raise CheckFailed(
                    f"panel {query.panel!r} uses datasource "
                    f"{query.datasource_uids}, not the provisioned uid {ds_uid}",
                    cause="panel_datasource",
                    retryable=False,
                )
        for query in queries:
            if not shadow_mvs_prometheus.custom_query(query.expr):
                raise CheckFailed(
                    f"panel {query.panel!r} ({query.ref_id}) empty in Prometheus: {query.expr}",
                    cause="panel_empty",
                )
        body = {
            "from": "now-15m",
            "to": "now",
            "queries": [
                {
                    "refId": f"{q.ref_id}{i}",
                    "datasource": {"type": "prometheus", "uid": ds_uid},
                    "expr": q.expr,
                    "instant": True,
                    "range": False,
                }
                for i, q in enumerate(queries)
            ],
        }
        response = shadow_mvs_grafana.post_json("/api/ds/query", body)
        results = response.json().get("results", {})
        for i, query in enumerate(queries):
            result = results.get(f"{query.ref_id}{i}", {})
            if result.get("error") or response.status_code != 200:
                raise CheckFailed(
                    f"panel {query.panel!r} via Grafana /api/ds/query: "
                    f"{result.get('error') or f'HTTP {response.status_code}'}",
                    cause="panel_empty",
                )
            frames = result.get("frames", [])
            if not any(any(column for column in f["data"]["values"]) for f in frames):
                raise CheckFailed(
                    f"panel {query.panel!r} ({query.ref_id}) has no data through "
                    f"Grafana datasource {ds_uid}",
                    cause="panel_empty",
                )
        return len({q.panel for q in queries}), len(queries)

    panels, count = shadow_mvs_check.poll(probe)
    shadow_mvs_check.passed(
        f"{panels} panels, {count} queries with data via Prometheus and Grafana"
    )
    shadow_mvs_check.evidence(
        "panels", f"panels={panels} queries={count} datasource={ds_uid} mode={shadow_mvs_mode}"
    )
