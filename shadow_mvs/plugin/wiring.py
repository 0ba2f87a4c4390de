"""pytest wiring of the verify run: check order, a marker per check, selection, the
``shadow_mvs_check`` fixture, blocking, turning each test's outcome into its check record (one line,
no traceback, for expected failures), and the exit code that follows the verdict. The
reporter (shadow_mvs/report/reporter.py) prints and writes what these records hold.

Selection: every check is a marker named after it (``-m targets``), so ``-k``, ``-m``, node
ids, ``--deselect``, ``--lf`` all pick checks. Checks left out are "not selected" (neither
pass nor fail) and the RESULT line says ``(partial: N of M checks selected)``. A selected
check whose upstream was not selected runs anyway (it is not blocked); its record lists the
upstream under ``unselected_upstream``. The exit code always follows RESULT: 0 for PASS,
1 for FAIL (2 only for an interrupted run, 2/4 for usage errors, 3 for internal errors);
with ``--format nagios`` it is Nagios's 0/1/2/3 (shadow_mvs/report/formats.py).

pytest counts checks with its standard outcomes: a red check is ``failed``, a blocked one
``skipped`` ("blocked by …"), in the summary line, pytest-json-report and JUnit alike; the
suite's own status (pass/fail/blocked/not_selected/pending) stays in the check records.

Collection and help (``--collect-only``, ``--help``, ``--markers``, ``--fixtures``,
``--setup-plan``, ``--setup-only``) produce no verdict, no report, no forensics and send no
request.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Generator
from pathlib import Path
from typing import TextIO

import pytest

from shadow_mvs.config.settings import Settings, SettingsError, requested_format
from shadow_mvs.core.contract import CHECKS_DIR, Contract, load_contract
from shadow_mvs.core.run import CheckBlocked, CheckContext, CheckFailed, VerifyRun, describe
from shadow_mvs.report import ci_reports, progress, report_files
from shadow_mvs.report.formats import (
    NAGIOS_SERVICE,
    NAGIOS_UNKNOWN,
    TEXT,
    FormatOutput,
    nagios_code,
    remember_exit_status,
    stopped,
)
from shadow_mvs.report.reporter import Reporter
from shadow_mvs.report.session import RUN_KEY, SETTINGS_KEY, check_name, redactor, verify_run
from shadow_mvs.stack.bringup import StackStartError
from shadow_mvs.stack.compose import EnvironmentProblem, compose_project, require_compose_files


def is_verify_session(config: pytest.Config) -> bool:
    """True when the run collects the verify checks (not the project's own tests)."""
    root = Path(config.rootpath)
    for arg in config.args:
        path = (root / arg.split("::")[0]).resolve()
        if path == CHECKS_DIR or CHECKS_DIR in path.parents:
            return True
    return False


NO_VERDICT_OPTIONS = (
    "help",
    "markers",
    "collectonly",
    "showfixtures",
    "show_fixtures_per_test",
    "setupplan",
    "setuponly",
    "version",
)
EXIT_USAGE = 2  # the same usage-error code as the shadow-mvs CLI
# Set on a check's failed or blocked (skipped) report: the verify block tells it, once.
TOLD_ATTR = "shadow_mvs_told_by_verify_block"


def runs_checks(config: pytest.Config) -> bool:
    """False for sessions that only list or explain (collect-only, help, markers, …)."""
    return not any(getattr(config.option, name, False) for name in NO_VERDICT_OPTIONS)


def register_check_markers(config: pytest.Config) -> None:
    for chk in load_contract().checks:
        config.addinivalue_line(
            "markers", f"{chk.name}: the {chk.name} check ({chk.f_code}); select with -m {chk.name}"
        )


# The real stdout while a machine --format lends sys.stdout to stderr (see pytest_configure).
LENT_STDOUT_KEY = pytest.StashKey[TextIO]()


# Autoloaded plugins that a verify session never uses but pays for. Hypothesis's plugin
# imports all of hypothesis in its pytest_terminal_summary, to look for observability files
# (``from hypothesis.internal.observability import _WROTE_TO`` in
# _hypothesis_pytestplugin.py): about 1 s of CPU at the end of every run of a venv that has
# hypothesis installed for the project's own tests. The checks hold no property tests.
UNUSED_IN_VERIFY = ("hypothesispytest",)


def drop_unused_plugins(config: pytest.Config) -> None:
    for name in UNUSED_IN_VERIFY:
        if config.pluginmanager.get_plugin(name) is not None:
            config.pluginmanager.unregister(name=name)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """For a machine ``--format``, the terminal reporter that pytest's own configure creates
    next (its public constructor takes ``sys.stdout`` as it is then) writes to stderr:
    stdout carries the verdict in that format and nothing else. ``sys.stdout`` is back
    before the session starts."""
    output_format = configure_verify(config)
    if output_format not in (None, TEXT):
        config.stash[LENT_STDOUT_KEY] = sys.stdout
        sys.stdout = sys.stderr


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    stdout = session.config.stash.get(LENT_STDOUT_KEY, None)
    if stdout is not None:
        sys.stdout = stdout


def configure_verify(config: pytest.Config) -> str | None:
    """The verify session's plugins and defaults; its output format (None: no verify run)."""
    register_check_markers(config)
    if not is_verify_session(config):
        return None
    drop_unused_plugins(config)
    if not runs_checks(config):
        return None
    output_format = requested_format(config.getoption("format"))
    try:
        settings = Settings.from_pytest(config)
        if settings.stack == "compose":
            require_compose_files(compose_project(settings))
    except (SettingsError, EnvironmentProblem) as error:
        if output_format == "nagios":  # the one line Nagios shows, and its UNKNOWN code
            print(f"{NAGIOS_SERVICE} UNKNOWN - shadow-mvs: {error}")
        code = NAGIOS_UNKNOWN if output_format == "nagios" else EXIT_USAGE
        pytest.exit(f"shadow-mvs: {error}", returncode=code)
    config.stash[SETTINGS_KEY] = settings
    config.stash[RUN_KEY] = VerifyRun(
        mode=settings.mode,
        budget_scale=settings.budget_scale,
        external=settings.stack == "external",
    )
    config.pluginmanager.register(Reporter(config), "shadow-mvs-reporter")
    asked_json, asked_junit = report_files.asked_for(config)  # before the defaults below
    # The JSON evidence file is on by default for verify runs (pytest-json-report).
    if not config.option.json_report:
        config.option.json_report = True
    if config.option.json_report_file == ".report.json":
        config.option.json_report_file = "reports/verify.json"
    if config.option.json_report_indent is None:
        config.option.json_report_indent = 2
    ci_reports.configure(config)  # reports/junit.xml beside it; GitHub annotation + summary
    try:  # a report that cannot be written never costs the verdict (report_files.py)
        report_files.guard(config, asked_json, asked_junit)
    except report_files.ReportPathError as error:
        pytest.exit(f"shadow-mvs: {error}", returncode=EXIT_USAGE)
    # a line per waiting check while it polls
    progress.install(config, to_stderr=settings.output_format != TEXT)
    # Registered after the CI reports, so its unconfigure reads the finished junit.xml.
    config.pluginmanager.register(FormatOutput(config, settings), "shadow-mvs-format")
    return settings.output_format


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run checks in contract order (upstream links first), not file-name order, and mark
    each with its check's name before -m deselects (this hook runs first)."""
    order = {check.name: index for index, check in enumerate(load_contract().checks)}
    for item in items:
        name = check_name(item)
        if name is not None:
            item.add_marker(name)
    items.sort(key=lambda item: order.get(check_name(item) or "", len(order)))


def pytest_collection_finish(session: pytest.Session) -> None:
    """What survived -k/-m/node ids/--deselect/--lf is what the verdict covers."""
    if is_verify_session(session.config):
        # Everything imported so far lives until exit: move it out of the collector's
        # sight (gc.freeze, stdlib). pytest's unraisable-exception plugin runs five full
        # collections at the end of every session (unraisableexception.py,
        # gc_collect_harder); over a heap of pytest, httpx, requests and the suite they cost
        # ~0.5 s of CPU. Objects the run creates are still collected and still checked.
        gc.freeze()
    run = verify_run(session.config)
    if run is not None:
        run.select({name for item in session.items if (name := check_name(item))})


@pytest.hookimpl(wrapper=True)
def pytest_sessionfinish(session: pytest.Session) -> Generator[None, None, None]:
    """The exit code follows the verdict: 0 for RESULT=PASS, 1 for RESULT=FAIL. A wrapper,
    so pytest-json-report (tryfirst) already records the forced code."""
    run = verify_run(session.config)
    status = session.exitstatus
    keep = status in (pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.INTERNAL_ERROR, EXIT_USAGE)
    if run is not None:
        remember_exit_status(session.config, status)
    if run is not None and not (keep and not run.passed):
        # (interrupted, a usage error or a bug say more than FAIL: those codes stay)
        session.exitstatus = pytest.ExitCode.OK if run.passed else pytest.ExitCode.TESTS_FAILED
    settings = session.config.stash.get(SETTINGS_KEY, None)
    if run is not None and settings is not None and settings.output_format == "nagios":
        # Nagios's own codes for this format (shadow_mvs/report/formats.py)
        session.exitstatus = nagios_code(run, stopped=stopped(status, run))
    return (yield)


def pytest_report_teststatus(report: pytest.TestReport) -> tuple[str, str, str] | None:
    """A red check is pytest's standard ``failed`` in every phase (a check that fails in
    its fixture is no pytest "error"), so the terminal summary line, pytest-json-report's
    ``outcome``/``summary`` and JUnit count it alike. A blocked check is already a standard
    ``skipped`` report (see ``pytest_runtest_makereport``)."""
    if getattr(report, TOLD_ATTR, False) and report.failed:
        return "failed", "F", "FAILED"
    return None


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter,
) -> Generator[None, None, None]:
    """A check's expected failure or block is told once, by the verify block: while pytest
    writes its FAILURES section and short summary (the terminal reporter's own wrapper,
    inside this one), those reports are out of its public ``stats``; they are back before
    the summary line counts them. Internal errors keep their traceback."""
    held: dict[str, list[pytest.TestReport]] = {}
    for category in ("failed", "skipped"):
        reports = terminalreporter.stats.get(category, [])
        held[category] = [r for r in reports if getattr(r, TOLD_ATTR, False)]
        reports[:] = [r for r in reports if not getattr(r, TOLD_ATTR, False)]
    try:
        return (yield)
    finally:
        for category, told in held.items():
            if told:
                terminalreporter.stats.setdefault(category, [])[:0] = told


