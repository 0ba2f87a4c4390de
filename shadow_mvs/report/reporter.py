"""The verify reporter: operator lines on the terminal and the JSON evidence file.

Terminal, in order, each check exactly once: the root failure's FAIL line, then the checks
it blocked (then any further root and its blocked checks), then PASS lines, then SKIP lines
(selected but not run, or not selected); INFO retry counts and upstreams a partial run left
out, EVIDENCE lines, the TRIAGE block of the first red check, RESULT=PASS|FAIL (with
"(partial: N of M checks selected)" when fewer than all ran), the pointer to the contract.
The same facts go into reports/verify.json (pytest-json-report) at the top level and per
test. A failed run writes a forensics bundle into a directory of its own. Secrets never
leave: every line and file passes the run's one redactor (``session.redactor``).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Generator, Mapping
from pathlib import Path
from typing import Any

import pytest

from shadow_mvs.core.contract import load_contract
from shadow_mvs.core.run import CheckRecord, VerifyRun
from shadow_mvs.report.contract_summary import contract_pointer
from shadow_mvs.report.forensics import write_bundle
from shadow_mvs.report.report_files import note_problem, problems_of, write_problem
from shadow_mvs.report.session import NO_VERDICT_KEY, SETTINGS_KEY, check_name, redactor, verify_run
from shadow_mvs.report.triage_view import (
    NextCommands,
    TriageView,
    commands_in_use,
    failure_view,
)

EVIDENCE_ORDER = ("exporter", "prometheus", "grafana", "dashboard_uid")


def check_line(record: CheckRecord) -> str:
    if record.status == "pass":
        return f"PASS|{record.check}|{record.message or 'ok'}"
    if record.status == "pending":
        return f"SKIP|{record.check}|not run"
    if record.status == "not_selected":
        return f"SKIP|{record.check}|not selected"
    return f"FAIL|{record.f_code}|{record.message}"


def block_order(run: VerifyRun) -> list[CheckRecord]:
    """Every check once: each root failure followed by what it blocked, then the passes,
    then what did not run. Within each group, contract order."""
    records = list(run.records.values())
    roots = [r for r in records if r.status == "fail"]
    ordered: list[CheckRecord] = []
    for root in roots:
        ordered.append(root)
        ordered += [r for r in records if r.status == "blocked" and r.blocked_by == root.check]
    ordered += [r for r in records if r.status == "blocked" and r not in ordered]
    ordered += [r for r in records if r.status == "pass"]
    ordered += [r for r in records if r.status in ("pending", "not_selected")]
    return ordered


def result_line(run: VerifyRun) -> str:
    note = f" ({run.selection_note})" if run.selection_note else ""
    return f"RESULT={'PASS' if run.passed else 'FAIL'}{note}"


def no_verdict_lines(reason: str) -> list[str]:
    """A run that could not start its stack for a reason of the machine: exit 2, no RESULT
    (the chain was never checked, so neither PASS nor FAIL is true)."""
    return [
        f"ERROR|stack|{reason}",
        "INFO|no verdict: nothing was checked; exit 2 (the machine, not the observability chain)",
        f"INFO|See Contract: {contract_pointer()}",
    ]


def triage_lines(view: TriageView) -> list[str]:
    """The cause's sentence first (what is wrong), then the node (where to look, what next)."""
    lines = [f"TRIAGE|{view.id}|cause: {view.cause_sentence}"] if view.cause_sentence else []
    lines += [
        f"TRIAGE|{view.id}|{view.title}",
        f"TRIAGE|{view.id}|symptom: {view.symptom}",
        f"TRIAGE|{view.id}|likely cause: {view.likely_cause}",
    ]
    lines += [f"TRIAGE|{view.id}|next: {command}" for command in view.next_commands]
    return lines


