"""What CI systems read first, written on every verify run beside reports/verify.json.

* ``reports/junit.xml`` — pytest's own junitxml, on by default for verify sessions. Each
  check is one testcase named ``<check> (<F-code>)``; a red check's ``<failure>`` message is
  its FAIL line, a check blocked by an upstream failure is ``<skipped type="blocked">`` (not
  an error), and the record (status, attempts, elapsed/budget, last error, evidence,
  versions) rides along as ``<properties>``. junitxml writes the file; the shaping is a
  rewrite of it once written (shadow_mvs/report/junit_file.py), through public API only.
* In GitHub Actions (``GITHUB_ACTIONS=true``): one ``::error`` workflow command for the root
  failure (title: F-code and G-node; body: the failure, the likely cause and the first next
  command) and a Markdown summary appended to ``$GITHUB_STEP_SUMMARY``.

Every byte written here goes through the run's one redactor, like the terminal and the JSON:
junit.xml's texts and attributes are redacted as parsed (unescaped) values, then the file's
raw text once more (a secret in an XML-escaped spelling, or in a file that did not parse).
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from shadow_mvs import suite_version
from shadow_mvs.config.redaction import Redactor
from shadow_mvs.core.contract import load_contract
from shadow_mvs.core.run import CheckRecord, VerifyRun
from shadow_mvs.report.junit_file import CHECK_PROPERTY, XML_DECLARATION, CaseShape, rewrite
from shadow_mvs.report.markdown import cell
from shadow_mvs.report.report_files import note_problem
from shadow_mvs.report.reporter import check_line, next_commands
from shadow_mvs.report.session import SETTINGS_KEY, check_name, redactor, verify_run
from shadow_mvs.report.triage_view import NextCommands, failure_view

JUNIT_FILE = "junit.xml"
SUITE_NAME = "shadow-mvs-verify"


def configure(config: pytest.Config) -> None:
    """Called from the verify plugin's ``pytest_configure`` (tryfirst), before junitxml's own
    configure reads ``xmlpath``: JUnit goes beside the JSON report unless the user chose."""
    if not config.option.xmlpath:
        report_file = config.option.json_report_file or "reports/verify.json"
        config.option.xmlpath = str(Path(report_file).parent / JUNIT_FILE)
    config.pluginmanager.register(CiReports(config), "shadow-mvs-ci-reports")


# --- GitHub workflow commands -------------------------------------------------------------


def escape_data(text: str) -> str:
    """A workflow command's message: %, CR and LF are escaped (GitHub's toolkit rules)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value: additionally ':' and ','."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def root_failure(run: VerifyRun) -> CheckRecord | None:
    return run.first_failure


def annotation(
    run: VerifyRun, compose_command: str | None, urls: Mapping[str, str] | None = None
) -> str | None:
    """The ``::error`` line for the root failure, or None when the run passed."""
    if run.passed:
        return None
    first = root_failure(run)
    if first is None:
        pending = [r.check for r in run.records.values() if r.status == "pending"]
        title = run.verify_code
        body = f"verify incomplete: not run: {', '.join(pending) or 'none'}"
    else:
        view = failure_view(first, NextCommands(compose_command, urls))
        title = f"{first.f_code} {view.id}"
        body = f"{first.check}: {first.message} — likely cause: {view.likely_cause}"
        if view.next_commands:
            body += f" — next: {view.next_commands[0]}"
    return f"::error title={escape_property(title)}::{escape_data(body)}"


# --- Markdown step summary ----------------------------------------------------------------

STATUS_WORD = {
    "pass": "✅ pass",
    "fail": "❌ FAIL",
    "blocked": "⏸ blocked",
    "pending": "— not run",
    "not_selected": "— not selected",
}


def _cell(text: str) -> str:
    """One line in a table cell (a message or evidence value may span lines)."""
    return cell(" ".join(text.split())) or " "


