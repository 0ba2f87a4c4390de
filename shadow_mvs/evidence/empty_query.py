"""Why is the stage query empty? Probes in the order an operator would ask (after pint):
is the family in the exporter's raw /metrics, does Prometheus know the metric, are the
label keys there, are the expected values (mode) there, was it there earlier, and is the
rate window at least two scrapes long. The first failing probe names the G-7 detail."""

from __future__ import annotations

import re
from dataclasses import dataclass

from prometheus_api_client import PrometheusConnect

from shadow_mvs.core.contract import Contract

METRIC = "peak_trade_pipeline_events_total"
DURATION = {"s": 1, "m": 60, "h": 3600}


@dataclass(frozen=True)
class Probe:
    name: str
    ok: bool
    detail: str

    @property
    def evidence(self) -> str:
        return f"{'ok' if self.ok else 'FAIL'}: {self.detail}"


def window_seconds(query: str) -> float:
    match = re.search(r"\[(\d+)([smh])\]", query)
    return float(match.group(1)) * DURATION[match.group(2)] if match else 0.0


def explain_empty_stage_query(
    exporter_text: str | None,
    prometheus: PrometheusConnect,
    contract: Contract,
    mode: str,
    scrape_interval_s: float,
) -> list[Probe]:
    labels = contract.family(METRIC).labels
    selector = f'{METRIC}{{mode="{mode}"}}'
    probes: list[Probe] = []

    if exporter_text is None:
        probes.append(Probe("exporter_family", False, "exporter /metrics unreachable"))
    else:
        samples = [line for line in exporter_text.splitlines() if line.startswith(METRIC)]
        probes.append(
            Probe(
                "exporter_family",
                bool(samples),
                f"{len(samples)} {METRIC} samples in the exporter's /metrics"
                if samples
                else f"{METRIC} absent from the exporter's /metrics",
            )
        )

    series = prometheus.custom_query(METRIC)
    probes.append(
        Probe(
            "prometheus_metric",
            bool(series),
            f"Prometheus holds {len(series)} {METRIC} series"
            if series
            else f"Prometheus has no {METRIC} series (never scraped or dropped)",
        )
    )

    keys = set().union(*(s["metric"] for s in series)) if series else set()
    missing = sorted(set(labels) - keys)
    probes.append(
        Probe(
            "label_keys",
            bool(series) and not missing,
            f"label keys {sorted(keys - {'__name__'})}"
            if not missing
            else f"label keys {missing} missing (present: {sorted(keys)})",
        )
    )

    modes = sorted({s["metric"].get("mode", "") for s in series})
    probes.append(
        Probe(
            "label_values",
            mode in modes,
            f'mode="{mode}" present'
            if mode in modes
            else f'no series with mode="{mode}" (modes present: {modes})',
        )
    )

    recent = prometheus.custom_query(f"present_over_time({selector}[5m])")
    earlier = [] if recent else prometheus.custom_query(f"present_over_time({selector}[1h])")
    probes.append(
        Probe(
            "present_recently",
            bool(recent),
            "series present in the last 5m"
            if recent
            else "present within the last hour but not the last 5m: the exporter stopped emitting"
            if earlier
            else "never present in the last hour",
        )
    )

    window = window_seconds(contract.golden_query("stage", mode))
    enough = window >= 2 * scrape_interval_s
    probes.append(
        Probe(
            "rate_window",
            enough,
            f"rate window {window:g}s covers two scrapes of {scrape_interval_s:g}s"
            if enough
            else f"rate window {window:g}s is shorter than two scrapes of {scrape_interval_s:g}s",
        )
    )
    return probes


def first_failure_detail(probes: list[Probe]) -> str:
    failed = next((p for p in probes if not p.ok), None)
    if failed is not None:
        return f"{failed.name}: {failed.detail}"
    return (
        "every probe passes; rate() needs two samples inside the window — the target "
        "may have been scraped only once so far"
    )
