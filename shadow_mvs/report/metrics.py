"""Verify as metrics: one run's verdict as Prometheus gauges, for ``--format prometheus``
(stdout) and ``--metrics-file PATH`` (the node_exporter textfile collector's way).

Everything is a gauge, never a counter: each run replaces the whole set (the file is
rewritten), so a value says how the *latest* run went. prometheus-client builds the
exposition (``generate_latest``) and writes the file atomically (``write_to_textfile``:
a temporary file in the same directory, then ``rename(2)``), so a collector never reads half
a file. Series per check carry ``check`` and ``f_code``; a check that was not selected has
no sample (it was neither run nor judged). The alert rules that read these series are in
compose/prometheus/rules/shadow-mvs-verify.yml (VerifyFailing, VerifyStale).
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Gauge, generate_latest, write_to_textfile

from shadow_mvs import suite_version
from shadow_mvs.core.contract import load_contract
from shadow_mvs.core.run import VerifyRun

PREFIX = "shadow_mvs_verify"
CHECK_LABELS = ("check", "f_code")
SLO_MEASUREMENT = "slo_"  # CheckRecord.measurements: slo_<name> and slo_<name>_threshold
THRESHOLD_SUFFIX = "_threshold"


def registry_for(
    run: VerifyRun,
    finished_at: float,
    duration_s: float,
    labels: Mapping[str, str] | None = None,
) -> CollectorRegistry:
    """The gauges of one finished run. ``labels`` go on the info series (stack, mode)."""
    registry = CollectorRegistry()

    def gauge(name: str, text: str, names: tuple[str, ...] = ()) -> Gauge:
        return Gauge(f"{PREFIX}_{name}", text, list(names), registry=registry)

    success = gauge(
        "check_success", "1 if the check passed in the last run, 0 if failed/blocked", CHECK_LABELS
    )
    elapsed = gauge(
        "check_duration_seconds", "Time the check spent probing in the last run", CHECK_LABELS
    )
    attempts = gauge("check_attempts", "Probes the check made in the last run", CHECK_LABELS)
    budget = gauge(
        "check_budget_seconds", "The check's retry budget from the contract", CHECK_LABELS
    )
    for record in run.selected:
        keys = (record.check, record.f_code)
        success.labels(*keys).set(1 if record.status == "pass" else 0)
        elapsed.labels(*keys).set(record.elapsed_s)
        attempts.labels(*keys).set(record.attempts)
        budget.labels(*keys).set(record.budget_s)

    gauge("result", "1 if the last run's RESULT was PASS, 0 if FAIL").set(1 if run.passed else 0)
    gauge("last_run_timestamp_seconds", "Unix time the last verify run finished").set(finished_at)
    gauge("duration_seconds", "Wall time of the last verify run").set(duration_s)
    gauge("checks_selected", "Checks the last run selected").set(len(run.selected))
    info_labels = {
        "verify_code": run.verify_code,
        "contract_version": str(load_contract().version),
        "suite_version": suite_version(),
        **(labels or {}),
    }
    info = gauge(
        "info", "The last run's verify code and where it ran (value 1)", tuple(info_labels)
    )
    info.labels(**info_labels).set(1)

    value = gauge("slo_value", "An SLO's value as the last run measured it", ("slo",))
    threshold = gauge("slo_threshold", "The SLO's threshold for the run's pipeline mode", ("slo",))
    for record in run.selected:
        for key, number in record.measurements.items():
            if not key.startswith(SLO_MEASUREMENT):
                continue
            name = key.removeprefix(SLO_MEASUREMENT)
            if name.endswith(THRESHOLD_SUFFIX):
                threshold.labels(name.removesuffix(THRESHOLD_SUFFIX)).set(number)
            else:
                value.labels(name).set(number)
    return registry


def exposition(registry: CollectorRegistry) -> str:
    """The text format 0.0.4, as Prometheus and the textfile collector read it."""
    return generate_latest(registry).decode("utf-8")


def write_file(path: str, registry: CollectorRegistry) -> None:
    """Atomically: prometheus-client writes ``<path>.<pid>.<thread>`` and renames it."""
    write_to_textfile(path, registry)
