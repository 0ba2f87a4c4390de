"""F-FAIL-QUERIES → G-7: the golden queries answer: up{job="shadow_mvs"} is 1 and the stage
query (rate over [5m], the run's mode) is non-empty. rate() needs two scrapes, so the first
seconds after bring-up are warm-up."""

from prometheus_api_client import PrometheusConnect

from fixtures.stack import Stack
from verify.contract import Contract
from verify.run import CheckContext, CheckFailed

CHECK = "queries"


def test_golden_queries_non_empty(
    check: CheckContext, stack: Stack, prometheus: PrometheusConnect, contract: Contract, mode: str
) -> None:
    up_query = contract.golden_query("up", mode)
    stage_query = contract.golden_query("stage", mode)

    def probe() -> int:
        up = prometheus.custom_query(up_query)
        if not up or float(up[0]["value"][1]) != 1:
            raise CheckFailed(f"{up_query} returned {up or 'nothing'}, expected 1")
        stages = prometheus.custom_query(stage_query)
        if not stages:
            raise CheckFailed(f"stage query empty: {stage_query}", cause="empty")
        return len(stages)

    series = check.poll(probe)
    check.passed(f"up=1, stage query {series} series (mode={mode})")
    check.evidence("queries", f"up=1 stage_series={series} mode={mode}")
