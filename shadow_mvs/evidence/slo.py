"""Session health: the contract's SLOs and the loaded alert rules, evaluated now.

``evaluate_slos`` runs each objective's PromQL (shadow_mvs/data/contract.toml [slo]) and judges it
against the threshold of the run's mode. ``evaluate_alerts`` runs the expression of every
alerting rule Prometheus has loaded, so an alert that *would* fire shows before its
``for:`` has elapsed (``ALERTS`` and the rule state only show it afterwards).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from shadow_mvs.core.contract import Contract, Objective

Query = Callable[[str], list[dict[str, Any]]]


@dataclass(frozen=True)
class SloResult:
    objective: Objective
    mode: str
    promql: str
    value: float | None  # None: the query returned no series

    @property
    def measured(self) -> bool:
        """False when there is nothing to judge: no series, or no observations (NaN)."""
        return self.value is not None and not math.isnan(self.value)

    @property
    def breached(self) -> bool:
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
        return f"{self.value_text} threshold={self.objective.bound(self.mode)} {verdict}"

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