@pytest.fixture
def shadow_mvs_check(request: pytest.FixtureRequest) -> CheckContext:
    """The calling module's check context; raises CheckBlocked if an upstream check failed."""
    run = verify_run(request.config)
    name = check_name(request.node)
    if run is None or name is None:
        pytest.fail(
            "the `shadow_mvs_check` fixture is for verify/test_*.py modules that define CHECK"
        )
    return run.context(load_contract().check(name))


@pytest.fixture(scope="session")
def shadow_mvs_contract() -> Contract:
    return load_contract()


@pytest.fixture(scope="session")
def shadow_mvs_mode(request: pytest.FixtureRequest) -> str:
    run = verify_run(request.config)
    return run.mode if run else load_contract().stack["default_mode"]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    outcome = yield
    report = outcome.get_result()
    run = verify_run(item.config)
    name = check_name(item)
    if run is not None:
        redact_report(report, item.config)
    if run is None or name is None or call.when == "teardown":
        return
    if call.when == "setup" and call.excinfo is None:
        return
    error = call.excinfo.value if call.excinfo else None
    if isinstance(error, StackStartError):
        error = _stack_error_for(run, name, error)
    record = run.settle(name, error)
    if isinstance(error, CheckBlocked):
        # pytest's own skip report (outcome, and longrepr as pytest.skip makes it), so every
        # report counts a blocked check as skipped; the record keeps status "blocked".
        report.outcome = "skipped"
        where, line, _ = item.location
        report.longrepr = (
            where,
            (line or 0) + 1,
            f"Skipped: {redactor(item.config).text(skip_reason(error))}",
        )
        setattr(report, TOLD_ATTR, True)
    elif isinstance(error, CheckFailed):
        report.longrepr = redactor(item.config).text(f"FAIL|{record.f_code}|{record.message}")
        setattr(report, TOLD_ATTR, True)
    elif error is not None and not isinstance(error, AssertionError | pytest.fail.Exception):
        # An unexpected exception is a bug in the suite: keep its traceback, but make the
        # record say what it was.
        record.message = f"internal error: {describe(error)}"


