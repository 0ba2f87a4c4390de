"""The contract's SLO PromQL and the repo's alert rules against a real Prometheus (the
.tools binary, no Docker) scraping two real exporters: a healthy one labelled shadow and
an error_spike one labelled live (LIVE_TRADING_ENABLED=true only labels the simulation).
The slo check's own functions judge them: shadow meets every SLO and no alert would fire;
live breaches error_rate (R-3) and PeakTradeErrorRateHigh would fire."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fixtures.local_prometheus import LocalPrometheus, local_prometheus
from fixtures.prometheus_tools import needs_prometheus_tools
from shadow_mvs.core.contract import REPO_ROOT, load_contract
from shadow_mvs.core.waiting import bounded_poll
from shadow_mvs.evidence.slo import (
    AlertNow,
    SloResult,
    evaluate_alerts,
    evaluate_slos,
    ratio_bounds,
)

from .conftest import Launcher

pytestmark = needs_prometheus_tools

CONTRACT = load_contract()
RULES = REPO_ROOT / "compose" / "prometheus" / "rules"
MIN_EVENTS = CONTRACT.slo_min_events  # per mode, as the slo check waits for them
FILL_BUDGET_S = 30.0  # Prometheus start, first scrapes and a rule evaluation on a busy host


def query(url: str):
    def run(promql: str) -> list[dict[str, Any]]:
        response = httpx.get(f"{url}/api/v1/query", params={"query": promql}, timeout=2.0)
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()["data"]["result"]
        return result

    return run


@pytest.fixture(scope="module")
def prometheus(
    module_launcher: Launcher, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalPrometheus]:
    # Tick 0.05 s: five times the default, so the window fills in seconds. The SLOs judged
    # here are ratios or per-window counts, which the tick speed does not change.
    shadow = module_launcher.start(tick="0.05")
    live = module_launcher.start(
        "--mode", "live", "--profile", "error_spike",
        env={"LIVE_TRADING_ENABLED": "true"}, tick="0.05",
    )  # fmt: skip
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES / "*.yml")],
        "scrape_configs": [
            {
                "job_name": CONTRACT.prometheus["job"],
                "static_configs": [{"targets": [e.url.removeprefix("http://") for e in (shadow, live)]}],
            }
        ],
    }  # fmt: skip
    with local_prometheus(tmp_path_factory.mktemp("slo-prometheus"), config) as server:
        run = query(server.url)

        def filled() -> None:
            for mode in ("shadow", "live"):
                samples = run(CONTRACT.slo_volume_query(mode))
                volume = float(samples[0]["value"][1]) if samples else 0.0
                assert volume >= MIN_EVENTS, f"{mode}: {volume} events in the window"
            rules = httpx.get(f"{server.url}/api/v1/rules", timeout=2.0).json()["data"]["groups"]
            assert rules, "rules not loaded yet"
            assert not rules[0]["lastEvaluation"].startswith("0001-"), "rules not evaluated"

        bounded_poll(
            filled,
            budget_s=FILL_BUDGET_S,
            interval_s=0.25,
            retry_if=(AssertionError, httpx.HTTPError),
            what="both exporters scraped into the SLO window",
        )
        yield server


def judge(server: LocalPrometheus, mode: str) -> tuple[list[SloResult], list[AlertNow]]:
    run = query(server.url)
    groups = httpx.get(f"{server.url}/api/v1/rules", timeout=2.0).json()["data"]["groups"]
    return evaluate_slos(run, CONTRACT, mode), evaluate_alerts(groups, run, mode)


def test_healthy_shadow_session_meets_every_slo(prometheus: LocalPrometheus):
    results, alerts = judge(prometheus, "shadow")
    assert all(r.measured for r in results), [r.evidence() for r in results]
    assert not [r.evidence() for r in results if r.breached]
    assert not [a.name for a in alerts if a.would_fire]


def test_error_spike_breaches_error_rate_and_its_alert_would_fire(prometheus: LocalPrometheus):
    results, alerts = judge(prometheus, "live")
    breached = {r.objective.name: r for r in results if r.breached}
    assert set(breached) == {"error_rate"}, [r.evidence() for r in results]
    assert breached["error_rate"].objective.r_node == "R-3"
    would_fire = {a.name: a.r_node for a in alerts if a.would_fire}
    assert would_fire == {"PeakTradeErrorRateHigh": "R-3"}


def test_the_gate_settles_a_healthy_session_as_met_and_the_spike_as_breached(
    prometheus: LocalPrometheus,
):
    """The gate's count PromQL on real series: the error spike's error share is clearly
    above its limit at once; the healthy session's bounds all settle below theirs within
    the window (the error share needs a few hundred events to be told apart from 1 %)."""
    run = query(prometheus.url)
    spike = ratio_bounds(run, CONTRACT, "live")
    assert spike["error_rate"].clearly_breached, spike["error_rate"].text()
    assert not spike["risk_block_rate"].clearly_breached, spike["risk_block_rate"].text()

    def all_met() -> None:
        bounds = ratio_bounds(run, CONTRACT, "shadow")
        assert all(b.total > 0 for b in bounds.values()), bounds
        assert all(b.clearly_met for b in bounds.values()), [b.text() for b in bounds.values()]

    bounded_poll(
        all_met,
        budget_s=FILL_BUDGET_S,
        interval_s=0.5,
        retry_if=(AssertionError,),
        what="the healthy session's bounds settled below their limits",
    )