def step_summary(
    run: VerifyRun,
    compose_command: str | None,
    stack_label: str,
    urls: Mapping[str, str] | None = None,
) -> str:
    result = "PASS" if run.passed else "FAIL"
    lines = [
        f"## Shadow-MVS verify: {result} (`{run.verify_code}`)",
        "",
        f"Stack `{stack_label}`, pipeline mode `{run.mode}`, contract {load_contract().version}.",
        "",
        "| check | F-code | result | attempts | elapsed / budget | detail |",
        "|---|---|---|---|---|---|",
    ]
    for r in run.records.values():
        lines.append(
            f"| {r.check} | {r.f_code} | {STATUS_WORD[r.status]} | {r.attempts} "
            f"| {r.elapsed_s:.1f} s / {r.budget_s:g} s | {_cell(r.message)} |"
        )
    evidence: dict[str, str] = {}
    for r in run.records.values():
        evidence.update(r.evidence)
    if evidence:
        lines += ["", "### Evidence", ""]
        lines += [f"- **{key}**: {_cell(value)}" for key, value in evidence.items()]
    first = root_failure(run)
    if first is not None:
        view = failure_view(first, NextCommands(compose_command, urls))
        lines += [
            "",
            f"### Triage {view.id}: {view.title}",
            "",
            f"`{check_line(first)}`",
            "",
            f"- **symptom**: {view.symptom}",
            f"- **likely cause**: {view.likely_cause}",
            "",
            "Next commands:",
            "",
            "```bash",
            *view.next_commands,
            "```",
        ]
    lines += [
        "",
        "Artifact `shadow-mvs-verify-reports`: `verify.json`, `junit.xml`"
        + (", `forensics/`" if not run.passed else "")
        + ".",
        "",
    ]
    return "\n".join(lines)


# --- JUnit --------------------------------------------------------------------------------


def testcase_name(record: CheckRecord) -> str:
    return f"{record.check} ({record.f_code})"


def record_properties(record: CheckRecord) -> list[tuple[str, str]]:
    props = [
        ("check", record.check),
        ("f_code", record.f_code),
        ("status", record.status),
        ("attempts", str(record.attempts)),
        ("elapsed_s", f"{record.elapsed_s:g}"),
        ("budget_s", f"{record.budget_s:g}"),
    ]
    if record.status in ("fail", "blocked"):
        props.append(("g_node", record.node.id))
    if record.blocked_by:
        props.append(("blocked_by", record.blocked_by))
    if record.last_error:
        props.append(("last_error", record.last_error))
    props += [(f"evidence.{k}", v) for k, v in record.evidence.items()]
    props += [(f"info.{k}", v) for k, v in record.info.items()]
    props += [(f"version.{k}", v) for k, v in record.versions.items()]
    return props


def verdict_element(record: CheckRecord, detail: str) -> ET.Element | None:
    """The child that says how the check ended (None for a PASS)."""
    if record.status == "blocked":
        node = ET.Element("skipped", type="blocked", message=f"BLOCKED|{record.message}")
        node.text = record.message
        return node
    if record.status == "fail":
        internal = record.message.startswith("internal error")
        node = ET.Element("error" if internal else "failure", message=check_line(record))
        node.text = detail
        return node
    return None


def redact_xml_file(path: Path, redactor: Redactor) -> None:
    """Every text, tail and attribute as ElementTree reads it (unescaped), then the raw
    file text (escaped spellings; a file that does not parse)."""
    if not redactor:
        return
    try:
        root: ET.Element | None = ET.parse(path).getroot()
    except ET.ParseError:
        root = None
    if root is not None:
        for element in root.iter():
            element.text = redactor.text(element.text) if element.text else element.text
            element.tail = redactor.text(element.tail) if element.tail else element.tail
            for key, value in list(element.attrib.items()):
                element.set(key, redactor.text(value))
        path.write_text(XML_DECLARATION + ET.tostring(root, encoding="unicode"), encoding="utf-8")
    path.write_text(redactor.text(path.read_text(encoding="utf-8")), encoding="utf-8")


