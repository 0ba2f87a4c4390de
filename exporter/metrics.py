"""Exposes a pipeline view as the contract's metric families.

A custom collector rather than Counter/Histogram objects: it emits no ``_created``
series on any prometheus-client version (0.16 to current) without environment tricks,
and every family is read from one consistent view.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.utils import floatToGoString

from exporter import labels

from .pipeline import Pipeline

_BUCKET_LABELS = (*(floatToGoString(b) for b in labels.LATENCY_BUCKETS_S), "+Inf")


class PipelineCollector(Collector):
    def __init__(self, pipeline: Pipeline) -> None:
        self._pipeline = pipeline

    def collect(self) -> Iterator[Metric]:
        view = self._pipeline.view()
        mode, exchange = view.mode, view.exchange

        up = GaugeMetricFamily(
            labels.UP,
            "1 while the Shadow-MVS simulator serves metrics.",
            labels=["mode", "exchange"],
        )
        up.add_metric([mode, exchange], 1)
        yield up

        events = CounterMetricFamily(
            labels.EVENTS,
            "Pipeline events by stage (simulated; watch-only).",
            labels=["mode", "stage", "exchange"],
        )
        for stage, count in view.events.items():
            events.add_metric([mode, stage, exchange], count)
        yield events

        latency = HistogramMetricFamily(
            labels.LATENCY,
            "Simulated latency between pipeline stages.",
            labels=["mode", "edge", "exchange"],
        )
        for edge, hist in view.latency.items():
            buckets = list(zip(_BUCKET_LABELS, (float(c) for c in hist.cumulative), strict=True))
            latency.add_metric([mode, edge, exchange], buckets, hist.total_s)
        yield latency

        risk = CounterMetricFamily(
            labels.RISK_BLOCKS, "Intents blocked by a risk rule.", labels=["mode", "reason"]
        )
        for reason, count in view.risk_blocks.items():
            risk.add_metric([mode, reason], count)
        yield risk

        gaps = CounterMetricFamily(
            labels.FEED_GAPS, "Market data feed gaps detected.", labels=["mode", "feed"]
        )
        for feed, count in view.feed_gaps.items():
            gaps.add_metric([mode, feed], count)
        yield gaps

        state = GaugeMetricFamily(
            labels.RUN_STATE,
            "1 for the run's current state, 0 otherwise.",
            labels=["mode", "state"],
        )
        for name in labels.RUN_STATES:
            state.add_metric([mode, name], 1 if name == view.run_state else 0)
        yield state


def build_registry(pipeline: Pipeline) -> CollectorRegistry:
    """A private registry: /metrics carries the contract families and nothing else."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PipelineCollector(pipeline))
    return registry
