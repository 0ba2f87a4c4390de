"""The Prometheus config (``prometheus.yml``): the contract's scrape job, its one target and
its interval, the Alertmanager its ``alerting:`` block sends to; and the repo's way of
writing the file."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from shadow_mvs.core.causes import Finding
from shadow_mvs.core.contract import Contract

PROMETHEUS_DEFAULT_INTERVAL = "1m"  # what Prometheus scrapes at when no interval is set
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_s(text: str | None) -> float | None:
    """A Prometheus duration (``5s``, ``1m``) in seconds; None for anything else."""
    match = re.fullmatch(r"(\d+)(ms|s|m|h|d)", text or "")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)] if match else None


def scrape_jobs(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(job.get("job_name")): job for job in config.get("scrape_configs") or []}


def contract_findings(config: dict[str, Any], contract: Contract) -> list[Finding]:
    """The contract's job scrapes exactly the contract's target at the contract's interval
    (the job's own, else the global one, else Prometheus's default): what the targets
    check finds in the running Prometheus."""
    want = contract.prometheus
    jobs = scrape_jobs(config)
    job = jobs.get(want["job"])
    if job is None:
        return [
            Finding(
                "targets",
                f"no scrape job {want['job']!r} (jobs: {sorted(jobs)})",
                cause="scrape_job_missing",
                facts={"job": want["job"], "jobs": ", ".join(jobs) or "none"},
            )
        ]
    findings = []
    targets = [str(t) for sc in job.get("static_configs") or [] for t in sc.get("targets") or []]
    if targets != [want["target"]]:
        findings.append(
            Finding(
                "targets",
                f"job targets {targets}, expected [{want['target']!r}]",
                cause="scrape_target_wrong",
                facts={
                    "job": want["job"],
                    "found": ", ".join(targets) or "no static target",
                    "expected": want["target"],
                },
            )
        )
    interval = str(
        job.get("scrape_interval")
        or (config.get("global") or {}).get("scrape_interval")
        or PROMETHEUS_DEFAULT_INTERVAL
    )
    if duration_s(interval) != float(want["scrape_interval_s"]):
        findings.append(
            Finding(
                "targets",
                f"job scrape_interval {interval!r}, expected {want['scrape_interval_s']}s",
                cause="scrape_interval_wrong",
                facts={
                    "job": want["job"],
                    "interval": interval,
                    "contract_interval": f"{want['scrape_interval_s']}s",
                },
            )
        )
    return findings


def alerting_findings(config: dict[str, Any], contract: Contract) -> list[Finding]:
    """The ``alerting:`` block sends to the contract's Alertmanager (static targets): what
    the alerting check finds in Prometheus's /api/v1/alertmanagers."""
    expected = contract.alerting["prometheus_target"]
    blocks = (config.get("alerting") or {}).get("alertmanagers") or []
    targets = [
        str(t)
        for block in blocks
        for sc in block.get("static_configs") or []
        for t in sc.get("targets") or []
    ]
    if expected in targets:
        return []
    active = ", ".join(targets) or "no Alertmanager"
    return [
        Finding(
            "alerting",
            f"alerting targets {targets}, expected [{expected!r}]",
            cause="prometheus_wrong_alertmanager",
            facts={"active": active, "expected": expected},
        )
    ]


def design_findings(config: dict[str, Any], contract: Contract) -> list[Finding]:
    """Global scrape and evaluation intervals written as the contract's interval (the alert
    rules' timing assumes it); rule files relative to the config, so the same file works
    in the container and with promtool on the host."""
    findings = []
    interval = f"{contract.prometheus['scrape_interval_s']}s"
    global_section = config.get("global") or {}
    for key in ("scrape_interval", "evaluation_interval"):
        if global_section.get(key) != interval:
            findings.append(
                Finding(None, f"global.{key} is {global_section.get(key)!r}, expected {interval}")
            )
    for rule_file in config.get("rule_files") or []:
        if Path(str(rule_file)).is_absolute():
            findings.append(
                Finding(
                    None, f"rule file {rule_file!r} is absolute; it must be relative to the config"
                )
            )
    return findings
