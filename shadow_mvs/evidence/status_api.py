"""What Prometheus says about itself, set against the contract: the targets API (scrape
interval and timeout, last scrape, last error), the loaded config (/api/v1/status/config)
and the last reload (/api/v1/status/runtimeinfo). Used by the targets and rules checks in
every mode: external stacks are explained from these APIs alone, never from Docker."""

from __future__ import annotations

import re
import time
from datetime import datetime
from typing import Any

import httpx
import yaml

from shadow_mvs.core.run import CheckFailed

NEVER_SCRAPED = "0001-01-01T00:00:00Z"  # lastScrape of a target Prometheus has not scraped yet


def loaded_scrape_configs(
    http_client: httpx.Client, prometheus_url: str
) -> list[dict[str, Any]] | None:
    """The scrape configs Prometheus runs (/api/v1/status/config), None if unknown."""
    try:
        response = http_client.get(f"{prometheus_url}/api/v1/status/config")
        response.raise_for_status()
        config = yaml.safe_load(response.json()["data"]["yaml"]) or {}
    except (httpx.HTTPError, ValueError, KeyError, yaml.YAMLError):
        return None
    return [dict(entry) for entry in config.get("scrape_configs") or []]


def loaded_scrape_jobs(http_client: httpx.Client, prometheus_url: str) -> list[str] | None:
    """Job names of the config Prometheus runs, None if unknown."""
    configs = loaded_scrape_configs(http_client, prometheus_url)
    return None if configs is None else [str(c.get("job_name")) for c in configs]


def seconds(duration: str) -> float | None:
    """Prometheus durations as the targets API prints them (5s, 1m, 1m30s, 500ms)."""
    parts = re.findall(r"(\d+)(ms|s|m|h|d)", duration or "")
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    return sum(int(n) * units[u] for n, u in parts) if parts else None


def scrape_explained(target: dict[str, Any], want_s: float) -> CheckFailed | None:
    """What the targets API says about how the target is scraped, against the contract:
    a wrong interval cannot heal; a target not scraped yet says when its scrape is due."""
    interval = target.get("scrapeInterval", "")
    job = target["labels"].get("job", "?")
    contract_interval = f"{want_s:g}s"
    if seconds(interval) not in (None, want_s):
        return CheckFailed(
            f"{target['scrapeUrl']} scrapeInterval={interval} scrapeTimeout="
            f"{target.get('scrapeTimeout', '?')}",
            cause="scrape_interval_wrong",
            facts={"job": job, "interval": interval, "contract_interval": contract_interval},
            retryable=False,
        )
    if target["health"] == "unknown":
        interval_s = seconds(interval) or want_s
        last = target.get("lastScrape", NEVER_SCRAPED)
        if last.startswith("0001-"):
            due = f"at most {interval_s:g} s (first scrape at an offset within the interval)"
        else:
            stamp = datetime.fromisoformat(last.replace("Z", "+00:00")).timestamp()
            due = f"{max(stamp + interval_s - time.time(), 0):.1f} s"
        return CheckFailed(
            f"health=unknown lastScrape={last}",
            cause="target_not_scraped_yet",
            facts={
                "url": target["scrapeUrl"],
                "interval": interval or "?",
                "due": due,
                "contract_interval": contract_interval,
            },
        )
    return None


def rules_not_loaded(
    http_client: httpx.Client, prometheus_url: str, group: str, names: list[str]
) -> CheckFailed:
    """Ask Prometheus why: a failed reload (rule file rejected) or rule_files in the loaded
    config that match no file with the group. A ready Prometheus has loaded its rules, so
    neither heals by waiting; without the status APIs the check keeps retrying."""
    detail = f"rule group {group!r} not loaded (groups: {names or 'none'})"
    try:
        runtime = http_client.get(f"{prometheus_url}/api/v1/status/runtimeinfo").json()["data"]
        config = http_client.get(f"{prometheus_url}/api/v1/status/config").json()["data"]
        patterns = (yaml.safe_load(config["yaml"]) or {}).get("rule_files") or []
    except (httpx.HTTPError, ValueError, KeyError, yaml.YAMLError):
        return CheckFailed(detail, cause="rules_not_loaded")
    if runtime.get("reloadConfigSuccess") is False:
        return CheckFailed(
            f"{detail}; /api/v1/status/runtimeinfo reloadConfigSuccess=false since "
            f"{runtime.get('lastConfigTime', '?')}",
            cause="config_reload_failed",
            retryable=False,
        )
    return CheckFailed(
        detail,
        cause="rule_files_miss_group",
        facts={
            "patterns": ", ".join(map(str, patterns)) or "none",
            "group": group,
            "groups": ", ".join(names) or "none",
        },
        retryable=False,
    )
