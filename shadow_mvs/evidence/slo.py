"""Session health: the contract's SLOs and the loaded alert rules, evaluated now.

``evaluate_slos`` runs each objective's PromQL (shadow_mvs/data/contract.toml [slo]) and judges it
against the threshold of the run's mode. ``ratio_bounds`` counts a ratio SLO's bad and total
outcomes in the window and puts a one-sided Wilson score bound on the bad share, so the
--slo-gate knows when the answer is settled (docs/SLO_GATE.md). ``evaluate_alerts`` runs
the expression of every alerting rule Prometheus has loaded, so an alert that *would* fire
shows before its ``for:`` has elapsed (``ALERTS`` and the rule state only show it afterwards).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

from shadow_mvs.core.contract import Contract, Objective

Query = Callable[[str], list[dict[str, Any]]]


def wilson_bounds(bad: float, total: float, confidence: float) -> tuple[float, float]:
    """(lower, upper) one-sided Wilson score bounds on the share ``bad / total``.

    Each bound alone holds at ``confidence`` (z = the normal quantile of ``confidence``,
    not of its two-sided half): Wilson, "Probable inference, the law of succession, and
    statistical inference", JASA 22 (1927); formula as in Brown, Cai & DasGupta,
    "Interval Estimation for a Binomial Proportion", Statistical Science 16 (2001), eq. 4,
    and statsmodels' ``proportion_confint(method="wilson")``.
    """
    if total <= 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(confidence)
    share = min(max(bad / total, 0.0), 1.0)
    denominator = 1 + z * z / total
    centre = (share + z * z / (2 * total)) / denominator
    half = z * math.sqrt(share * (1 - share) / total + z * z / (4 * total * total)) / denominator
    return max(centre - half, 0.0), min(centre + half, 1.0)


@dataclass(frozen=True)
class RatioBound:
    """A ratio SLO's window as counts, and where its bad share lies at ``confidence``."""

    bad: float
    total: float
    limit: float  # the largest healthy bad share
    confidence: float

    @property
    def lower(self) -> float:
        return wilson_bounds(self.bad, self.total, self.confidence)[0]

    @property
    def upper(self) -> float:
        return wilson_bounds(self.bad, self.total, self.confidence)[1]

    @property
    def clearly_met(self) -> bool:
        return self.upper < self.limit

    @property
    def clearly_breached(self) -> bool:
        return self.lower >= self.limit  # "< limit" is the SLO: at the limit is a breach

    @property
    def settled(self) -> bool:
        return self.clearly_met or self.clearly_breached

    def text(self) -> str:
        """e.g. ``wilson95 upper=0.0089 limit=0.01 bad=2 total=812``: the bound that decides."""
        counts = f"limit={self.limit:g} bad={self.bad:.0f} total={self.total:.0f}"
        name = f"wilson{self.confidence * 100:g}"
        if self.clearly_breached:
            return f"{name} lower={self.lower:.3g} {counts}"
        if self.clearly_met:
            return f"{name} upper={self.upper:.3g} {counts}"
        return f"{name} {self.lower:.3g}..{self.upper:.3g} {counts} unsettled"


def _number(samples: list[dict[str, Any]]) -> float:
    return float(samples[0]["value"][1]) if samples else 0.0


def ratio_bounds(query: Query, contract: Contract, mode: str) -> dict[str, RatioBound]:
    """Each ratio SLO's bound over the window: two count queries per objective."""
    bounds = {}
    for objective in contract.slo_objectives:
        if not objective.is_ratio:
            continue
        bad, total = (_number(query(q)) for q in objective.count_promql(mode, contract.slo_window))
        bounds[objective.name] = RatioBound(
            bad=min(bad, total),
            total=total,
            limit=objective.share_limit(mode),
            confidence=contract.slo_confidence,
        )
    return bounds


@dataclass(frozen=True)
class SloResult:
    objective: Objective
    mode: str
    promql: str
    value: float | None  # None: the query returned no series
    bound: RatioBound | None = None  # --slo-gate only: the confidence bound of a ratio SLO

    @property
    def measured(self) -> bool:
        """False when there is nothing to judge: no series, or no observations (NaN)."""
        return self.value is not None and not math.isnan(self.value)

    @property
    def breached(self) -> bool:
        if self.bound is not None and self.bound.settled:
            return self.bound.clearly_breached  # the gate's verdict is the settled bound's
        return (
            self.measured
            and self.value is not None
            and not self.objective.healthy(self.value, self.mode)
        )

    @property
    def value_text(self) -> str:
        if self.value is None:
            return "no-data"
        return "n/a" if math.isnan(self.value) else f"{self.value:.4g}"

    def evidence(self) -> str:
        """``VALUE threshold=BOUND ok|breach``: the EVIDENCE|slo_<name>= line's value."""
        verdict = "breach" if self.breached else "ok"
        text = f"{self.value_text} threshold={self.objective.bound(self.mode)} {verdict}"
        return f"{text} {self.bound.text()}" if self.bound is not None else text

    def sentence(self) -> str:
        o = self.objective
        return (
            f"{o.name}={self.value_text} {o.unit} breaches {o.bound(self.mode)} "
            f"(mode {self.mode}) -> {o.r_node}"
        )


def evaluate_slos(query: Query, contract: Contract, mode: str) -> list[SloResult]:
    results = []
    for objective in contract.slo_objectives:
        promql = objective.promql(mode, contract.slo_window)
        samples = query(promql)
        value = float(samples[0]["value"][1]) if samples else None
        results.append(SloResult(objective, mode, promql, value))
    return results


@dataclass(frozen=True)
class AlertNow:
    name: str
    r_node: str
    state: str  # the rule's own state: inactive, pending or firing
    would_fire: bool  # its expression returns a series for this mode now

    def text(self) -> str:
        return f"{self.name}({self.r_node or '?'})"


def evaluate_alerts(groups: Sequence[dict[str, Any]], query: Query, mode: str) -> list[AlertNow]:
    """Every alerting rule of /api/v1/rules, its expression evaluated for ``mode``."""
    found = []
    for group in groups:
        for rule in group.get("rules", []):
            if rule.get("type") != "alerting":
                continue
            series = query(rule["query"])
            ours = [s for s in series if s["metric"].get("mode", mode) == mode]
            found.append(
                AlertNow(
                    name=rule["name"],
                    r_node=str(rule.get("annotations", {}).get("r_node", "")),
                    state=str(rule.get("state", "inactive")),
                    would_fire=bool(ours),
                )
            )
    return found


def alert_summary(alerts: Sequence[AlertNow]) -> tuple[str, str]:
    """(would fire now, firing or pending per Prometheus), each a sorted list or "none"."""
    would = sorted({a.text() for a in alerts if a.would_fire})
    active = sorted({f"{a.name}:{a.state}" for a in alerts if a.state in ("pending", "firing")})
    return ",".join(would) or "none", ",".join(active) or "none"
