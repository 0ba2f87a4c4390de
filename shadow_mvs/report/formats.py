"""``--format``: the verdict on stdout in the shape a machine reads, modelled on goss's
``--format json|junit|tap|nagios|prometheus`` (goss's ``documentation`` is our ``text``).

* ``text`` (default): the operator's lines (shadow_mvs/report/reporter.py), nothing here.
* ``json``: the reports/verify.json document (pytest-json-report plus the verdict fields).
* ``junit``: the reports/junit.xml document (shadow_mvs/report/ci_reports.py).
* ``tap``: TAP version 13, one test point per selected check; a blocked check is ``ok …
  # SKIP blocked by …`` (TAP's skip), a failed one ``not ok`` with a YAML block.
* ``nagios``: one line, ``SHADOW-MVS VERIFY <STATE> - <text> | <perfdata>``, and the exit code
  Nagios reads: 0 OK, 1 WARNING (all passed, but an SLO warning), 2 CRITICAL (RESULT=FAIL),
  3 UNKNOWN (usage error, internal error, interrupted run). These replace pytest's exit
  codes for this format only (pytest's 2 means "interrupted", Nagios's 2 CRITICAL).
* ``prometheus``: the gauges of shadow_mvs/report/metrics.py in the text exposition format.

For every format but ``text`` nothing else reaches stdout: the verify wiring hands pytest's
terminal reporter stderr instead (shadow_mvs/plugin/wiring.py), and files under reports/
are written as always. Every byte is scrubbed of the run's secrets like the other reports.
"""

from __future__ import annotations

import copy
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from shadow_mvs.config.settings import Settings
from shadow_mvs.core.contract import load_contract
from shadow_mvs.core.run import CheckRecord, VerifyRun
from shadow_mvs.report import metrics
from shadow_mvs.report.reporter import next_commands, verdict
from shadow_mvs.report.session import redactor, verify_run

TEXT = "text"
NAGIOS_OK, NAGIOS_WARNING, NAGIOS_CRITICAL, NAGIOS_UNKNOWN = 0, 1, 2, 3
NAGIOS_STATE = {0: "OK", 1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}
NAGIOS_SERVICE = "SHADOW-MVS VERIFY"


def one_line(text: str) -> str:
    return " ".join(text.split())


# --- TAP 13 -------------------------------------------------------------------------------


def tap(run: VerifyRun) -> str:
    """TAP version 13 (testanything.org/tap-version-13-specification.html)."""
    selected = run.selected
    lines = ["TAP version 13", f"1..{len(selected)}"]
    for number, record in enumerate(selected, start=1):
        point = f"{number} - {record.check} ({record.f_code})"
        if record.status == "pass":
            lines.append(f"ok {point}")
        elif record.status == "blocked":
            lines.append(f"ok {point} # SKIP {one_line(record.message)}")
        else:
            lines.append(f"not ok {point}")
            lines += tap_diagnostics(record)
    lines.append(f"# RESULT={'PASS' if run.passed else 'FAIL'} verify_code={run.verify_code}")
    if run.partial:
        lines.append(f"# {run.selection_note}")
    return "\n".join(lines) + "\n"


def tap_diagnostics(record: CheckRecord) -> list[str]:
    """TAP 13's YAML block; JSON scalars are valid YAML flow scalars."""
    fields: dict[str, Any] = {
        "message": one_line(record.message or "not run"),
        "status": record.status,
        "f_code": record.f_code,
        "attempts": record.attempts,
        "elapsed_s": record.elapsed_s,
        "budget_s": record.budget_s,
    }
    if record.status == "fail":
        fields["node"] = record.node.id
    return ["  ---", *(f"  {k}: {json.dumps(v)}" for k, v in fields.items()), "  ..."]


# --- Nagios -------------------------------------------------------------------------------


def slo_warnings(run: VerifyRun) -> list[str]:
    return [text for record in run.selected for text in record.warnings]


def internal_errors(run: VerifyRun) -> list[CheckRecord]:
    return [r for r in run.selected if r.message.startswith("internal error")]


def nagios_code(run: VerifyRun, stopped: bool = False) -> int:
    """``stopped``: the session ended by a usage error, an internal error or an interrupt."""
    if stopped or internal_errors(run):
        return NAGIOS_UNKNOWN
    if not run.passed:
        return NAGIOS_CRITICAL
    return NAGIOS_WARNING if slo_warnings(run) else NAGIOS_OK


def nagios_line(run: VerifyRun, code: int, duration_s: float, mode: str) -> str:
    """Plugin output as Nagios reads it: status text, then ``|`` and perfdata
    (``label=value[UOM];[warn];[crit];[min];[max]``, nagios-plugins.org/doc/guidelines.html)."""
    selected = run.selected
    count = {status: sum(r.status == status for r in selected) for status in ("pass", "fail")}
    blocked = sum(r.status == "blocked" for r in selected)
    tally = f"{count['pass']}/{len(selected)} checks passed"
    if code == NAGIOS_UNKNOWN:
        broken = internal_errors(run)
        why = f"{broken[0].check}: {broken[0].message}" if broken else "run did not finish"
        text = f"{why}; {tally}"
    elif code == NAGIOS_CRITICAL:
        first = run.first_failure
        what = f"{first.f_code} {first.check}: {first.message}" if first else run.verify_code
        text = f"{what}; {count['fail']} failed, {blocked} blocked, {tally}"
    elif code == NAGIOS_WARNING:
        warned = slo_warnings(run)
        text = f"{tally}, {len(warned)} SLO warning(s): {warned[0]}"
    else:
        text = f"{tally} ({run.verify_code})"
    if run.partial:
        text += f" ({run.selection_note})"
    text = one_line(text).replace("|", "/")  # "|" starts the perfdata
    total = len(selected)
    perf = [
        f"passed={count['pass']};;;0;{total}",
        f"failed={count['fail']};;;0;{total}",
        f"blocked={blocked};;;0;{total}",
        f"duration={duration_s:.3f}s;;;0",
    ]
    perf += slo_perfdata(run, mode)
    return f"{NAGIOS_SERVICE} {NAGIOS_STATE[code]} - {text} | {' '.join(perf)}"


