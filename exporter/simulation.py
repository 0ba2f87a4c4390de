"""The shadow pipeline as a pure function of (seed, tick, run_id): no clock, no I/O.

Each signal runs its whole life inside one tick: signal -> intent (or risk_block) ->
submit -> ack (or error) -> fill (or cancel). Latencies are simulated values, so the
same seed always yields the same events; only the ledger's wall-clock ``ts`` differs.

A ``Profile`` makes the session unhealthy on purpose (errors, slow acks, feed gaps, risk
blocks, a stall) so the SLO gate can be shown to name each incident; every profile keeps
the pipeline watch-only, and the seed still fixes every event.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass, replace

from .labels import FEEDS, RISK_REASONS

STRATEGIES = ("mvs_momentum", "mvs_mean_revert")
REFERENCE_PRICES = {"BTC/EUR": 60_000.0, "ETH/EUR": 3_000.0}
QTY_RANGES = {"BTC/EUR": (0.001, 0.05), "ETH/EUR": (0.01, 1.0)}

SIGNALS_PER_TICK = (0, 1, 2, 3)
SIGNALS_PER_TICK_WEIGHTS = (35, 40, 20, 5)
RISK_BLOCK_RATE = 0.08
RISK_REASON_WEIGHTS = (45, 30, 22, 3)  # kill_switch is rare
# ~0.1 % of all stage events: inside the shadow SLO's 1 % with margin even over the short
# windows of a fresh stack (worst ~0.7 % over 300 events for seed 42).
SUBMIT_ERROR_RATE = 0.005
CANCEL_RATE = 0.12
# Per feed and tick: a gap about every 8 minutes at the default 0.25 s tick, a blip that
# the feed-gap SLO ("0 sustained", runbook Phase 7) tolerates.
FEED_GAP_RATE = 0.0005
TAKER_FEE_RATE = 0.0026

ACK_MEDIAN_S = 0.06
FILL_MEDIAN_S = 0.25


@dataclass(frozen=True)
class Profile:
    """The simulation's rates; ``healthy`` is the default and every other one departs from
    it in exactly one respect, so each profile breaches exactly one SLO."""

    name: str
    summary: str
    signals_weights: tuple[int, ...] = SIGNALS_PER_TICK_WEIGHTS
    risk_block_rate: float = RISK_BLOCK_RATE
    submit_error_rate: float = SUBMIT_ERROR_RATE
    ack_median_s: float = ACK_MEDIAN_S
    feed_gap_rate: float = FEED_GAP_RATE


HEALTHY = Profile("healthy", "every shadow SLO met: ~0.1 % errors, p95 ack ~0.2 s, rare feed gaps")
PROFILES = {
    p.name: p
    for p in (
        HEALTHY,
        replace(
            HEALTHY,
            name="error_spike",
            summary="30 % of submits rejected (R-3)",
            submit_error_rate=0.30,
        ),
        replace(
            HEALTHY,
            name="degraded_latency",
            summary="acks take ~1.2 s median (R-3)",
            ack_median_s=1.2,
        ),
        replace(
            HEALTHY,
            name="feed_gaps",
            summary="each feed gaps in 1 of 4 ticks (R-2)",
            feed_gap_rate=0.25,
        ),
        replace(
            HEALTHY,
            name="risk_block_spike",
            summary="60 % of signals blocked (R-4)",
            risk_block_rate=0.60,
        ),
        replace(
            HEALTHY,
            name="stalled",
            summary="run says running, yet no signal or feed update arrives (R-2)",
            signals_weights=(1, 0, 0, 0),
            feed_gap_rate=0.0,
        ),
    )
}


@dataclass(frozen=True)
class Event:
    stage: str
    strategy_id: str
    symbol: str
    intent_id: str
    client_order_id: str
    status: str
    qty: float
    price: float
    fee: float
    reason: str
    latency_ms: float
    # (edge, seconds) observations for the latency histogram; not a ledger field.
    edges: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class TickOutcome:
    tick: int
    events: tuple[Event, ...]
    feed_gaps: tuple[str, ...]


def make_intent_id(run_id: str, tick: int, n: int) -> str:
    """Unique across runs, not only within one: a short digest of the run id in front of
    the tick and the signal's number (runs sharing a ledger never share an intent id)."""
    run_tag = hashlib.sha256(run_id.encode()).hexdigest()[:8]
    return f"i-{run_tag}-{tick:08d}-{n}"


