"""F-FAIL-TARGETS → G-3: Prometheus has the job="shadow_mvs" target at the contract address
and it is UP, and the job's loaded scrape config does not lose the contract's series (a
relabel rule or a sample_limit: the walk's config hops, shadow_mvs/evidence/hops.py).
Right after bring-up the target list is briefly empty (discovery takes ~5 s);
that warm-up is what the retry count INFO|targets_retry=N reports.

Where the queried backend does not scrape (``--topology=remote-write``, or ``auto`` and the
targets API lacks the job), the scrape is proven from the remote-written series instead
(shadow_mvs/evidence/remote_write.py); the evidence line says which path was used."""

from typing import Any

import httpx
from prometheus_api_client import PrometheusConnect

from shadow_mvs.config.settings import Settings
from shadow_mvs.core.contract import Contract
from shadow_mvs.core.run import CheckContext, CheckFailed
from shadow_mvs.evidence.hops import (
    config_loss,
    loaded_job,
    read_exposition,
    scrape_failure,
    stage_walk,
)
from shadow_mvs.evidence.remote_write import backend_scrapes, prove_remote_written_scrape
from shadow_mvs.evidence.status_api import loaded_scrape_jobs, scrape_explained
from shadow_mvs.plugin.stack import Stack

CHECK = "targets"


def test_shadow_mvs_target_up(
    shadow_mvs_check: CheckContext,
    shadow_mvs_stack: Stack,
    shadow_mvs_prometheus: PrometheusConnect,
    shadow_mvs_http: httpx.Client,
    shadow_mvs_settings: Settings,
    shadow_mvs_contract: Contract,
    shadow_mvs_mode: str,
) -> None:
    job = shadow_mvs_contract.prometheus["job"]
    address = shadow_mvs_settings.scrape_target
    want_interval_s = float(shadow_mvs_contract.prometheus["scrape_interval_s"])

    walk, _ = stage_walk(shadow_mvs_contract, shadow_mvs_mode)

    def config_says_lost(target: dict[str, Any] | None) -> None:
        """The loaded config alone can prove the data will be lost (a relabel rule, a
        sample_limit below the exposition): final, named before any scrape is waited for."""
        job_config = loaded_job(shadow_mvs_http, shadow_mvs_settings.prometheus_url, job)
        if job_config is None:
            return
        exposition = None
        if job_config.get("sample_limit"):
            try:
                exposition = read_exposition(
                    shadow_mvs_http, f"{shadow_mvs_settings.exporter_url}/metrics"
                )
            except (httpx.HTTPError, CheckFailed):
                exposition = None  # the exporter check speaks for the exposition
        if loss := config_loss(walk, job_config, target, shadow_mvs_contract, exposition):
            raise loss

    def probe() -> dict[str, Any]:
        active = shadow_mvs_prometheus.get_targets(state="active")["activeTargets"]
        ours = [t for t in active if t["labels"].get("job") == job]
        config_says_lost(ours[0] if ours else None)
        if not ours:
            jobs = sorted({t["labels"].get("job", "?") for t in active})
            # The loaded config says whether discovery is still warming up or the job is absent.
            loaded = loaded_scrape_jobs(shadow_mvs_http, shadow_mvs_settings.prometheus_url)
            raise CheckFailed(
                f'no active target for job="{job}" (jobs seen: {jobs or "none"})',
                # The loaded config lacks the job: final; else discovery is warming up.
                cause="scrape_job_missing"
                if loaded is not None and job not in loaded
                else "target_not_discovered_yet",
                facts={
                    "job": job,
                    "jobs": ", ".join(loaded if loaded is not None else jobs) or "none",
                },
            )
        target = ours[0]
        if (problem := scrape_explained(target, want_interval_s)) is not None:
            raise problem
        if target["labels"].get("instance") != address:
            found = target["labels"].get("instance")
            raise CheckFailed(
                f'job="{job}" scrapes {found}, contract says {address}',
                cause="scrape_target_wrong",
                facts={"job": job, "found": found, "expected": address},
            )
        if target["health"] != "up":
            # lastError says whether the next scrape can do better: a limit, a 4xx or a
            # parse error cannot (final); a refused connection may (warm-up).
            job_config = loaded_job(shadow_mvs_http, shadow_mvs_settings.prometheus_url, job)
            scraped = shadow_mvs_prometheus.custom_query(f'scrape_samples_scraped{{job="{job}"}}')
            samples = int(float(scraped[0]["value"][1])) if scraped else None
            raise scrape_failure(target, job_config or {}, samples)
        return target

    topology = shadow_mvs_settings.topology
    if topology == "auto":
        topology = shadow_mvs_check.poll(
            lambda: (
                "scrape"
                if backend_scrapes(shadow_mvs_http, shadow_mvs_settings.prometheus_url, job)
                else "remote-write"
            )
        )
    if topology == "remote-write":
        proof = shadow_mvs_check.poll(
            lambda: prove_remote_written_scrape(
                shadow_mvs_prometheus,
                job,
                address,
                shadow_mvs_contract.prometheus["scrape_interval_s"],
            )
        )
        shadow_mvs_check.passed(
            f'job="{job}" {address} up=1 via remote-write, newest sample {proof.age_s:.1f} s old'
        )
        shadow_mvs_check.evidence("targets", proof.evidence(job))
        return
    target = shadow_mvs_check.poll(probe)
    shadow_mvs_check.passed(f'job="{job}" {target["scrapeUrl"]} UP')
    shadow_mvs_check.evidence("targets", f"path=targets-api job={job} instance={address} health=up")