def triage_fields(view: TriageView) -> dict[str, Any]:
    """The ``triage`` object of verify.json."""
    return {
        "cause": view.cause,
        "cause_sentence": view.cause_sentence,
        "node": view.id,
        "title": view.title,
        "symptom": view.symptom,
        "likely_cause": view.likely_cause,
        "next_commands": list(view.next_commands),
    }


def render(
    run: VerifyRun, compose_command: str | None, urls: Mapping[str, str] | None = None
) -> list[str]:
    """The verify block. ``compose_command`` is None in external mode (no Docker commands);
    ``urls`` are the URLs being verified (the contract's endpoints when None)."""
    records = list(run.records.values())
    lines = [check_line(r) for r in block_order(run)]
    lines += [f"WARN|{warning}" for warning in run.warnings()]  # preflight, broke nothing
    lines += [f"INFO|{r.check}_retry={max(r.attempts - 1, 0)}" for r in records if r.attempts]
    lines += [
        f"INFO|{r.check}_ran_without={','.join(r.unselected_upstream)} (not selected)"
        for r in records
        if r.unselected_upstream and r.status != "not_selected"
    ]
    evidence: dict[str, str] = {}
    for record in records:
        evidence.update(record.evidence)
    known = [key for key in EVIDENCE_ORDER if key in evidence]
    extra = [key for key in evidence if key not in EVIDENCE_ORDER]
    lines += [f"EVIDENCE|{key}={evidence[key]}" for key in known + extra]
    lines += [f"WARN|{r.check}|{text}" for r in records for text in r.warnings]
    first = run.first_failure
    if first is not None:
        lines += triage_lines(failure_view(first, NextCommands(compose_command, urls)))
    lines.append(f"INFO|verify_code={run.verify_code}")
    if run.budget_scale != 1:
        lines.append(f"INFO|budget_scale={run.budget_scale:g}")
    lines.append(result_line(run))
    lines.append(f"INFO|See Contract: {contract_pointer()}")
    return lines


