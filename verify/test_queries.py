"""F-FAIL-QUERIES → G-7: the golden queries answer: up{job="shadow_mvs"} is 1 and the stage
query (rate over [5m], the run's mode) is non-empty, its stored series carry the contract's
labels and values; when they do not, the hop-by-hop walk (shadow_mvs/evidence/hops.py) names
the first hop that loses the data. Also the cardinality guard on what Prometheus stored: no
series with a forbidden label and the job's series count within the contract's budget."""

from typing import Any

import httpx
from prometheus_api_client import PrometheusConnect

from shadow_mvs.config.settings import Settings
from shadow_mvs.core.contract import Contract
from shadow_mvs.core.run import CheckContext, CheckFailed
from shadow_mvs.evidence.hops import Hop, first_loss, stage_walk, walk_hops
from shadow_mvs.evidence.remote_write import backend_scrapes
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
    walk, window = stage_walk(shadow_mvs_contract, shadow_mvs_mode)
    family = walk.family
    walked: list[Hop] = []

    def explain(symptom: CheckFailed) -> CheckFailed:
        """The data is missing or misshapen: the first hop that loses it is the cause."""
        topology = shadow_mvs_settings.topology
        scrapes = topology == "scrape" or (
            topology == "auto"
            and backend_scrapes(shadow_mvs_http, shadow_mvs_settings.prometheus_url, job)
        )
        walked[:] = walk_hops(
            walk,
            shadow_mvs_http,
            shadow_mvs_prometheus,
            shadow_mvs_settings.prometheus_url,
            shadow_mvs_settings.exporter_url,
            shadow_mvs_contract,
            window,
            backend_scrapes=scrapes,
        )
        return first_loss(walked) or symptom

    def probe() -> tuple[int, int]:
        walked.clear()
        up = shadow_mvs_prometheus.custom_query(up_query)
        if not up or float(up[0]["value"][1]) != 1:
            raise CheckFailed(f"{up_query} returned {up or 'nothing'}, expected 1")
        # What one scrape shows first (shape, forbidden labels, budget); the rate needs two.
        stored = shadow_mvs_prometheus.custom_query(
            f'{family}{{job="{job}", mode="{shadow_mvs_mode}"}}'
        )
        if not stored:
            raise explain(CheckFailed(f"stage query empty: {stage_query}", cause="empty"))
        if off := off_contract(stored, shadow_mvs_contract, family):
            raise explain(
                CheckFailed(
                    f"{len(off)} of {len(stored)} stored {family} series",
                    cause="tsdb_series_off_contract",
                    facts={"family": family, "job": job, "labels": "; ".join(off[:3])},
                )
            )
        for label in shadow_mvs_contract.forbidden_labels:
            if leaked := shadow_mvs_prometheus.custom_query(f'count({{job="{job}", {label}!=""}})'):
                raise CheckFailed(
                    f"{leaked[0]['value'][1]} series carry forbidden label {label}",
                    cause="cardinality",
                )
        total = int(
            float(shadow_mvs_prometheus.custom_query(f'count({{job="{job}"}})')[0]["value"][1])
        )
        if total > shadow_mvs_contract.max_series:
            raise CheckFailed(
                f'job="{job}" has {total} series, budget {shadow_mvs_contract.max_series}',
                cause="cardinality",
            )
        stages = shadow_mvs_prometheus.custom_query(stage_query)
        if not stages:
            raise explain(CheckFailed(f"stage query empty: {stage_query}", cause="empty"))
        return len(stages), total

    try:
        stage_series, total = shadow_mvs_check.poll(probe)
    finally:
        for hop in walked:  # the walk of the last attempt: one EVIDENCE line per hop
            shadow_mvs_check.evidence(f"hop_{hop.name}", hop.evidence)
    shadow_mvs_check.passed(
        f"up=1, stage query {stage_series} series (mode={shadow_mvs_mode}), {total} job series"
    )
    shadow_mvs_check.evidence(
        "queries",
        f"up=1 stage_series={stage_series} mode={shadow_mvs_mode} "
        f"job_series={total}/{shadow_mvs_contract.max_series}",
    )


def off_contract(stored: list[dict[str, Any]], contract: Contract, family: str) -> list[str]:
    """Stored series missing a contract label or carrying a value the contract does not allow."""
    off = []
    for series in stored:
        labels = series["metric"]
        for key in contract.family(family).labels:
            if labels.get(key) not in contract.label_values.get(key, [labels.get(key)]):
                off.append(f"{key}={labels.get(key, '(absent)')}")
                break
    return off
