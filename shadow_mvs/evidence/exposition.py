"""Contract checks on the exporter's exposition, parsed by prometheus-client's parsers: the
classic text format, or OpenMetrics when the exporter answered with that content type (its
parser also insists on the closing ``# EOF``)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

from shadow_mvs.core.contract import Contract


@dataclass(frozen=True)
class ExpositionReport:
    families: dict[str, Metric]
    series: int
    problems: list[str]


def _family_key(name: str, kind: str) -> str:
    # The parser names counter families without their _total suffix.
    return f"{name}_total" if kind == "counter" and not name.endswith("_total") else name


OPENMETRICS_TYPE = "application/openmetrics-text"


def inspect_exposition(text: str, contract: Contract, content_type: str = "") -> ExpositionReport:
    """Every contract problem in one exposition; raises ValueError if it does not parse.
    ``content_type`` (the response's header) picks the parser."""
    is_openmetrics = content_type.split(";")[0].strip() == OPENMETRICS_TYPE
    parse = openmetrics_families if is_openmetrics else text_string_to_metric_families
    families = {_family_key(f.name, f.type): f for f in parse(text)}
    problems: list[str] = []
    series = 0
    forbidden = set(contract.forbidden_labels)
    for fam in contract.families:
        metric = families.get(fam.name)
        if metric is None:
            if fam.required:
                problems.append(f"family {fam.name} missing")
            continue
        if metric.type != fam.type:
            problems.append(f"{fam.name} is a {metric.type}, contract says {fam.type}")
        for sample in metric.samples:
            labels = {k for k in sample.labels if k != "le"}
            if labels != set(fam.labels):
                problems.append(
                    f"{sample.name} labels {sorted(labels)} != contract {sorted(fam.labels)}"
                )
                break
            bad = [
                f"{key}={value}"
                for key, value in sample.labels.items()
                if key in contract.label_values and value not in contract.label_values[key]
            ]
            if bad:
                problems.append(f"{sample.name} has label values outside the contract: {bad}")
                break
    for metric in families.values():
        for sample in metric.samples:
            series += 1
            leaked = forbidden.intersection(sample.labels)
            if leaked:
                problems.append(f"{sample.name} carries forbidden label(s) {sorted(leaked)}")
                break
    # Which mode the exporter labels its data with is the queries check's business (G-7:
    # "wrong mode filter"); here it only has to say it is up.
    up = families.get("shadow_mvs_up")
    if up is not None and not any(s.value == 1 for s in up.samples):
        problems.append("shadow_mvs_up is not 1")
    if series > contract.max_series:
        problems.append(f"{series} series exceed the contract budget of {contract.max_series}")
    return ExpositionReport(families=families, series=series, problems=problems)
