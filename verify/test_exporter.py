"""F-FAIL-EXPORTER → G-1: :9109/metrics answers in the format its Content-Type announces
(parsed as Prometheus would parse it: no series twice, the run's mode present) and
carries every contract family with its labels and allowed values, shadow_mvs_up is 1, no
forbidden label, series within budget. Then the ledger reconciles with the counters (per
stage, fills included, and the summed fill fees) and every line of it is a record; a
mismatch or a corrupt line routes to the incident runbook R-5."""

from typing import Any

import httpx

from shadow_mvs.config.settings import Settings
from shadow_mvs.core.contract import Contract
from shadow_mvs.core.run import CheckContext, CheckFailed
from shadow_mvs.evidence.exposition import ExpositionReport, inspect_exposition
from shadow_mvs.evidence.hops import exposition_hop, parse_exposition, parse_format, stage_walk
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
        content_type = response.headers.get("content-type", "")
        try:
            report = inspect_exposition(response.text, shadow_mvs_contract, content_type)
        except ValueError as error:
            if parse_format(content_type) == "OpenMetrics":
                # Announced as OpenMetrics, and it does not parse as such: say so the way
                # Prometheus will read it (exposition_unparsable), not "another process".
                parse_exposition(url, response.text, content_type)
            raise CheckFailed(
                f"{type(error).__name__}: {error}", cause="not_exposition", facts={"url": url}
            ) from None
        if not report.families:
            kind = content_type or "no content-type"
            raise CheckFailed(
                f"no metric family in {kind}", cause="not_exposition", facts={"url": url}
            )
        # Then as Prometheus reads it: the Content-Type picks the format (final if it fails),
        # and the walk's first hop: no series exposed twice, the run's mode present.
        exposition = parse_exposition(url, response.text, content_type)
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
        # The audit reads the whole ledger: a line that is no record is named, whichever
        # run wrote it (exporters before the whole-file audit have no such field).
        if snapshot.get("ledger_unparseable"):
            raise CheckFailed(
                f"{snapshot['ledger_unparseable']} ledger line(s) are not JSON records, "
                f"first {snapshot['ledger_first_unparseable']}",
                cause="ledger_corrupt",
                facts={"line": str(snapshot["ledger_first_unparseable"])},
                retryable=False,
            )
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
