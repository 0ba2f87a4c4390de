"""The running pipeline: applies simulated ticks to counters and ledger under one lock.

Counters, histograms and the ledger change together inside the lock, and both the
metrics view and the snapshot are read inside it, so a reader never sees a counter that
is ahead of or behind the ledger.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .labels import EDGES, FEEDS, LATENCY_BUCKETS_S, RISK_REASONS, RUN_STATES, STAGES
from .ledger import Ledger
from .simulation import HEALTHY, Event, Profile, TickOutcome, simulate_tick


@dataclass(frozen=True)
class HistogramView:
    cumulative: tuple[int, ...]  # one per bucket bound, then +Inf
    total_s: float


@dataclass(frozen=True)
class PipelineView:
    mode: str
    exchange: str
    run_state: str
    events: dict[str, int]
    risk_blocks: dict[str, int]
    feed_gaps: dict[str, int]
    latency: dict[str, HistogramView]


class _Histogram:
    def __init__(self) -> None:
        self.counts = [0] * (len(LATENCY_BUCKETS_S) + 1)
        self.total_s = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(LATENCY_BUCKETS_S, seconds)] += 1
        self.total_s += seconds

    def view(self) -> HistogramView:
        running, cumulative = 0, []
        for count in self.counts:
            running += count
            cumulative.append(running)
        return HistogramView(tuple(cumulative), self.total_s)


def _utc_now_iso(clock: Callable[[], float]) -> str:
    moment = datetime.fromtimestamp(clock(), tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Pipeline:
    def __init__(
        self,
        *,
        seed: int,
        mode: str,
        exchange: str,
        run_id: str,
        ledger: Ledger,
        clock: Callable[[], float] = time.time,
        profile: Profile = HEALTHY,
    ) -> None:
        self.seed = seed
        self.profile = profile
        self.mode = mode
        self.exchange = exchange
        self.run_id = run_id
        self._ledger = ledger
        self._clock = clock
        self._lock = threading.Lock()
        self._tick = 0
        self._run_state = "idle"
        self._events = dict.fromkeys(STAGES, 0)
        self._risk_blocks = dict.fromkeys(RISK_REASONS, 0)
        self._feed_gaps = dict.fromkeys(FEEDS, 0)
        self._latency = {edge: _Histogram() for edge in EDGES}
        self._fees = 0.0  # the counter side of the fee reconciliation (runbook R-5)

    @property
    def ledger_path(self) -> Path:
        return self._ledger.path

    def set_run_state(self, state: str) -> None:
        if state not in RUN_STATES:
            raise ValueError(f"unknown run state {state!r}")
        with self._lock:
            self._run_state = state

    def advance(self) -> TickOutcome:
        """Simulate the next tick and record it in the ledger and the counters."""
        with self._lock:
            outcome = simulate_tick(self.seed, self._tick, self.run_id, self.profile)
            for event in outcome.events:
                # Ledger first: a failed write must not leave a counter ahead of the file.
                self._ledger.append(self._ledger_record(event))
                self._count(event)
            for feed in outcome.feed_gaps:
                self._feed_gaps[feed] += 1
            self._tick += 1
            return outcome

    def _count(self, event: Event) -> None:
        self._events[event.stage] += 1
        self._fees += event.fee
        if event.stage == "risk_block":
            self._risk_blocks[event.reason] += 1
        for edge, seconds in event.edges:
            self._latency[edge].observe(seconds)

    def _ledger_record(self, event: Event) -> dict[str, Any]:
        return {
            "ts": _utc_now_iso(self._clock),
            "mode": self.mode,
            "run_id": self.run_id,
            "stage": event.stage,
            "strategy_id": event.strategy_id,
            "symbol": event.symbol,
            "intent_id": event.intent_id,
            "client_order_id": event.client_order_id,
            "status": event.status,
            "qty": event.qty,
            "price": event.price,
            "fee": event.fee,
            "reason": event.reason,
            "latency_ms": event.latency_ms,
        }

    def view(self) -> PipelineView:
        with self._lock:
            return PipelineView(
                mode=self.mode,
                exchange=self.exchange,
                run_state=self._run_state,
                events=dict(self._events),
                risk_blocks=dict(self._risk_blocks),
                feed_gaps=dict(self._feed_gaps),
                latency={edge: hist.view() for edge, hist in self._latency.items()},
            )

    def snapshot(self) -> dict[str, Any]:
        """Counters and fees next to the ledger's own per-stage counts and summed fees,
        read in one critical section (the reconciliation of runbook R-5), and any line of
        the ledger that is not a record."""
        with self._lock:
            audit = self._ledger.audit()
            return {
                "mode": self.mode,
                "exchange": self.exchange,
                "run_id": self.run_id,
                "profile": self.profile.name,
                "counters": dict(self._events),
                "ledger_counts": {stage: audit.counts.get(stage, 0) for stage in STAGES},
                "ledger_lines": audit.lines,
                "fees": round(self._fees, 6),
                "ledger_fees": round(audit.fees, 6),
                # Lines of the whole file (any run) that are not JSON records.
                "ledger_unparseable": audit.unparseable,
                "ledger_first_unparseable": audit.first_unparseable,
            }
