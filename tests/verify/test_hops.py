"""The hop-by-hop walk (shadow_mvs/evidence/hops.py), without Docker.

The relabel simulation is held against a real Prometheus (.tools/bin/prometheus): one local
Prometheus scrapes one loopback exposition under several jobs, each with other relabel
rules, and what it stores must be what the simulation predicts. The walk itself runs
against the same Prometheus and must name the hop and the rule or counter of each fault."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_api_client import PrometheusConnect

from fixtures.local_prometheus import LocalPrometheus, local_prometheus
from fixtures.loopback import QuietHandler, serving
from fixtures.prometheus_tools import needs_prometheus_tools
from shadow_mvs.core.contract import load_contract
from shadow_mvs.core.run import CheckFailed
from shadow_mvs.core.waiting import bounded_poll
from shadow_mvs.evidence.hops import (
    AFTER_SCRAPE_S,
    HOPS,
    Walk,
    accounting_hop,
    config_loss,
    contract_series,
    exposition_hop,
    first_loss,
    next_scrape_in_s,
    parse_exposition,
    relabel,
    relabel_harm,
    scrape_failure,
    walk_hops,
)

CONTRACT = load_contract()
FAMILY = "peak_trade_pipeline_events_total"
JOB = CONTRACT.prometheus["job"]
TEXT = "text/plain; version=0.0.4; charset=utf-8"


def exposition(stamp_ms: int | None = None) -> str:
    stamp = f" {stamp_ms}" if stamp_ms is not None else ""
    lines = [f"# TYPE {FAMILY} counter"]
    for n, labels in enumerate(contract_series(CONTRACT, FAMILY, "shadow")):
        text = ",".join(f'{k}="{v}"' for k, v in labels.items())
        lines.append(f"{FAMILY}{{{text}}} {n + 1}{stamp}")
    return "\n".join(lines) + "\n"


def walk() -> Walk:
    return Walk(JOB, "shadow", FAMILY)


# --- the simulation, rule by rule (model/relabel/relabel.go) --------------------------

SERIES = {"__name__": FAMILY, "job": JOB, "mode": "shadow", "stage": "fill", "exchange": "kraken"}


def test_replace_rewrites_stage_and_the_walk_says_so_in_words():
    rules: list[dict[str, Any]] = [
        {"target_label": "team", "replacement": "ops"},
        {"source_labels": ["stage"], "regex": "(.*)", "target_label": "stage",
         "replacement": "stage_$1", "action": "replace"},
    ]  # fmt: skip
    harm = relabel_harm("metric_relabel_configs", rules, [SERIES], ["mode", "stage"], walk())
    assert harm is not None
    assert not harm.retryable
    assert harm.message.startswith(
        "Prometheus rewrites label stage for job shadow_mvs: metric_relabel_configs[1] "
        "action=replace target_label=stage"
    )
    assert 'stage="fill" becomes stage="stage_fill"' in harm.message


def test_labeldrop_of_mode_is_named_and_a_harmless_copy_before_it_is_not():
    rules: list[dict[str, Any]] = [
        {"source_labels": ["mode"], "target_label": "run_mode", "action": "replace"},
        {"regex": "mode", "action": "labeldrop"},
    ]
    harm = relabel_harm("metric_relabel_configs", rules, [SERIES], ["mode"], walk())
    assert harm is not None
    assert harm.cause == "relabel_drops_label"
    words = "drops label mode for job shadow_mvs: metric_relabel_configs[1] action=labeldrop"
    assert f"{words} regex=mode" in harm.message


def test_drop_and_keep_drop_the_series():
    drop: list[dict[str, Any]] = [
        {"source_labels": ["stage"], "regex": "fill|ack", "action": "drop"}
    ]
    harm = relabel_harm("metric_relabel_configs", drop, [SERIES], ["stage"], walk())
    assert harm is not None
    assert harm.cause == "relabel_drops_series"
    assert "action=drop source_labels=[stage] regex=fill|ack" in harm.message
    keep = [{"source_labels": ["stage"], "regex": "signal", "action": "keep"}]
    assert relabel(keep[0], SERIES) is None
    # Anchored: "fil" does not match "fill" (NewRegexp wraps it in ^(?s:…)$).
    assert relabel({"source_labels": ["stage"], "regex": "fil", "action": "drop"}, SERIES)


def test_replace_semantics_follow_relabel_go():
    no_match = {"source_labels": ["stage"], "regex": "x(.*)", "target_label": "stage"}
    assert relabel(no_match, SERIES) == SERIES
    emptied = {"source_labels": ["stage"], "regex": "fill", "target_label": "mode",
               "replacement": ""}  # fmt: skip
    assert "mode" not in (relabel(emptied, SERIES) or {})
    named = {"source_labels": ["mode", "stage"], "regex": "(?P<m>[a-z]+);(.*)",
             "target_label": "where", "replacement": "${m}-$2$$"}  # fmt: skip
    assert (relabel(named, SERIES) or {})["where"] == "shadow-fill$"
    assert (relabel({"regex": "(st)age", "replacement": "x_$1", "action": "labelmap"}, SERIES)
            or {})["x_st"] == "fill"  # fmt: skip
    assert set(relabel({"regex": "__name__|stage", "action": "labelkeep"}, SERIES) or {}) == {
        "__name__",
        "stage",
    }


def test_exposition_hop_names_duplicates_other_modes_and_timestamps():
    text = exposition()
    doubled = parse_exposition("u", text + text.splitlines()[1] + "\n", TEXT)
    hop = exposition_hop(doubled, walk())
    assert hop.loss is not None
    assert hop.loss.cause == "exposition_duplicate_series"
    live = parse_exposition("u", text.replace('"shadow"', '"live"'), TEXT)
    other = exposition_hop(live, walk()).loss
    assert other is not None
    assert not other.retryable
    assert "labels peak_trade_pipeline_events_total with mode ['live']" in other.message
    stamped = parse_exposition("u", exposition(stamp_ms=int((time.time() - 7200) * 1000)), TEXT)
    assert (
        "8 carry explicit timestamps, oldest 7200 s old" in exposition_hop(stamped, walk()).detail
    )


def test_the_content_type_picks_the_parser_as_prometheus_does():
    with pytest.raises(CheckFailed) as refused:
        parse_exposition("http://x/metrics", exposition(), "application/openmetrics-text")
    assert refused.value.cause == "exposition_unparsable"
    assert not refused.value.retryable
    assert "Content-Type application/openmetrics-text makes it read OpenMetrics" in str(
        refused.value
    )
    # Prometheus 2.x reads an unknown media type as the text format: nothing lost.
    assert len(parse_exposition("u", exposition(), "text/html").samples) == 8


@pytest.mark.parametrize(
    ("last_error", "cause"),
    [
        ("sample limit exceeded", "sample_limit_exceeded"),
        ("server returned HTTP status 404 Not Found", "scrape_rejected"),
        ('expected equal, got "INVALID"', "scrape_rejected"),
        ("data does not end with # EOF", "scrape_rejected"),
        ('Get "http://x:9109/metrics": dial tcp: connect: connection refused', "target_down"),
        ("server returned HTTP status 503 Service Unavailable", "target_down"),
    ],
)
def test_last_error_says_whether_the_next_scrape_can_do_better(last_error, cause):
    target = {"labels": {"job": JOB}, "health": "down", "lastError": last_error,
              "scrapeUrl": "http://x:9109/metrics"}  # fmt: skip
    failed = scrape_failure(target, {"sample_limit": 3}, 8)
    assert failed.cause == cause
    assert failed.retryable is (cause == "target_down")


def test_the_walk_has_an_extension_point_for_the_later_hops():
    assert HOPS == ("exposition", "scrape", "accounting", "relabel", "tsdb")


# --- against a real Prometheus -----------------------------------------------------------

RULE_SETS: dict[str, list[dict[str, Any]]] = {
    "rewrite_stage": [{"source_labels": ["stage"], "regex": "(.*)", "target_label": "stage",
                       "replacement": "stage_$1"}],
    "drop_mode": [{"source_labels": ["mode"], "target_label": "run_mode"},
                  {"regex": "mode", "action": "labeldrop"}],
    "drop_fill": [{"source_labels": ["stage"], "regex": "fill|ack", "action": "drop"}],
    "keep_only": [{"regex": "__name__|job|instance|stage", "action": "labelkeep"}],
    "mapped": [{"regex": "(ex)change", "replacement": "venue_$1", "action": "labelmap"},
               {"source_labels": ["mode", "stage"], "regex": "(?P<m>[a-z]+);(s.*)",
                "target_label": "where", "replacement": "${m}-$2"},
               {"source_labels": ["stage"], "target_label": "shard", "modulus": 4,
                "action": "hashmod"},
               {"source_labels": ["exchange"], "target_label": "loud", "action": "uppercase"}],
}  # fmt: skip


class Exposition(QuietHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/stamped"):  # explicit timestamps two hours in the past
            body = exposition(stamp_ms=int((time.time() - 7200) * 1000))
            self.reply(200, body.encode(), TEXT)
        elif self.path.startswith("/om"):  # the text format announced as OpenMetrics
            self.reply(200, exposition().encode(), "application/openmetrics-text; version=1.0.0")
        else:
            self.reply(200, exposition().encode(), TEXT)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalPrometheus, str]]:
    with serving(Exposition) as port:
        target = {"targets": [f"127.0.0.1:{port}"]}
        jobs: list[dict[str, Any]] = [
            {"job_name": name, "static_configs": [target], "metric_relabel_configs": rules}
            for name, rules in RULE_SETS.items()
        ]
        jobs += [
            {"job_name": "limited", "static_configs": [target], "sample_limit": 3},
            {"job_name": "stamped", "static_configs": [target], "metrics_path": "/stamped/metrics"},
            {"job_name": "om", "static_configs": [target], "metrics_path": "/om/metrics"},
        ]
        config = {"global": {"scrape_interval": "1s"}, "scrape_configs": jobs}
        with local_prometheus(tmp_path_factory.mktemp("hops-prometheus"), config) as server:
            yield server, f"http://127.0.0.1:{port}"


def stored(server: LocalPrometheus, job: str) -> list[dict[str, str]]:
    query = f'{{job="{job}", __name__!~"up|scrape_.*"}}'
    result = PrometheusConnect(server.url).custom_query(query)
    return [dict(series["metric"]) for series in result]


@needs_prometheus_tools
def test_prometheus_stores_what_the_simulation_predicts(stack):
    server, exporter = stack
    instance = exporter.removeprefix("http://")
    for job, rules in RULE_SETS.items():
        series = [{"__name__": FAMILY, "job": job, "instance": instance, **labels}
                  for labels in contract_series(CONTRACT, FAMILY, "shadow")]  # fmt: skip
        predicted = []
        for labels in series:
            after: dict[str, str] | None = labels
            for rule in rules:
                after = relabel(rule, after) if after is not None else None
            if after is not None:
                predicted.append(after)

        def arrived(job: str = job) -> list[dict[str, str]]:
            found = stored(server, job)
            assert found, f"job {job} not scraped yet"
            return found

        found = bounded_poll(arrived, budget_s=15, interval_s=0.2, retry_if=(AssertionError,))
        key = sorted  # order-free comparison of label sets
        assert key(map(str, map(sorted, map(dict.items, found)))) == key(
            map(str, map(sorted, map(dict.items, predicted)))
        ), job


def walk_until_final(
    server: LocalPrometheus, exporter: str, job: str, path: str = ""
) -> CheckFailed:
    """The walk as the queries check runs it: polled until a hop names a final cause."""
    state = Walk(job, "shadow", FAMILY, interval_s=1)
    http = httpx.Client(timeout=2.0)

    def final() -> CheckFailed:
        hops = walk_hops(state, http, PrometheusConnect(server.url), server.url,
                         exporter + path, CONTRACT, "5m")  # fmt: skip
        loss = first_loss(hops)
        assert loss is not None, [h.evidence for h in hops]
        assert not loss.retryable, [h.evidence for h in hops]
        return loss

    return bounded_poll(final, budget_s=20, interval_s=0.3, retry_if=(AssertionError,))


@needs_prometheus_tools
@pytest.mark.parametrize(
    ("job", "path", "words"),
    [
        ("rewrite_stage", "", "rewrites label stage for job rewrite_stage: metric_relabel_configs[0]"),
        ("drop_mode", "", "drops label mode for job drop_mode: metric_relabel_configs[1] action=labeldrop regex=mode"),
        ("drop_fill", "", "Prometheus drops peak_trade_pipeline_events_total for job drop_fill"),
        ("limited", "", "sample_limit 3 is below the 8 samples"),
        ("stamped", "/stamped", "as out of bounds (timestamps too old or too far in the future): the exporter stamps them 7"),
        ("om", "/om", "makes it read OpenMetrics"),
    ],
)  # fmt: skip
def test_the_walk_names_the_first_hop_that_loses_the_data(stack, job, path, words):
    server, exporter = stack
    loss = walk_until_final(server, exporter, job, path)
    assert words in loss.message, loss.message


@needs_prometheus_tools
def test_a_healthy_job_passes_every_hop(stack, tmp_path: Path):
    server, exporter = stack
    # "mapped" rewrites no contract label: every hop passes once two samples are stored.
    state = Walk("mapped", "shadow", FAMILY, interval_s=1)

    def walked() -> list[str]:
        hops = walk_hops(state, httpx.Client(timeout=2.0), PrometheusConnect(server.url),
                         server.url, exporter, CONTRACT, "5m")  # fmt: skip
        assert first_loss(hops) is None, [h.evidence for h in hops]
        return [h.name for h in hops]

    assert bounded_poll(walked, budget_s=15, interval_s=0.3, retry_if=(AssertionError,)) == list(
        HOPS
    )


def test_accounting_blames_a_growing_counter_only_while_the_job_lacks_samples():
    state = walk()
    counter = "prometheus_target_scrapes_sample_out_of_order_total"
    first = accounting_hop(state, 8, 8, {counter: 2.0}, None, stored=0)
    assert first.loss is None  # the first look is the baseline
    grown = accounting_hop(state, 8, 8, {counter: 5.0}, None, stored=0).loss
    assert grown is not None
    assert not grown.retryable
    assert f"as out of order: {counter} grew to 5" in grown.message
    # Every sample stored: the counter counts another target's samples.
    assert accounting_hop(state, 8, 8, {counter: 9.0}, None, stored=8).loss is None


def test_the_loaded_config_predicts_a_sample_limit_before_any_scrape():
    exposed = parse_exposition("http://x/metrics", exposition(), TEXT)
    config = {"sample_limit": 5, "metric_relabel_configs": []}
    loss = config_loss(walk(), config, None, CONTRACT, exposed)
    assert loss is not None
    assert loss.cause == "sample_limit_exceeded"
    assert "sample_limit 5 is below the 8 samples the target exposes" in loss.message
    # At the limit exactly, Prometheus keeps the scrape (target.go limitAppender: i > limit).
    config["sample_limit"] = 8
    assert config_loss(walk(), config, None, CONTRACT, exposed) is None


def test_a_regex_python_cannot_read_is_not_judged_rather_than_a_traceback():
    # \pL (a Unicode letter) is RE2 syntax that Python's re refuses.
    rules: list[dict[str, Any]] = [{"regex": "\\pL+", "action": "labeldrop"}]
    with pytest.raises(re.error):
        relabel(rules[0], SERIES)
    assert relabel_harm("metric_relabel_configs", rules, [SERIES], ["mode"], walk()) is None


def test_a_filling_rate_window_is_looked_at_again_after_the_next_scrape():
    asked: list[str] = []

    def newest_at(value: float | None):
        def query(promql: str) -> list[dict[str, Any]]:
            asked.append(promql)
            return [] if value is None else [{"metric": {}, "value": [0, str(value)]}]

        return query

    selector = 'peak_trade_pipeline_events_total{job="shadow_mvs", mode="shadow"}'
    # The one sample so far was scraped at 100.0; the next one is due 5 s later.
    due = next_scrape_in_s(newest_at(100.0), selector, 5.0, now=lambda: 102.0)
    assert due == pytest.approx(3.0 + AFTER_SCRAPE_S)
    assert asked == [f"max(timestamp({selector}))"]
    assert next_scrape_in_s(newest_at(None), selector, 5.0, now=lambda: 102.0) is None
    # The next scrape is late (a slow target): the poll's own interval decides.
    assert next_scrape_in_s(newest_at(100.0), selector, 5.0, now=lambda: 106.0) is None
