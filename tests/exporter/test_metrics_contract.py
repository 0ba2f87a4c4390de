"""/metrics of a real exporter process, parsed with prometheus_client, against contract.toml."""

from __future__ import annotations

import math

import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from exporter import labels
from shadow_mvs.core.contract import Contract

from .conftest import Exporter


def parse(text: str) -> dict[str, tuple[str, list[Sample]]]:
    """Family name as the contract spells it -> (type, samples)."""
    families = {}
    for family in text_string_to_metric_families(text):
        # The parser drops a counter's _total suffix from the family name.
        name = family.name + "_total" if family.type == "counter" else family.name
        families[name] = (family.type, list(family.samples))
    return families


def samples_of(text: str, name: str) -> list[Sample]:
    return parse(text)[name][1]


def values_by(samples: list[Sample], label: str) -> dict[str, float]:
    return {s.labels[label]: s.value for s in samples}


def test_exporter_vocabulary_equals_contract(shadow_mvs_contract: Contract):
    assert shadow_mvs_contract.label_values == {
        "mode": labels.MODES,
        "exchange": labels.EXCHANGES,
        "stage": labels.STAGES,
        "edge": labels.EDGES,
        "reason": labels.RISK_REASONS,
        "feed": labels.FEEDS,
        "state": labels.RUN_STATES,
    }
    names = (
        labels.UP,
        labels.EVENTS,
        labels.LATENCY,
        labels.RISK_BLOCKS,
        labels.FEED_GAPS,
        labels.RUN_STATE,
    )
    assert names == tuple(f.name for f in shadow_mvs_contract.families)


def test_every_contract_family_has_its_type_and_exact_labels(
    busy_exporter: Exporter, shadow_mvs_contract: Contract
):
    families = parse(busy_exporter.metrics_text())
    assert set(families) == {f.name for f in shadow_mvs_contract.families}, (
        "missing or extra families"
    )
    for family in shadow_mvs_contract.families:
        kind, samples = families[family.name]
        assert kind == family.type, family.name
        assert samples, f"{family.name} has no samples"
        for sample in samples:
            assert sample.name in family.sample_names, sample
            expected = set(family.labels) | ({"le"} if sample.name.endswith("_bucket") else set())
            assert set(sample.labels) == expected, sample


def test_label_values_come_from_the_contract_only(
    busy_exporter: Exporter, shadow_mvs_contract: Contract
):
    for _name, (_kind, samples) in parse(busy_exporter.metrics_text()).items():
        for sample in samples:
            for label, value in sample.labels.items():
                if label != "le":
                    assert value in shadow_mvs_contract.label_values[label], sample


def test_no_forbidden_labels_no_created_series_and_bounded_cardinality(
    busy_exporter: Exporter, shadow_mvs_contract: Contract
):
    text = busy_exporter.metrics_text()
    series = [s for _kind, samples in parse(text).values() for s in samples]
    for sample in series:
        assert not set(sample.labels) & set(shadow_mvs_contract.forbidden_labels), sample
        assert not sample.name.endswith("_created"), sample
    assert "_created" not in text
    assert len(series) <= shadow_mvs_contract.max_series


def test_all_stages_and_series_exist_at_zero_before_the_first_tick(idle_exporter: Exporter):
    families = parse(idle_exporter.metrics_text())
    events = values_by(families[labels.EVENTS][1], "stage")
    assert events == dict.fromkeys(labels.STAGES, 0.0)
    assert values_by(families[labels.RISK_BLOCKS][1], "reason") == dict.fromkeys(
        labels.RISK_REASONS, 0.0
    )
    assert values_by(families[labels.FEED_GAPS][1], "feed") == dict.fromkeys(labels.FEEDS, 0.0)
    counts = [s for s in families[labels.LATENCY][1] if s.name.endswith("_count")]
    assert {s.labels["edge"]: s.value for s in counts} == dict.fromkeys(labels.EDGES, 0.0)


def test_up_is_one_and_exactly_one_run_state_is_set(busy_exporter: Exporter):
    text = busy_exporter.metrics_text()
    assert [s.value for s in samples_of(text, labels.UP)] == [1.0]
    states = values_by(samples_of(text, labels.RUN_STATE), "state")
    assert states == {"idle": 0.0, "running": 1.0, "stopped": 0.0}


def test_latency_histogram_spans_milliseconds_to_seconds(busy_exporter: Exporter):
    samples = samples_of(busy_exporter.metrics_text(), labels.LATENCY)
    for edge in labels.EDGES:
        of_edge = [s for s in samples if s.labels["edge"] == edge]
        buckets = [s for s in of_edge if s.name.endswith("_bucket")]
        bounds = [float(s.labels["le"]) for s in buckets]
        assert bounds == sorted(bounds)
        assert bounds[-1] == math.inf
        assert min(bounds) <= 0.01, "no millisecond-scale bucket"
        assert max(b for b in bounds if b != math.inf) >= 5.0, "no seconds-scale bucket"
        cumulative = [s.value for s in buckets]
        assert cumulative == sorted(cumulative), f"{edge} buckets not cumulative"
        (count,) = (s.value for s in of_edge if s.name.endswith("_count"))
        (total,) = (s.value for s in of_edge if s.name.endswith("_sum"))
        assert cumulative[-1] == count > 0
        assert total > 0


@pytest.mark.parametrize("edge", labels.EDGES)
def test_latency_p95_falls_inside_a_finite_bucket(busy_exporter: Exporter, edge: str):
    samples = samples_of(busy_exporter.metrics_text(), labels.LATENCY)
    buckets = [s for s in samples if s.name.endswith("_bucket") and s.labels["edge"] == edge]
    count = buckets[-1].value
    first_over_p95 = next(s for s in buckets if s.value >= 0.95 * count)
    assert first_over_p95.labels["le"] != "+Inf"
    assert 0.0 < float(first_over_p95.labels["le"]) <= 10.0
