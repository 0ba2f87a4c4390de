"""F-FAIL-QUERIES → G-7: the golden queries answer: up{job="shadow_mvs"} is 1 and the stage
query (rate over [5m], the run's mode) is non-empty; when it stays empty, probes say why.
Also the cardinality guard on what Prometheus stored: no series with a forbidden label and
the job's series count within the contract's budget."""

import httpx
from prometheus_api_client import PrometheusConnect

from fixtures.stack import Stack
from verify.contract import Contract
from verify.empty_query import explain_empty_stage_query, first_failure_detail
from verify.run import CheckContext, CheckFailed
from verify.settings import Settings

CHECK = "queries"


def test_golden_queries_non_empty(
    check: CheckContext,
    stack: Stack,
    prometheus: PrometheusConnect,
    http_client: httpx.Client,
    settings: Settings,
    contract: Contract,
    mode: str,
) -> None:
    job = contract.prometheus["job"]
    up_query = contract.golden_query("up", mode)
    stage_query = contract.golden_query("stage", mode)

    def probe() -> tuple[int, int]:
        up = prometheus.custom_query(up_query)
        if not up or float(up[0]["value"][1]) != 1:
            raise CheckFailed(f"{up_query} returned {up or 'nothing'}, expected 1")
        stages = prometheus.custom_query(stage_query)
        if not stages:
            raise CheckFailed(f"stage query empty: {stage_query}", cause="empty")
        for label in contract.forbidden_labels:
            if leaked := prometheus.custom_query(f'count({{job="{job}", {label}!=""}})'):
                raise CheckFailed(
                    f"{leaked[0]['value'][1]} series carry forbidden label {label}",
                    cause="cardinality",
                    retryable=False,
                )
        total = int(float(prometheus.custom_query(f'count({{job="{job}"}})')[0]["value"][1]))
        if total > contract.max_series:
            raise CheckFailed(
                f'job="{job}" has {total} series, budget {contract.max_series}',
                cause="cardinality",
                retryable=False,
            )
        return len(stages), total

    try:
        stage_series, total = check.poll(probe)
    except CheckFailed as failed:
        if failed.cause != "empty":
            raise
        raise explain(check, failed, prometheus, http_client, settings, contract, mode) from None
    check.passed(f"up=1, stage query {stage_series} series (mode={mode}), {total} job series")
    check.evidence(
        "queries",
        f"up=1 stage_series={stage_series} mode={mode} job_series={total}/{contract.max_series}",
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
