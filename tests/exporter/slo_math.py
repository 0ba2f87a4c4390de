"""The contract's SLOs computed straight from simulated ticks, the way the PromQL computes
them from the counters over one window (no Prometheus, no clock)."""

from __future__ import annotations

import math
from collections import Counter

from exporter.labels import LATENCY_BUCKETS_S
from exporter.simulation import Profile, simulate_tick

TICK_S = 0.25  # the exporter's default tick


def histogram_quantile(q: float, observations: list[float]) -> float:
    """Prometheus's estimate: linear interpolation inside the bucket that holds rank q."""
    if not observations:
        return math.nan
    counts = [sum(1 for o in observations if o <= bound) for bound in LATENCY_BUCKETS_S]
    rank = q * len(observations)
    lower, below = 0.0, 0
    for bound, cumulative in zip(LATENCY_BUCKETS_S, counts, strict=True):
        if cumulative >= rank:
            return lower + (bound - lower) * (rank - below) / max(cumulative - below, 1)
        lower, below = bound, cumulative
    return LATENCY_BUCKETS_S[-1]


def slo_values(profile: Profile, first_tick: int, ticks: int, seed: int = 42) -> dict[str, float]:
    stages: Counter[str] = Counter()
    acks: list[float] = []
    gaps = 0
    for tick in range(first_tick, first_tick + ticks):
        outcome = simulate_tick(seed, tick, "run-slo", profile)
        gaps += len(outcome.feed_gaps)
        for event in outcome.events:
            stages[event.stage] += 1
            acks += [s for edge, s in event.edges if edge == "intent_to_ack"]
    seconds = ticks * TICK_S
    events = sum(stages.values())
    return {
        "event_rate": events / seconds,
        "error_rate": stages["error"] / max(events, 1),
        "intent_to_ack_p95": histogram_quantile(0.95, acks),
        "feed_gaps": gaps,  # per window, as sum(increase(...[$window]))
        "risk_block_rate": stages["risk_block"] / max(stages["signal"], 1),
    }
