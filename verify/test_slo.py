"""F-FAIL-SLO → R-n: is the session the stack shows healthy? Every SLO of the contract
(error rate, intent→ack p95, feed gaps, risk-block rate, events flowing) is evaluated over
the contract's window against the run mode's threshold and printed as
``EVIDENCE|slo_<name>=value threshold=… ok|breach``; the PromQL goes to verify.json. So do
the alert rules whose expression would fire now. A breach is a WARN line and the check
passes, unless --slo-gate (the pre-live step): then the first breach fails the check and
triage names its incident runbook R-n."""

from typing import Any

import httpx
import pytest
from prometheus_api_client import PrometheusConnect

from shadow_mvs.config.settings import Settings
from shadow_mvs.core.contract import Contract
from shadow_mvs.core.run import CheckContext, CheckFailed
from shadow_mvs.evidence.slo import SloResult, alert_summary, evaluate_alerts, evaluate_slos
from shadow_mvs.plugin.stack import Stack
from shadow_mvs.report.session import verify_run

CHECK = "slo"


def test_session_meets_its_slos(
    shadow_mvs_check: CheckContext,
    shadow_mvs_stack: Stack,
    shadow_mvs_prometheus: PrometheusConnect,
    shadow_mvs_http: httpx.Client,
    shadow_mvs_settings: Settings,
    shadow_mvs_contract: Contract,
    shadow_mvs_mode: str,
    request: pytest.FixtureRequest,
) -> None:
    run = verify_run(request.config)
    # With a red check already, the SLOs are context: judge what is there, do not wait.
    wait_for_volume = run is None or run.first_failure is None
    volume_query = shadow_mvs_contract.slo_volume_query(shadow_mvs_mode)

    def judge() -> list[SloResult]:
        results = evaluate_slos(
            shadow_mvs_prometheus.custom_query, shadow_mvs_contract, shadow_mvs_mode
        )
        if missing := [r.objective.name for r in results if r.value is None]:
            raise CheckFailed(
                f"no data for SLO(s) {', '.join(missing)} over {shadow_mvs_contract.slo_window}",
                cause="no_data",
            )
        return results

    def probe() -> list[SloResult]:
        results = judge()
        volume = window_volume()
        if wait_for_volume and 0 < volume < shadow_mvs_contract.slo_min_events:
            raise CheckFailed(
                f"the {shadow_mvs_contract.slo_window} window holds {volume:.0f} pipeline events, "
                f"fewer than min_events={shadow_mvs_contract.slo_min_events}",
                cause="warming",
            )
        return results

    def window_volume() -> float:
        samples = shadow_mvs_prometheus.custom_query(volume_query)
        return float(samples[0]["value"][1]) if samples else 0.0

    def rules() -> list[dict[str, Any]]:
        response = shadow_mvs_http.get(f"{shadow_mvs_settings.prometheus_url}/api/v1/rules")
        response.raise_for_status()
        groups: list[dict[str, Any]] = response.json()["data"]["groups"]
        return groups

    try:
        results = shadow_mvs_check.poll(probe)
    except CheckFailed as failed:
        if failed.cause == "warming":
            # A sparse session: judge what there is, and say the ratios are noisy.
            shadow_mvs_check.warn(f"{failed.message}; judged anyway, ratios are noisy")
            results = judge()
        elif failed.cause == "no_data" and not shadow_mvs_settings.slo_gate:
            shadow_mvs_check.warn(f"{failed.message}; the SLOs were not judged")
            shadow_mvs_check.passed("no SLO data (WARN)")
            return
        else:
            raise
    gate = "on" if shadow_mvs_settings.slo_gate else "off"
    shadow_mvs_check.evidence(
        "slo_window",
        f"{shadow_mvs_contract.slo_window} events={window_volume():.0f} "
        f"mode={shadow_mvs_mode} gate={gate}",
    )
    shadow_mvs_check.info("slo_volume_promql", volume_query)
    for result in results:
        shadow_mvs_check.evidence(f"slo_{result.objective.name}", result.evidence())
        shadow_mvs_check.info(f"slo_{result.objective.name}_promql", result.promql)
        if result.measured and result.value is not None:
            shadow_mvs_check.measure(f"slo_{result.objective.name}", result.value)
        limit = result.objective.threshold[shadow_mvs_mode]
        shadow_mvs_check.measure(f"slo_{result.objective.name}_threshold", limit)
    alerts = evaluate_alerts(
        shadow_mvs_check.poll(rules), shadow_mvs_prometheus.custom_query, shadow_mvs_mode
    )
    would_fire, active = alert_summary(alerts)
    shadow_mvs_check.evidence("alerts_would_fire", would_fire)
    shadow_mvs_check.evidence("alerts_active", active)

    breaches = [r for r in results if r.breached]
    if breaches and shadow_mvs_settings.slo_gate:
        first, *rest = breaches
        also = f"; also {', '.join(r.sentence() for r in rest)}" if rest else ""
        raise CheckFailed(
            f"SLO gate: {first.sentence()}{also}; alerts would fire: {would_fire}",
            cause=first.objective.name,
            retryable=False,
        )
    for breach in breaches:
        shadow_mvs_check.warn(
            f"{breach.sentence()} (shadow-mvs explain {breach.objective.r_node}; "
            "--slo-gate fails the run)"
        )
    met = len(results) - len(breaches)
    shadow_mvs_check.passed(
        f"{met}/{len(results)} SLOs met over {shadow_mvs_contract.slo_window} "
        f"(mode {shadow_mvs_mode}, gate {gate})"
        + (f", {len(breaches)} breach(es) WARN" if breaches else "")
    )
