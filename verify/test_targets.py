"""F-FAIL-TARGETS → G-3: Prometheus has the job="shadow_mvs" target at the contract address
and it is UP. Right after bring-up the target list is briefly empty (discovery takes ~5 s);
that warm-up is what the retry count INFO|targets_retry=N reports."""

from typing import Any

from prometheus_api_client import PrometheusConnect

from fixtures.stack import Stack
from verify.contract import Contract
from verify.run import CheckContext, CheckFailed

CHECK = "targets"


def test_shadow_mvs_target_up(
    check: CheckContext, stack: Stack, prometheus: PrometheusConnect, contract: Contract
) -> None:
    job = contract.prometheus["job"]
    address = contract.prometheus["target"]

    def probe() -> dict[str, Any]:
        active = prometheus.get_targets(state="active")["activeTargets"]
        ours = [t for t in active if t["labels"].get("job") == job]
        if not ours:
            jobs = sorted({t["labels"].get("job", "?") for t in active})
            raise CheckFailed(
                f'no active target for job="{job}" (jobs seen: {jobs or "none"})',
                cause="scrape_job_missing",
                facts={"job": job, "jobs": ", ".join(jobs) or "none"},
            )
        target = ours[0]
        if target["labels"].get("instance") != address:
            found = target["labels"].get("instance")
            raise CheckFailed(
                f'job="{job}" scrapes {found}, contract says {address}',
                cause="scrape_target_wrong",
                facts={"job": job, "found": found, "expected": address},
            )
        if target["health"] != "up":
            raise CheckFailed(
                f'job="{job}" target {target["scrapeUrl"]} health='
                f'{target["health"]} lastError="{target["lastError"]}"',
                cause="target_down",
                facts={"url": target["scrapeUrl"], "last_error": target["lastError"] or "none"},
            )
        return target

    target = check.poll(probe)
    check.passed(f'job="{job}" {target["scrapeUrl"]} UP')
    check.evidence("targets", f"job={job} instance={address} health=up")
