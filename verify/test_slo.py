"""F-FAIL-SLO → R-n: is the session the stack shows healthy? Every SLO of the contract
(error rate, intent→ack p95, feed gaps, risk-block rate, events flowing) is evaluated over
the contract's window against the run mode's threshold and printed as
``EVIDENCE|slo_<name>=value threshold=… ok|breach``; the PromQL goes to verify.json. So do
the alert rules whose expression would fire now. A breach is a WARN line and the check
passes, judged at once on the data already in the window: a check that cannot fail the run
never extends it. With --slo-gate (the pre-live step) the check waits, within its budget,
only until each ratio SLO is settled by its confidence bound (docs/SLO_GATE.md); then the
first breach fails the check and triage names its incident runbook R-n."""

from typing import Any

import httpx
import pytest
from prometheus_api_client import PrometheusConnect

from shadow_mvs.config.settings import Settings
from shadow_mvs.core.contract import Contract
from shadow_mvs.core.run import CheckContext, CheckFailed
from shadow_mvs.evidence.slo import (
    SloResult,
    alert_summary,
    evaluate_alerts,
    evaluate_slos,
    ratio_bounds,
)
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
    contract, mode, gated = shadow_mvs_contract, shadow_mvs_mode, shadow_mvs_settings.slo_gate
    query = shadow_mvs_prometheus.custom_query
    run = verify_run(request.config)
    # With a red check already, the SLOs are context: judge what is there, do not wait.
    wait_to_settle = gated and (run is None or run.first_failure is None)
    volume_query = contract.slo_volume_query(mode)

    def measure() -> tuple[list[SloResult], float]:
        """The window now: each SLO (with its confidence bound when gated) and its volume."""
        results = evaluate_slos(query, contract, mode)
        if gated:
            bounds = ratio_bounds(query, contract, mode)
            results = [
                SloResult(r.objective, r.mode, r.promql, r.value, bounds.get(r.objective.name))
                for r in results
            ]
        samples = query(volume_query)
        return results, float(samples[0]["value"][1]) if samples else 0.0

    def settled() -> tuple[list[SloResult], float]:
        results, volume = measure()
        if missing := [r.objective.name for r in results if r.value is None]:
            raise CheckFailed(
                f"no data for SLO(s) {', '.join(missing)} over {contract.slo_window}",
                cause="no_data",
            )
        # Wait while a ratio is still open and nothing is breached for sure; a session with
        # no events at all is judged at once (event_rate breaches).
        open_ = [r for r in results if r.bound is not None and not r.bound.settled]
        sure_breach = [r for r in results if r.breached and (r.bound is None or r.bound.settled)]
        if wait_to_settle and volume > 0 and open_ and not sure_breach:
            raise CheckFailed(
                "not settled yet: "
                + ", ".join(f"{r.objective.name} {r.bound.text()}" for r in open_ if r.bound)
                + f" over {contract.slo_window}",
                cause="warming",
            )
        return results, volume

    def rules() -> list[dict[str, Any]]:
        response = shadow_mvs_http.get(f"{shadow_mvs_settings.prometheus_url}/api/v1/rules")
        response.raise_for_status()
        groups: list[dict[str, Any]] = response.json()["data"]["groups"]
        return groups

    if not gated:
        # Cannot fail the run, so it never waits for data: one look (retrying only a
        # transport error) at what the window holds now.
        results, volume = shadow_mvs_check.poll(measure)
        if missing := [r.objective.name for r in results if r.value is None]:
            shadow_mvs_check.warn(
                f"no data for SLO(s) {', '.join(missing)} over {contract.slo_window} yet; "
                "the SLOs were not judged"
            )
            shadow_mvs_check.passed("no SLO data (WARN)")
            return
    else:
        try:
            results, volume = shadow_mvs_check.poll(settled)
        except CheckFailed as failed:
            if failed.cause != "warming":
                raise
            # A sparse session: judge what there is, and say the bounds are still open.
            shadow_mvs_check.warn(f"{failed.message}; judged anyway, ratios are noisy")
            results, volume = measure()
    sparse = volume < contract.slo_min_events
    shadow_mvs_check.evidence(
        "slo_window",
        f"{contract.slo_window} events={volume:.0f}"
        + (f" (below min_events={contract.slo_min_events}: indicative)" if sparse else "")
        + f" mode={mode} gate={'on' if gated else 'off'}"
        + (f" confidence={contract.slo_confidence:g}" if gated else ""),
    )
    shadow_mvs_check.info("slo_volume_promql", volume_query)
    for result in results:
        shadow_mvs_check.evidence(f"slo_{result.objective.name}", result.evidence())
        shadow_mvs_check.info(f"slo_{result.objective.name}_promql", result.promql)
        if result.measured and result.value is not None:
            shadow_mvs_check.measure(f"slo_{result.objective.name}", result.value)
        limit = result.objective.threshold[mode]
        shadow_mvs_check.measure(f"slo_{result.objective.name}_threshold", limit)
    alerts = evaluate_alerts(shadow_mvs_check.poll(rules), query, mode)
    would_fire, active = alert_summary(alerts)
    shadow_mvs_check.evidence("alerts_would_fire", would_fire)
    shadow_mvs_check.evidence("alerts_active", active)

    breaches = [r for r in results if r.breached]
    if breaches and gated:
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
        f"{met}/{len(results)} SLOs met over {contract.slo_window} "
        f"(mode {mode}, gate {'on' if gated else 'off'})"
        + (f", {len(breaches)} breach(es) WARN" if breaches else "")
    )
