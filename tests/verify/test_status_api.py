"""Status APIs explain what a running Prometheus does, against the contract — proven on a
real Prometheus from .tools (no Docker): a scrape interval off the contract, a target not
scraped yet, a job the loaded config lacks, rule_files that load no contract group."""

from __future__ import annotations

from pathlib import Path

import httpx

from fixtures.local_prometheus import free_loopback_port, local_prometheus
from fixtures.prometheus_tools import needs_prometheus_tools
from shadow_mvs.core.waiting import bounded_poll
from shadow_mvs.evidence.status_api import (
    loaded_scrape_jobs,
    rules_not_loaded,
    scrape_explained,
    seconds,
)

pytestmark = needs_prometheus_tools


def config(interval: str, rule_files: list[str] | None = None) -> dict[str, object]:
    return {
        "global": {"scrape_interval": "5s"},
        "rule_files": rule_files or [],
        "scrape_configs": [
            {
                "job_name": "shadow_mvs",
                "scrape_interval": interval,
                "static_configs": [{"targets": [f"127.0.0.1:{free_loopback_port()}"]}],
            }
        ],
    }


def our_target(url: str) -> dict[str, object]:
    """The job's target once discovery lists it (a bounded poll)."""

    def listed() -> list[dict[str, object]]:
        active = httpx.get(f"{url}/api/v1/targets", timeout=2).json()["data"]["activeTargets"]
        assert active, "discovery has not listed the target yet"
        return list(active)

    active = bounded_poll(
        listed, budget_s=10, interval_s=0.1, retry_if=(AssertionError, httpx.HTTPError)
    )
    return dict(active[0])


def test_durations():
    assert seconds("5s") == 5
    assert seconds("1m30s") == 90
    assert seconds("500ms") == 0.5
    assert seconds("") is None


def test_interval_off_contract_cannot_heal(tmp_path: Path):
    with local_prometheus(tmp_path, config("1m")) as prom:
        failed = scrape_explained(our_target(prom.url), 5.0)
    assert failed is not None
    assert failed.cause == "scrape_interval_wrong"
    assert not failed.retryable
    assert 'job "shadow_mvs" is scraped every 1m, the contract says 5s' in failed.message


def test_target_not_scraped_yet_says_when(tmp_path: Path):
    with local_prometheus(tmp_path, config("5s")) as prom:
        target = our_target(prom.url)
    target["health"], target["lastScrape"] = "unknown", "0001-01-01T00:00:00Z"
    failed = scrape_explained(target, 5.0)
    assert failed is not None
    assert failed.cause == "target_not_scraped_yet"
    assert failed.retryable
    assert "interval 5s, next scrape due in at most 5 s" in failed.message
    assert "(contract interval 5s)" in failed.message


def test_loaded_config_and_rule_files(tmp_path: Path):
    with (
        local_prometheus(tmp_path, config("5s", ["rules/absent-*.yml"])) as prom,
        httpx.Client(timeout=2) as client,
    ):
        assert loaded_scrape_jobs(client, prom.url) == ["shadow_mvs"]
        failed = rules_not_loaded(client, prom.url, "shadow_mvs", [])
    assert failed.cause == "rule_files_miss_group"
    assert not failed.retryable
    assert "rules/absent-*.yml) load no rule group shadow_mvs" in failed.message


def test_without_status_apis_the_rules_check_keeps_waiting():
    with httpx.Client(timeout=0.5) as client:
        failed = rules_not_loaded(client, "http://127.0.0.1:9", "shadow_mvs", [])
        assert loaded_scrape_jobs(client, "http://127.0.0.1:9") is None
    assert failed.cause == "rules_not_loaded"
    assert failed.retryable