def client_order_id(run_id: str, intent_id: str) -> str:
    """Derived, never random: the same intent always maps to the same order id."""
    digest = hashlib.sha256(f"{run_id}|{intent_id}".encode()).hexdigest()
    return f"pt-{digest[:16]}"


def simulate_tick(seed: int, tick: int, run_id: str, profile: Profile = HEALTHY) -> TickOutcome:
    # A string seed is hashed with SHA-512 by random.Random: stable across processes
    # and Python versions, unlike hash().
    rng = random.Random(f"shadow-mvs|{seed}|{tick}")
    signals = rng.choices(SIGNALS_PER_TICK, profile.signals_weights)[0]
    events: list[Event] = []
    for n in range(signals):
        events.extend(_signal_lifecycle(rng, run_id, make_intent_id(run_id, tick, n), profile))
    feed_gaps = tuple(feed for feed in FEEDS if rng.random() < profile.feed_gap_rate)
    return TickOutcome(tick=tick, events=tuple(events), feed_gaps=feed_gaps)


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)


def _signal_lifecycle(
    rng: random.Random, run_id: str, intent_id: str, profile: Profile
) -> list[Event]:
    strategy_id = rng.choice(STRATEGIES)
    symbol = rng.choice(tuple(REFERENCE_PRICES))
    qty = round(rng.uniform(*QTY_RANGES[symbol]), 4)
    price = round(REFERENCE_PRICES[symbol] * (1.0 + rng.gauss(0.0, 0.002)), 2)
    order_id = ""

    def event(
        stage: str,
        status: str,
        seconds: float,
        *,
        fee: float = 0.0,
        reason: str = "",
        edges: tuple[tuple[str, float], ...] = (),
    ) -> Event:
        return Event(
            stage=stage,
            strategy_id=strategy_id,
            symbol=symbol,
            intent_id=intent_id,
            client_order_id=order_id,
            status=status,
            qty=qty,
            price=price,
            fee=fee,
            reason=reason,
            latency_ms=_ms(seconds),
            edges=edges,
        )

    events = [event("signal", "emitted", 0.0)]
    decision_s = rng.uniform(0.0002, 0.002)
    if rng.random() < profile.risk_block_rate:
        reason = rng.choices(RISK_REASONS, RISK_REASON_WEIGHTS)[0]
        events.append(event("risk_block", "blocked", decision_s, reason=reason))
        return events

    order_id = client_order_id(run_id, intent_id)
    events.append(event("intent", "created", decision_s))
    submit_s = rng.uniform(0.0005, 0.005)
    events.append(event("submit", "submitted", submit_s))
    ack_s = rng.lognormvariate(math.log(profile.ack_median_s), 0.6)
    if rng.random() < profile.submit_error_rate:
        events.append(event("error", "rejected", ack_s, reason="exchange_reject"))
        return events

    intent_to_ack = submit_s + ack_s
    events.append(event("ack", "acknowledged", ack_s, edges=(("intent_to_ack", intent_to_ack),)))
    fill_s = rng.lognormvariate(math.log(FILL_MEDIAN_S), 0.9)
    if rng.random() < CANCEL_RATE:
        events.append(event("cancel", "canceled", fill_s, reason="ttl_expired"))
        return events

    fee = round(qty * price * TAKER_FEE_RATE, 6)
    edges = (("ack_to_fill", fill_s), ("intent_to_fill", intent_to_ack + fill_s))
    events.append(event("fill", "filled", fill_s, fee=fee, edges=edges))
    return events
