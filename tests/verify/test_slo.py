"""The SLO judgement (shadow_mvs/evidence/slo.py), the gate switch and `explain R-n`, without a stack:
queries are answered from fixed samples, as Prometheus's instant-query API would."""

from __future__ import annotations

import math
from collections.abc import Mapping

import pytest

from fixtures.faults import run_cli
from shadow_mvs import cli
from shadow_mvs.config.settings import Settings
from shadow_mvs.core.contract import load_contract
from shadow_mvs.evidence.slo import (
    RatioBound,
    SloResult,
    alert_summary,
    evaluate_alerts,
    evaluate_slos,
    ratio_bounds,
    wilson_bounds,
)

CONTRACT = load_contract()
OBJECTIVES = {o.name: o for o in CONTRACT.slo_objectives}


def answering(values: Mapping[str, float | None]):
    """A query function: the objective whose PromQL is asked gets its value (None: empty)."""
    by_promql = {
        o.promql("shadow", CONTRACT.slo_window): values.get(o.name) for o in OBJECTIVES.values()
    }

    def query(promql: str) -> list[dict]:
        value = by_promql[promql]
        return [] if value is None else [{"metric": {}, "value": [0, str(value)]}]

    return query


HEALTHY = {
    "event_rate": 18.0,
    "error_rate": 0.002,
    "intent_to_ack_p95": 0.21,
    "feed_gaps": 0.0,
    "risk_block_rate": 0.08,
}


def test_a_healthy_session_meets_every_slo():
    results = evaluate_slos(answering(HEALTHY), CONTRACT, "shadow")
    assert [r.objective.name for r in results] == list(OBJECTIVES)
    assert not any(r.breached for r in results)
    assert results[1].evidence() == "0.002 threshold=<0.01 ok"


@pytest.mark.parametrize(
    ("name", "value", "r_node"),
    [
        ("event_rate", 0.0, "R-2"),
        ("error_rate", 0.05, "R-3"),
        ("error_rate", 0.01, "R-3"),  # at the threshold is a breach: "< 1 %"
        ("intent_to_ack_p95", 3.2, "R-3"),
        ("feed_gaps", 3.0, "R-2"),
        ("risk_block_rate", 0.6, "R-4"),
    ],
)
def test_each_breach_names_its_incident(name: str, value: float, r_node: str):
    results = evaluate_slos(answering({**HEALTHY, name: value}), CONTRACT, "shadow")
    (breach,) = [r for r in results if r.breached]
    assert breach.objective.name == name
    assert breach.evidence().endswith(" breach")
    assert breach.sentence().endswith(f"-> {r_node}")


def test_the_live_threshold_is_stricter_for_errors():
    shadow = SloResult(OBJECTIVES["error_rate"], "shadow", "q", 0.002)
    live = SloResult(OBJECTIVES["error_rate"], "live", "q", 0.002)
    assert not shadow.breached
    assert live.breached
    assert live.evidence() == "0.002 threshold=<0.001 breach"


def test_no_series_and_no_observations_are_not_breaches():
    empty = SloResult(OBJECTIVES["error_rate"], "shadow", "q", None)
    nan = SloResult(OBJECTIVES["intent_to_ack_p95"], "shadow", "q", math.nan)
    assert (empty.breached, empty.value_text) == (False, "no-data")
    assert (nan.breached, nan.evidence()) == (False, "n/a threshold=<0.5 ok")


def test_alert_expressions_are_evaluated_for_the_run_mode():
    groups = [
        {
            "rules": [
                {"type": "recording", "name": "r", "query": "x"},
                {
                    "type": "alerting",
                    "name": "PeakTradeErrorRateHigh",
                    "query": "errors",
                    "state": "pending",
                    "annotations": {"r_node": "R-3"},
                },
                {
                    "type": "alerting",
                    "name": "PeakTradeRiskBlockSpike",
                    "query": "blocks",
                    "state": "inactive",
                    "annotations": {"r_node": "R-4"},
                },
            ]
        }
    ]
    answers = {
        "errors": [{"metric": {"mode": "shadow"}, "value": [0, "0.05"]}],
        "blocks": [{"metric": {"mode": "live"}, "value": [0, "0.5"]}],  # another mode
    }
    alerts = evaluate_alerts(groups, lambda q: answers[q], "shadow")
    assert [(a.name, a.would_fire) for a in alerts] == [
        ("PeakTradeErrorRateHigh", True),
        ("PeakTradeRiskBlockSpike", False),
    ]
    assert alert_summary(alerts) == (
        "PeakTradeErrorRateHigh(R-3)",
        "PeakTradeErrorRateHigh:pending",
    )


def test_slo_gate_is_a_shared_switch(monkeypatch):
    monkeypatch.delenv("SHADOW_MVS_SLO_GATE", raising=False)
    assert Settings.from_values({}).slo_gate is False
    monkeypatch.setenv("SHADOW_MVS_SLO_GATE", "true")
    assert Settings.from_values({}).slo_gate is True
    args = cli.build_parser().parse_args(["verify", "--slo-gate"])
    assert "--slo-gate" in cli.pytest_command(args)


def test_explain_prints_an_incident_runbook():
    result = run_cli("explain", "r-3")
    assert result.returncode == 0, result.stderr
    assert "R-3: Error spike / adapter failing" in result.stdout
    assert "cause error_rate:" in result.stdout
    assert "exec -T exporter" in result.stdout  # $COMPOSE expanded
    assert "$COMPOSE" not in result.stdout


