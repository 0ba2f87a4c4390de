"""F-FAIL-QUERIES → G-7: the golden queries answer: up{job="shadow_mvs"} is 1 and the stage
query (rate over [5m], the run's mode) is non-empty; when it stays empty, probes say why.
Also the cardinality guard on what Prometheus stored: no series with a forbidden label and
the job's series count within the contract's budget."""

import httpx
from prometheus_api_client import PrometheusConnect

from shadow_mvs.config.settings import Settings
from shadow_mvs.core.contract import Contract
from shadow_mvs.core.run import CheckContext, CheckFailed
from shadow_mvs.evidence.empty_query import explain_empty_stage_query, first_failure_detail
from shadow_mvs.plugin.stack import Stack

CHECK = "queries"


def test_golden_queries_non_empty(
    shadow_mvs_check: CheckContext,
    shadow_mvs_stack: Stack,
    shadow_mvs_prometheus: PrometheusConnect,
    shadow_mvs_http: httpx.Client,
    shadow_mvs_settings: Settings,
    shadow_mvs_contract: Contract,
    shadow_mvs_mode: str,
) -> None:
    job = shadow_mvs_contract.prometheus["job"]
    up_query = shadow_mvs_contract.golden_query("up", shadow_mvs_mode)
    stage_query = shadow_mvs_contract.golden_query("stage", shadow_mvs_mode)

    def probe() -> tuple[int, int]:
        up = shadow_mvs_prometheus.custom_query(up_query)
        if not up or float(up[0]["value"][1]) != 1:
            raise CheckFailed(f"{up_query} returned {up or 'nothing'}, expected 1")
        stages = shadow_mvs_prometheus.custom_query(stage_query)
        if not stages:
            raise CheckFailed(f"stage query empty: {stage_query}", cause="empty")
        for label in shadow_mvs_contract.forbidden_labels:
            if leaked := shadow_mvs_prometheus.custom_query(f'count({{job="{job}", {label}!=""}})'):
                raise CheckFailed(
                    f"{leaked[0]['value'][1]} series carry forbidden label {label}",
                    cause="cardinality",
                    retryable=False,
                )
        total = int(
            float(shadow_mvs_prometheus.custom_query(f'count({{job="{job}"}})')[0]["value"][1])
        )
        if total > shadow_mvs_contract.max_series:
            raise CheckFailed(
                f'job="{job}" has {total} series, budget {shadow_mvs_contract.max_series}',
                cause="cardinality",
                retryable=False,
            )
        return len(stages), total

    try:
        stage_series, total = shadow_mvs_check.poll(probe)
    except CheckFailed as failed:
        if failed.cause != "empty":
            raise
        raise explain(
            shadow_mvs_check,
            failed,
            shadow_mvs_prometheus,
            shadow_mvs_http,
            shadow_mvs_settings,
            shadow_mvs_contract,
            shadow_mvs_mode,
        ) from None
    shadow_mvs_check.passed(
        f"up=1, stage query {stage_series} series (mode={shadow_mvs_mode}), {total} job series"
    )
    shadow_mvs_check.evidence(
        "queries",
        f"up=1 stage_series={stage_series} mode={shadow_mvs_mode} "
        f"job_series={total}/{shadow_mvs_contract.max_series}",
    )


def explain(
    check: CheckContext,
    failed: CheckFailed,
    prometheus: PrometheusConnect,
    http_client: httpx.Client,
    settings: Settings,
    contract: Contract,
    mode: str,
) -> CheckFailed:
    """Run the G-7 probes, one EVIDENCE line each; the first failing one is the detail."""
    try:
        exporter_text: str | None = http_client.get(f"{settings.exporter_url}/metrics").text
    except httpx.HTTPError:
        exporter_text = None
    probes = explain_empty_stage_query(
        exporter_text, prometheus, contract, mode, contract.prometheus["scrape_interval_s"]
    )
    for item in probes:
        check.evidence(f"g7_{item.name}", item.evidence)
    return CheckFailed(
        f"{first_failure_detail(probes)} ({failed.message.removeprefix(f'{failed.sentence} — ')})",
        cause="empty",
        retryable=False,
    )