class CiReports:
    """JUnit shaping, GitHub annotation and step summary for one verify session."""

    def __init__(self, config: pytest.Config):
        self.config = config
        self.checks: dict[str, str] = {}  # nodeid -> check name
        self.cases: dict[str, CaseShape] = {}  # check -> its testcase, as the check ended
        self.teardown_errors: set[str] = set()  # checks whose testcase ends in one
        self.call_failed: set[str] = set()
        self.finished = False
        self.junit = self.junit_path()  # resolved now, as junitxml resolves it

    @property
    def run(self) -> VerifyRun:
        run = verify_run(self.config)
        assert run is not None, "registered for verify sessions only"
        return run

    def junit_path(self) -> Path | None:
        """The file junitxml writes in this session (None when it writes none)."""
        if not self.config.pluginmanager.has_plugin("junitxml"):
            return None
        xmlpath = self.config.getoption("xmlpath", None)
        return Path(os.path.expandvars(xmlpath)).expanduser().absolute() if xmlpath else None

    def stack_label(self) -> str:
        settings = self.config.stash.get(SETTINGS_KEY, None)
        return settings.stack_label if settings else "unknown"

    # optional: pytest-json-report declares it only while it writes a report
    @pytest.hookimpl(optionalhook=True)
    def pytest_json_modifyreport(self, json_report: dict[str, Any]) -> None:
        """verify.json says which suite wrote it (the installed distribution's version). The
        ``check`` user property is JUnit's marker; verify.json has the record already."""
        json_report["suite_version"] = suite_version()
        for test in json_report.get("tests", []):
            name = self.checks.get(test.get("nodeid", ""))
            if name is None or "user_properties" not in test:
                continue
            kept = [p for p in test["user_properties"] if p != {CHECK_PROPERTY: name}]
            if kept:
                test["user_properties"] = kept
            else:
                del test["user_properties"]

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:
            name = check_name(item)
            if name is not None:
                self.checks[item.nodeid] = name
                item.user_properties.append((CHECK_PROPERTY, name))  # finds its testcase

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Take the testcase's shape when the check ends (a failed setup, or the call), from
        the record the verify plugin just settled."""
        name = self.checks.get(report.nodeid)
        if name is None:
            return
        if report.when == "teardown":
            if report.failed and name not in self.call_failed:
                self.teardown_errors.add(name)  # junitxml adds it to the same testcase
            return
        if report.when == "setup" and report.passed:
            return
        if report.when == "call" and report.failed:
            self.call_failed.add(name)
        record = self.run.records[name]
        self.cases[name] = CaseShape(
            name=testcase_name(record),
            verdict=verdict_element(record, str(report.longrepr or "")),
            properties=record_properties(record),
        )

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.finished = True  # junitxml writes this session's file in this hook
        summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
        if _in_github_actions() and summary_file:
            commands = next_commands(self.config)
            text = step_summary(
                self.run, commands.compose_command, self.stack_label(), commands.urls
            )
            try:
                with open(summary_file, "a", encoding="utf-8") as fh:
                    fh.write(redactor(self.config).text(text) + "\n")
            except OSError as error:  # the verdict never depends on its reports
                why = error.strerror or str(error)
                note_problem(self.config, f"reports|not written: {summary_file} ({why})")

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not _in_github_actions():
            return
        commands = next_commands(self.config)
        line = annotation(self.run, commands.compose_command, commands.urls)
        if line is not None:
            terminalreporter.write_line(redactor(self.config).text(line))

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        """junitxml wrote the file in its sessionfinish: shape it, and scrub it like every
        other report."""
        path = self.junit
        # No xmlpath: junitxml wrote nothing (none asked, or report_files turned it off).
        if not self.finished or path is None or not config.option.xmlpath or not path.is_file():
            return
        run = self.run
        try:
            rewrite(
                path,
                SUITE_NAME,
                [
                    ("result", "PASS" if run.passed else "FAIL"),
                    ("verify_code", run.verify_code),
                    ("stack", self.stack_label()),
                    ("contract_version", load_contract().version),
                ],
                self.cases,
                self.teardown_errors,
            )
        finally:
            redact_xml_file(path, redactor(config))


def _in_github_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS", "").lower() == "true"
