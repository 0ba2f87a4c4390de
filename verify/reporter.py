"""The verify reporter: operator lines on the terminal and the JSON evidence file.

Terminal, in order: one PASS/FAIL line per check, INFO retry counts, EVIDENCE lines, the
TRIAGE block of the first red check, RESULT=PASS|FAIL, the pointer to the contract. The
same facts go into reports/verify.json (pytest-json-report) at the top level and per test.
Secrets never leave: the Grafana password is scrubbed from everything written.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from .compose import grafana_credentials
from .contract import load_contract
from .forensics import redact, write_bundle
from .run import CheckRecord, VerifyRun
from .session import SETTINGS_KEY, check_name, verify_run
from .settings import Settings
from .triage import Node

EVIDENCE_ORDER = ("exporter", "prometheus", "grafana", "dashboard_uid")


def check_line(record: CheckRecord) -> str:
    if record.status == "pass":
        return f"PASS|{record.check}|{record.message or 'ok'}"
    if record.status == "pending":
        return f"SKIP|{record.check}|not run"
    return f"FAIL|{record.f_code}|{record.message}"


def triage_lines(node: Node, compose_command: str, cause: str | None = None) -> list[str]:
    """The cause's sentence first (what is wrong), then the node (where to look, what next)."""
    lines = [f"TRIAGE|{node.id}|cause: {cause}"] if cause else []
    lines += [
        f"TRIAGE|{node.id}|{node.title}",
        f"TRIAGE|{node.id}|symptom: {node.symptom}",
        f"TRIAGE|{node.id}|likely cause: {node.likely_cause}",
    ]
    lines += [f"TRIAGE|{node.id}|next: {cmd}" for cmd in node.commands(compose_command)]
    return lines


def render(run: VerifyRun, compose_command: str) -> list[str]:
    records = list(run.records.values())
    lines = [check_line(r) for r in records]
    lines += [f"WARN|{warning}" for warning in run.warnings()]  # preflight, broke nothing
    lines += [f"INFO|{r.check}_retry={max(r.attempts - 1, 0)}" for r in records if r.attempts]
    evidence: dict[str, str] = {}
    for record in records:
        evidence.update(record.evidence)
    known = [key for key in EVIDENCE_ORDER if key in evidence]
    extra = [key for key in evidence if key not in EVIDENCE_ORDER]
    lines += [f"EVIDENCE|{key}={evidence[key]}" for key in known + extra]
    lines += [f"WARN|{r.check}|{text}" for r in records for text in r.warnings]
    first = run.first_failure
    if first is not None:
        lines += triage_lines(first.node, compose_command, first.cause_sentence)
    lines.append(f"INFO|verify_code={run.verify_code}")
    lines.append(f"RESULT={'PASS' if run.passed else 'FAIL'}")
    lines.append(f"INFO|See Contract: {load_contract().raw['docs']}")
    return lines


def verdict(run: VerifyRun, compose_command: str, stack_label: str) -> dict[str, Any]:
    """The top-level fields of reports/verify.json."""
    first = run.first_failure
    versions: dict[str, str] = {}
    for record in run.records.values():
        versions.update(record.versions)
    triage = None
    if first is not None:
        node = first.node
        triage = {
            "cause": first.cause,
            "cause_sentence": first.cause_sentence,
            "node": node.id,
            "title": node.title,
            "symptom": node.symptom,
            "likely_cause": node.likely_cause,
            "next_commands": node.commands(compose_command),
        }
    return {
        "result": "PASS" if run.passed else "FAIL",
        "verify_code": run.verify_code,
        "failing_check": first.check if first else None,
        "failure": first.message if first else None,
        "triage": triage,
        "stack": {
            "mode": stack_label,
            "pipeline_mode": run.mode,
            "project": load_contract().project,
            "start_error": run.stack_error,
        },
        "versions": versions,
        "contract_version": load_contract().version,
    }


def scrub(value: Any, secrets: list[str]) -> Any:
    """Replace every secret in a JSON-able structure (keys and values)."""
    if not secrets:
        return value
    # Secrets are matched as they appear inside JSON strings (quotes, backslashes escaped).
    escaped = [json.dumps(secret)[1:-1] for secret in secrets]
    return json.loads(redact(json.dumps(value, default=str), escaped))


def secrets_in_play(config: pytest.Config) -> list[str]:
    """Every secret of this run (passwords, tokens, secret headers): the one list that the
    terminal, verify.json, JUnit and forensics are scrubbed of."""
    settings = config.stash.get(SETTINGS_KEY, None)
    found = []
    if settings is not None:
        credentials = grafana_credentials(settings.compose.env_file)
        if credentials and credentials[1]:
            found.append(credentials[1])
        found += settings.access.secrets()
    auth = os.environ.get(load_contract().grafana["credentials_env"], "")
    if ":" in auth:
        found.append(auth.partition(":")[2])
    return [s for s in found if len(s) >= 4]  # never "redact" trivial strings like "a"


def _compose_command(config: pytest.Config) -> str:
    settings = config.stash.get(SETTINGS_KEY, None)
    if settings is None:
        return "docker compose -p " + load_contract().project
    return settings.compose.base_command(relative=True)


def forensics_dir(config: pytest.Config) -> Path:
    report_file = config.option.json_report_file or "reports/verify.json"
    return Path(report_file).parent / "forensics"


class Reporter:
    """Registered by verify/plugin.py for verify sessions only."""

    def __init__(self, config: pytest.Config):
        self.config = config
        self.forensics_note: str | None = None

    @property
    def run(self) -> VerifyRun:
        run = verify_run(self.config)
        assert run is not None, "the reporter is only registered for verify sessions"
        return run

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        terminalreporter.write_sep("=", "Shadow-MVS verify")
        secrets = secrets_in_play(self.config)
        lines = render(self.run, _compose_command(self.config))
        settings = self.config.stash.get(SETTINGS_KEY, None)
        if settings is not None:
            lines = settings.access.warnings() + lines
        if self.forensics_note:
            lines.insert(-2, self.forensics_note)
        for line in lines:
            terminalreporter.write_line(redact(line, secrets))

    def pytest_json_runtest_metadata(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> dict[str, Any]:
        name = check_name(item)
        return self.run.records[name].as_metadata() if name else {}

    def _forensics(self, settings: Settings, secrets: list[str]) -> list[str]:
        out_dir = forensics_dir(self.config)
        files = write_bundle(settings, out_dir, secrets)
        self.forensics_note = f"INFO|forensics={out_dir}/ ({len(files)} files)"
        return [str(path) for path in files]

    def pytest_json_modifyreport(self, json_report: dict[str, Any]) -> None:
        settings = self.config.stash.get(SETTINGS_KEY, None)
        label = settings.stack_label if settings else "unknown"
        json_report.update(verdict(self.run, _compose_command(self.config), label))
        if settings is not None:  # how each endpoint was reached (no secret values)
            json_report["stack"]["access"] = settings.access.summary()
            json_report["stack"]["warnings"] = settings.access.warnings()
        secrets = secrets_in_play(self.config)
        if not self.run.passed and settings is not None:
            json_report["forensics"] = self._forensics(settings, secrets)
        if secrets:
            cleaned = scrub(json_report, secrets)
            json_report.clear()
            json_report.update(cleaned)