def verdict(
    run: VerifyRun,
    compose_command: str | None,
    stack_label: str,
    urls: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The top-level fields of reports/verify.json."""
    first = run.first_failure
    versions: dict[str, str] = {}
    for record in run.records.values():
        versions.update(record.versions)
    triage = None
    if first is not None:
        triage = triage_fields(failure_view(first, NextCommands(compose_command, urls)))
    selected = [r.check for r in run.selected]
    return {
        "result": "PASS" if run.passed else "FAIL",
        "result_line": result_line(run),
        "partial": run.partial,
        "selection": {
            "selected": selected,
            "not_selected": [c for c in run.records if c not in selected],
            "of": len(run.records),
        },
        "budget_scale": run.budget_scale,
        "checks": [r.as_metadata() for r in block_order(run)],
        "verify_code": run.verify_code,
        "failing_check": first.check if first else None,
        "failure": first.message if first else None,
        "triage": triage,
        "stack": {
            "mode": stack_label,
            "pipeline_mode": run.mode,
            "project": load_contract().project,
            "start_error": run.stack_error,
            "urls": dict(urls or load_contract().endpoints),
        },
        "versions": versions,
        "contract_version": load_contract().version,
    }


def next_commands(config: pytest.Config) -> NextCommands:
    """This run's next commands: the compose invocation only for a compose stack it started
    from a checkout, and the URLs it verified (see ``triage_view.commands_in_use``)."""
    return commands_in_use(config.stash.get(SETTINGS_KEY, None))


def forensics_root(config: pytest.Config) -> Path:
    """``forensics/`` beside the JSON report: one directory per run inside it."""
    report_file = config.option.json_report_file or "reports/verify.json"
    return Path(report_file).parent / "forensics"


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + f"-{os.getpid()}"


def clear_forensics(root: Path) -> None:
    """Evidence belongs to one run: an earlier run's bundle never outlives the next run
    that reports to the same place (runs sharing a report directory run one at a time)."""
    if root.is_dir():
        shutil.rmtree(root, ignore_errors=True)


class Reporter:
    """Registered by ``plugin/wiring.py`` for verify sessions only (not collect-only/help)."""

    def __init__(self, config: pytest.Config):
        self.config = config
        self.run_id = new_run_id()
        self.forensics_files: list[str] | None = None
        self.forensics_dir: Path | None = None

    @property
    def run(self) -> VerifyRun:
        run = verify_run(self.config)
        assert run is not None, "the reporter is only registered for verify sessions"
        return run

    def pytest_sessionstart(self) -> None:
        clear_forensics(forensics_root(self.config))

    @pytest.hookimpl(wrapper=True)
    def pytest_sessionfinish(self) -> Generator[None, None, None]:
        # A wrapper, so the bundle exists before pytest-json-report (tryfirst) writes.
        settings = self.config.stash.get(SETTINGS_KEY, None)
        if not self.run.passed and settings is not None:
            self.forensics_dir = forensics_root(self.config) / self.run_id
            # The verdict never depends on its reports: a bundle that cannot be written is
            # a WARN line (tried first, so no request is sent for a file that cannot be).
            why = write_problem(self.forensics_dir / "probe")
            try:
                if why is None:
                    files = write_bundle(settings, self.forensics_dir, redactor(self.config))
                    self.forensics_files = [str(path) for path in files]
            except OSError as error:
                why = f"{error.filename or self.forensics_dir}: {error.strerror or error}"
            if why is not None:
                note_problem(self.config, f"reports|not written: {self.forensics_dir}/ ({why})")
        return (yield)

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        terminalreporter.write_sep("=", "Shadow-MVS verify")
        no_verdict = self.config.stash.get(NO_VERDICT_KEY, None)
        if no_verdict is not None:  # nothing was checked: no check lines, no RESULT
            for line in no_verdict_lines(no_verdict):
                terminalreporter.write_line(redactor(self.config).text(line))
            return
        commands = next_commands(self.config)
        lines = render(self.run, commands.compose_command, commands.urls)
        settings = self.config.stash.get(SETTINGS_KEY, None)
        if settings is not None:
            lines = settings.access.warnings() + lines
        if self.forensics_files is not None:
            note = f"INFO|forensics={self.forensics_dir}/ ({len(self.forensics_files)} files)"
            lines.insert(-2, note)
        for problem in problems_of(self.config):  # reports that could not be written
            lines.insert(-2, f"WARN|{problem}")
        for line in lines:
            terminalreporter.write_line(redactor(self.config).text(line))

    # optional: pytest-json-report declares it only while it writes a report
    @pytest.hookimpl(optionalhook=True)
    def pytest_json_runtest_metadata(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> dict[str, Any]:
        name = check_name(item)
        return self.run.records[name].as_metadata() if name else {}

    # optional: pytest-json-report declares it only while it writes a report
    @pytest.hookimpl(optionalhook=True)
    def pytest_json_modifyreport(self, json_report: dict[str, Any]) -> None:
        settings = self.config.stash.get(SETTINGS_KEY, None)
        label = settings.stack_label if settings else "unknown"
        commands = next_commands(self.config)
        json_report.update(verdict(self.run, commands.compose_command, label, commands.urls))
        if settings is not None:  # how each endpoint was reached (no secret values)
            json_report["stack"]["access"] = settings.access.summary()
            json_report["stack"]["warnings"] = settings.access.warnings()
        json_report["run_id"] = self.run_id
        no_verdict = self.config.stash.get(NO_VERDICT_KEY, None)
        if no_verdict is not None:
            json_report.update(result="NONE", result_line=None)
            json_report["stack"]["start_error"] = no_verdict
        if self.forensics_files is not None:
            json_report["forensics"] = self.forensics_files
            json_report["forensics_dir"] = str(self.forensics_dir)
        cleaned = redactor(self.config).data(json_report)
        if cleaned is not json_report:  # with no secret in play it is the same dict
            json_report.clear()
            json_report.update(cleaned)
