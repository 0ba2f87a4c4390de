"""The targets check where the queried backend does not scrape (remote-write topology).

Mimir, Grafana Cloud, Thanos receive or a central Prometheus fed by an agent have no
``/api/v1/targets`` (or no active target for the job): the scrape is proven instead through
what the agent remote-wrote — ``up{job=…}`` is 1 for the expected instance, its newest
sample is fresh, and the job's scrape series are there. An agent that stopped writing is
named as such (age of its newest sample), never "data empty".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from prometheus_api_client import PrometheusConnect

from shadow_mvs.core.run import CheckFailed

LOOKBACK = "1h"  # how far back to look for the last sample of a silent agent


@dataclass(frozen=True)
class RemoteWriteProof:
    instance: str
    age_s: float
    series: int

    def evidence(self, job: str) -> str:
        return (
            f"path=remote-write job={job} instance={self.instance} up=1 "
            f"newest_sample_age={self.age_s:.1f}s series={self.series}"
        )


def stale_after_s(scrape_interval_s: float) -> float:
    """An agent whose newest ``up`` sample is older than this stopped remote-writing."""
    return max(4 * scrape_interval_s, 30.0)


def backend_scrapes(http_client: httpx.Client, prometheus_url: str, job: str) -> bool:
    """``--topology=auto``: the backend scrapes if its targets API lists the job."""
    response = http_client.get(f"{prometheus_url}/api/v1/targets", params={"state": "active"})
    if response.status_code in (404, 405, 501):
        return False
    response.raise_for_status()
    active = response.json().get("data", {}).get("activeTargets", [])
    return any(t.get("labels", {}).get("job") == job for t in active)


def prove_remote_written_scrape(
    prometheus: PrometheusConnect,
    job: str,
    instance: str,
    scrape_interval_s: float,
    now: float | None = None,
) -> RemoteWriteProof:
    """``now`` evaluates every query at that instant (default: the backend's own now)."""
    selector = f'up{{job="{job}"}}'
    params = {"time": f"{now:.3f}"} if now is not None else None
    now = time.time() if now is None else now

    def query(expr: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = prometheus.custom_query(expr, params=params)
        return result

    limit = stale_after_s(scrape_interval_s)
    current = query(f"timestamp({selector})")
    if not current:
        raise _silent(query, job, selector, now)
    ours = [s for s in current if s["metric"].get("instance") == instance]
    if not ours:
        seen = sorted({s["metric"].get("instance", "?") for s in current})
        raise CheckFailed(
            f"{selector} arrives by remote-write for instances {seen}, expected {instance}",
            cause="remote_write_instance",
            facts={"job": job, "found": ", ".join(seen), "expected": instance},
            retryable=False,
        )
    age = now - float(ours[0]["value"][1])
    if age > limit:
        raise CheckFailed(
            f"newest {selector} sample is {age:.0f} s old (fresh means under {limit:.0f} s): "
            "the agent or its remote_write is down",
            cause="remote_write_stale",
            facts={"job": job},
            retryable=False,
        )
    up = query(f'{selector[:-1]}, instance="{instance}"}}')
    if not up or float(up[0]["value"][1]) != 1:
        value = up[0]["value"][1] if up else "nothing"
        raise CheckFailed(
            f'agent scrapes job="{job}" instance={instance} but up={value}: the exporter is '
            "down or unreachable as seen from the agent"
        )
    counted = query(f'count({{job="{job}", instance="{instance}", __name__!~"up|scrape_.*"}})')
    series = int(float(counted[0]["value"][1])) if counted else 0
    if series == 0:
        raise CheckFailed(
            f'up{{job="{job}"}} is 1 but no scrape series of the job reached the backend '
            "(remote_write drops them: check write_relabel_configs)"
        )
    return RemoteWriteProof(instance, age, series)


def _silent(
    query: Callable[[str], list[dict[str, Any]]], job: str, selector: str, now: float
) -> CheckFailed:
    """No current ``up`` sample: did the agent ever write, and when did it stop?"""
    past = query(f"{selector}[{LOOKBACK}]")
    newest = max(
        (float(ts) for series in past for ts, _ in series.get("values", [])),
        default=None,
    )
    if newest is None:
        return CheckFailed(
            f"no {selector} series in the backend within {LOOKBACK} (agent not running, "
            "remote_write URL or credentials rejected, or a renamed job)",
            cause="remote_write_missing",
            facts={"job": job},
        )
    return CheckFailed(
        f"newest {selector} sample is {now - newest:.0f} s old: the agent or its remote_write "
        "is down",
        cause="remote_write_stale",
        facts={"job": job},
        retryable=False,
    )