def slo_perfdata(run: VerifyRun, mode: str) -> list[str]:
    """Each measured SLO with its threshold as the WARNING range (a breach warns, unless
    --slo-gate): ``@`` ranges are avoided; "X" alerts above X, "X:" alerts below X."""
    found: list[str] = []
    for objective in load_contract().slo_objectives:
        key = f"{metrics.SLO_MEASUREMENT}{objective.name}"
        value = next((r.measurements[key] for r in run.selected if key in r.measurements), None)
        if value is None:
            continue
        limit = f"{objective.threshold[mode]:g}"
        warn = limit if objective.ok == "below" else f"{limit}:"
        found.append(f"{key}={value:g};{warn}")
    return found


# --- the session's plugin -----------------------------------------------------------------


class FormatOutput:
    """Registered for verify sessions: writes the metrics file and, for a machine format,
    the verdict on stdout once every report file is final (junit.xml is reshaped in
    ``CiReports.pytest_unconfigure``, so this runs last)."""

    def __init__(self, config: pytest.Config, settings: Settings):
        self.config = config
        self.format = settings.output_format
        self.metrics_file = settings.metrics_file
        self.mode = settings.mode
        self.stack_label = settings.stack_label
        self.started = time.monotonic()
        self.duration_s = 0.0
        self.finished_at = 0.0
        self.finished = False
        self.document: dict[str, Any] | None = None

    @property
    def run(self) -> VerifyRun:
        run = verify_run(self.config)
        assert run is not None, "registered for verify sessions only"
        return run

    # optional: pytest-json-report declares it only while it writes a report
    @pytest.hookimpl(trylast=True, optionalhook=True)
    def pytest_json_modifyreport(self, json_report: dict[str, Any]) -> None:
        """The document exactly as pytest-json-report saves it (every other plugin has
        added its fields and scrubbed secrets by now: this runs last)."""
        self.document = copy.deepcopy(json_report)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self) -> None:
        self.finished = True
        self.finished_at = time.time()
        self.duration_s = time.monotonic() - self.started

    @pytest.hookimpl(trylast=True)
    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if not self.finished:
            return
        if self.metrics_file:
            metrics.write_file(self.metrics_file, self.registry())
        if self.format != TEXT:
            sys.stdout.write(self.rendered())
            sys.stdout.flush()

    def registry(self) -> metrics.CollectorRegistry:
        labels = {"stack": self.stack_label, "pipeline_mode": self.mode}
        return metrics.registry_for(self.run, self.finished_at, self.duration_s, labels)

    def rendered(self) -> str:
        redact = redactor(self.config)
        if self.format == "json":
            return json.dumps(redact.data(self.json_document()), indent=2) + "\n"
        if self.format == "junit":
            return self.junit_document()
        if self.format == "tap":
            text = tap(self.run)
        elif self.format == "nagios":
            code = nagios_code(self.run, stopped=not self.completed)
            text = nagios_line(self.run, code, self.duration_s, self.mode) + "\n"
        else:
            text = metrics.exposition(self.registry())
        return redact.text(text)

    @property
    def completed(self) -> bool:
        status = self.config.stash.get(EXIT_STATUS_KEY, pytest.ExitCode.OK)
        return not stopped(status, self.run)

    def json_document(self) -> dict[str, Any]:
        if self.document is not None:
            return self.document
        # --json-report-file=none: no document was built, so the verdict fields alone.
        commands = next_commands(self.config)
        return verdict(self.run, commands.compose_command, self.stack_label, commands.urls)

    def junit_document(self) -> str:
        xmlpath = self.config.getoption("xmlpath", None)  # resolved as junitxml does
        path = Path(os.path.expandvars(xmlpath)).expanduser().absolute() if xmlpath else None
        if path is None or not path.is_file():
            print("shadow-mvs: --format junit: no JUnit file was written", file=sys.stderr)
            return ""
        return path.read_text(encoding="utf-8") + "\n"


EXIT_STATUS_KEY = pytest.StashKey[int]()  # pytest's own exit status, before the verdict's
# pytest's codes that say more than FAIL: a usage error, a bug, an interrupted run.
STOPPED = (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.USAGE_ERROR)


def remember_exit_status(config: pytest.Config, status: int) -> None:
    config.stash[EXIT_STATUS_KEY] = status


def stopped(status: int, run: VerifyRun) -> bool:
    """The session did not end in a verdict of its own (a full PASS outweighs the code)."""
    return status in STOPPED and not run.passed
