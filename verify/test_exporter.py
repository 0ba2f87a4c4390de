"""F-FAIL-EXPORTER → G-1: :9109/metrics answers in the format its Content-Type announces
(parsed as Prometheus would parse it: no series twice, the run's mode present) and
carries every contract family with its labels and allowed values, shadow_mvs_up is 1, no
forbidden label, series within budget. Then the ledger reconciles with the counters (per
stage, fills included, and the summed fill fees); a mismatch routes to the incident runbook R-5."""

from typing import Any

import httpx

from shadow_mvs.config.settings import Settings
from shadow_mvs.core.contract import Contract
from shadow_mvs.core.run import CheckContext, CheckFailed
from shadow_mvs.evidence.exposition import ExpositionReport, inspect_exposition
from shadow_mvs.evidence.hops import exposition_hop, parse_exposition, stage_walk
from shadow_mvs.plugin.stack import Stack

CHECK = "exporter"


def test_exporter_serves_contract_families(
    shadow_mvs_check: CheckContext,
    shadow_mvs_stack: Stack,
    shadow_mvs_http: httpx.Client,
    shadow_mvs_settings: Settings,
    shadow_mvs_contract: Contract,
    shadow_mvs_mode: str,
) -> None:
    url = f"{shadow_mvs_settings.exporter_url}/metrics"
    walk, _ = stage_walk(shadow_mvs_contract, shadow_mvs_mode)

    def probe() -> ExpositionReport:
        response = shadow_mvs_http.get(url)
        response.raise_for_status()
        try:
            report = inspect_exposition(response.text, shadow_mvs_contract)
        except ValueError as error:
            raise CheckFailed(
                f"{type(error).__name__}: {error}", cause="not_exposition", facts={"url": url}
            ) from None
        if not report.families:
            kind = response.headers.get("content-type", "no content-type")
            raise CheckFailed(
                f"no metric family in {kind}", cause="not_exposition", facts={"url": url}
            )
        # Then as Prometheus reads it: the Content-Type picks the format (final if it fails),
        # and the walk's first hop: no series exposed twice, the run's mode present.
        exposition = parse_exposition(url, response.text, response.headers.get("content-type", ""))
        if (lost := exposition_hop(exposition, walk).loss) is not None:
            raise lost
        if report.problems:
            raise CheckFailed(f"{url}: " + "; ".join(report.problems[:3]), cause="off_contract")
        return report

    def reconcile() -> dict[str, Any]:
        snapshot_path = shadow_mvs_contract.raw["exporter"]["snapshot_path"]
        snapshot_url = f"{shadow_mvs_settings.exporter_url}{snapshot_path}"
        response = shadow_mvs_http.get(snapshot_url)
        response.raise_for_status()
        snapshot: dict[str, Any] = response.json()
        diff = {
            stage: (n, snapshot["ledger_counts"].get(stage))
            for stage, n in snapshot["counters"].items()
            if snapshot["ledger_counts"].get(stage) != n
        }
        # Exporters before the fee reconciliation have no fee fields: nothing to compare.
        if snapshot.get("fees") != snapshot.get("ledger_fees"):
            diff["fees"] = (snapshot["fees"], snapshot["ledger_fees"])
        if diff:
            raise CheckFailed(
                f"ledger and counters disagree (counter, ledger): {diff}",
                cause="ledger_mismatch",
                retryable=False,
            )
        return snapshot

    report = shadow_mvs_check.poll(probe)
    snapshot = shadow_mvs_check.poll(reconcile)
    shadow_mvs_check.passed(
        f"{len(report.families)} families, {report.series} series, "
        f"ledger {snapshot['ledger_lines']} lines = counters"
    )
    shadow_mvs_check.evidence(
        "exporter", f"{url} families={len(report.families)} series={report.series}"
    )
    shadow_mvs_check.evidence(
        "ledger",
        f"lines={snapshot['ledger_lines']} per_stage_counts_match=true "
        f"fees={snapshot.get('fees', 'n/a')} fees_match=true",
    )