def alert_rules() -> list[dict]:
    import yaml

    from shadow_mvs.core.contract import REPO_ROOT

    doc = yaml.safe_load((REPO_ROOT / "compose/prometheus/rules/shadow_mvs_alerts.yml").read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


@pytest.mark.parametrize("objective", list(OBJECTIVES.values()), ids=list(OBJECTIVES))
def test_each_slo_has_its_alert_naming_the_same_r_node_and_threshold(objective):
    """The alert rule watching an SLO names the SLO's R-node and uses its threshold per
    mode, so the contract and compose/prometheus/rules cannot drift apart."""
    rules = [r for r in alert_rules() if r["alert"] == objective.alert]
    assert rules, objective.alert
    assert {r["annotations"]["r_node"] for r in rules} == {objective.r_node}
    for mode, limit in objective.threshold.items():
        scoped = [r for r in rules if f'mode="{mode}"' in r["expr"]] or rules
        assert any(f"{limit:g}" in r["expr"] for r in scoped), (objective.name, mode, limit)


def test_every_alert_names_an_existing_incident_runbook():
    from shadow_mvs.core.triage import load_triage

    nodes = load_triage()
    for rule in alert_rules():
        assert rule["annotations"]["r_node"] in nodes, rule["alert"]
        assert rule["annotations"]["r_node"] in rule["annotations"]["runbook"], rule["alert"]


# --slo-gate: a ratio SLO is settled by a one-sided Wilson score bound (docs/SLO_GATE.md).


@pytest.mark.parametrize(
    ("bad", "total", "lower", "upper"),
    [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718)],
)  # fmt: skip
def test_wilson_bounds_match_newcombes_published_table(bad, total, lower, upper):
    """Newcombe, Statistics in Medicine 17 (1998) 857-872, Table I, method 3 (Wilson score,
    95 % two-sided = each side one-sided at 0.975)."""
    got = wilson_bounds(bad, total, 0.975)
    assert (round(got[0], 4), round(got[1], 4)) == (lower, upper)


def test_a_bound_settles_only_when_the_window_holds_enough_outcomes():
    # A healthy 0.1 % error share against the shadow limit of 1 %, at 95 %:
    assert not RatioBound(bad=0, total=100, limit=0.01, confidence=0.95).settled
    met = RatioBound(bad=0, total=300, limit=0.01, confidence=0.95)
    assert (met.clearly_met, met.clearly_breached) == (True, False)
    assert met.text() == "wilson95 upper=0.00894 limit=0.01 bad=0 total=300"
    # An error spike (30 %) is clear after a few dozen events, long before 300:
    spike = RatioBound(bad=9, total=30, limit=0.01, confidence=0.95)
    assert (spike.clearly_met, spike.clearly_breached) == (False, True)
    assert spike.text() == "wilson95 lower=0.184 limit=0.01 bad=9 total=30"
    # Nothing seen yet is never settled either way.
    assert not RatioBound(bad=0, total=0, limit=0.01, confidence=0.95).settled
    assert RatioBound(bad=2, total=100, limit=0.01, confidence=0.95).text().endswith("unsettled")


def test_a_settled_bound_is_the_gates_verdict_and_its_evidence_says_so():
    objective = OBJECTIVES["error_rate"]
    # The point estimate says breach (2 %), but 2 of 100 cannot tell 1 % apart: unsettled,
    # so the point estimate stands (judged anyway when the budget runs out).
    open_ = RatioBound(bad=2, total=100, limit=0.01, confidence=0.95)
    assert SloResult(objective, "shadow", "q", 0.02, open_).breached
    # Settled below the limit: the SLO holds, whatever the rate() estimate's noise says.
    met = RatioBound(bad=1, total=900, limit=0.01, confidence=0.95)
    result = SloResult(objective, "shadow", "q", 0.0011, met)
    assert not result.breached
    assert result.evidence().startswith("0.0011 threshold=<0.01 ok wilson95 upper=")
    spike = RatioBound(bad=90, total=300, limit=0.01, confidence=0.95)
    assert SloResult(objective, "shadow", "q", 0.3, spike).breached


def test_every_ratio_slo_counts_its_bad_and_total_outcomes():
    """error rate, p95 (share of acks slower than its bound) and risk-block share carry the
    counts the gate's bound needs; event rate and feed gaps are judged as they stand."""
    ratios = {o.name for o in OBJECTIVES.values() if o.is_ratio}
    assert ratios == {"error_rate", "intent_to_ack_p95", "risk_block_rate"}
    assert OBJECTIVES["intent_to_ack_p95"].share_limit("shadow") == 0.05
    assert OBJECTIVES["error_rate"].share_limit("live") == 0.001
    assert 0.5 < CONTRACT.slo_confidence < 1


def test_ratio_bounds_ask_two_counts_per_ratio_slo_and_clamp_bad_to_total():
    asked: list[str] = []
    counts = {}
    for o in OBJECTIVES.values():
        if o.is_ratio:
            bad, total = o.count_promql("shadow", CONTRACT.slo_window)
            counts[bad], counts[total] = (5.0, 4.0) if o.name == "risk_block_rate" else (1.0, 900.0)

    def query(promql: str) -> list[dict]:
        asked.append(promql)
        return [{"metric": {}, "value": [0, str(counts[promql])]}]

    bounds = ratio_bounds(query, CONTRACT, "shadow")
    assert len(asked) == 6
    assert bounds["error_rate"].clearly_met
    assert (bounds["risk_block_rate"].bad, bounds["risk_block_rate"].total) == (4.0, 4.0)
    assert bounds["risk_block_rate"].clearly_breached
