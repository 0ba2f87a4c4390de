"""The exporter check's contract inspection, on hand-made exposition texts."""

import pytest

from shadow_mvs.core.contract import load_contract
from shadow_mvs.evidence.exposition import inspect_exposition

GOOD = """\
# TYPE shadow_mvs_up gauge
shadow_mvs_up{mode="shadow",exchange="kraken"} 1
# TYPE peak_trade_pipeline_events_total counter
peak_trade_pipeline_events_total{mode="shadow",stage="signal",exchange="kraken"} 5
# TYPE peak_trade_pipeline_latency_seconds histogram
peak_trade_pipeline_latency_seconds_bucket{mode="shadow",edge="intent_to_ack",exchange="kraken",le="0.1"} 1
peak_trade_pipeline_latency_seconds_bucket{mode="shadow",edge="intent_to_ack",exchange="kraken",le="+Inf"} 1
peak_trade_pipeline_latency_seconds_sum{mode="shadow",edge="intent_to_ack",exchange="kraken"} 0.05
peak_trade_pipeline_latency_seconds_count{mode="shadow",edge="intent_to_ack",exchange="kraken"} 1
# TYPE peak_trade_risk_blocks_total counter
peak_trade_risk_blocks_total{mode="shadow",reason="max_position"} 0
"""


def inspect(text: str):
    return inspect_exposition(text, load_contract())


def test_good_exposition_has_no_problems():
    report = inspect(GOOD)
    assert report.problems == []
    assert report.series == 7


def test_missing_required_family_is_named():
    text = GOOD.replace("peak_trade_risk_blocks_total", "peak_trade_other_total")
    assert "family peak_trade_risk_blocks_total missing" in inspect(text).problems


def test_forbidden_label_is_caught():
    text = GOOD.replace('stage="signal",', 'stage="signal",run_id="r-1",')
    problems = inspect(text).problems
    assert any("run_id" in p for p in problems)


def test_renamed_label_is_caught():
    text = GOOD.replace('{mode="shadow",stage="signal"', '{run_mode="shadow",stage="signal"')
    assert any("labels" in p for p in inspect(text).problems)


def test_label_value_outside_contract_is_caught():
    text = GOOD.replace('stage="signal"', 'stage="teleport"')
    assert any("teleport" in p for p in inspect(text).problems)


def test_wrong_type_is_caught():
    text = GOOD.replace("# TYPE shadow_mvs_up gauge", "# TYPE shadow_mvs_up counter")
    assert any("shadow_mvs_up" in p for p in inspect(text).problems)


def test_up_must_be_one():
    assert any(
        "is not 1" in p for p in inspect(GOOD.replace('kraken"} 1', 'kraken"} 0', 1)).problems
    )


def test_malformed_exposition_raises_value_error():
    with pytest.raises(ValueError, match="could not convert"):
        inspect("this is { not prometheus text\n")


def test_series_budget_is_enforced():
    extra = "".join(
        f'peak_trade_feed_gaps_total{{mode="shadow",feed="trades"}} {i}\n' for i in range(500)
    )
    text = GOOD + "# TYPE peak_trade_feed_gaps_total counter\n" + extra
    assert any("exceed" in p for p in inspect(text).problems)