def skip_reason(blocked: CheckBlocked) -> str:
    """``blocked by F-… (check)…``: what every report says a blocked check skipped for."""
    root = blocked.upstream
    said = f"blocked by {root.f_code} ({root.check})"
    return blocked.message if blocked.message.startswith(said) else f"{said}: {blocked.message}"


def redact_report(report: pytest.TestReport, config: pytest.Config) -> None:
    """What pytest itself reports of a test (traceback, captured output and logs, user
    properties) passes the run's redactor before the terminal, JUnit or JSON sees it. A
    traceback that held a secret becomes its redacted text (no colours, same words)."""
    redact = redactor(config)
    if not redact:
        return
    if report.longrepr is not None:
        text = str(report.longrepr)
        cleaned = redact.text(text)
        if cleaned != text:
            report.longrepr = cleaned
    report.sections = [(title, redact.text(content)) for title, content in report.sections]
    report.user_properties = [(key, redact.data(value)) for key, value in report.user_properties]


def _stack_error_for(run: VerifyRun, name: str, error: StackStartError) -> CheckFailed:
    """The named component fails with the start-up error; every other check is blocked."""
    run.stack_error = error.message
    if name == error.check:
        return CheckFailed(error.message, cause=error.cause, retryable=False)
    failing = run.records[error.check]
    if failing.status == "pending":
        run.settle(error.check, CheckFailed(error.message, cause=error.cause, retryable=False))
    run.records[name].blocked_by = error.check
    return CheckBlocked(failing)
