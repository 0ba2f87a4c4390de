"""pytest wiring of the verify run: check order, the ``check`` fixture, blocking, and
turning each test's outcome into its check record (one line, no traceback, for expected
failures). The reporter (verify/reporter.py) prints and writes what these records hold.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

import pytest

from . import ci_reports, progress
from .bringup import StackStartError
from .contract import PACKAGE_DIR, Contract, load_contract
from .reporter import Reporter
from .run import CheckBlocked, CheckContext, CheckFailed, VerifyRun, describe
from .session import RUN_KEY, SETTINGS_KEY, check_name, verify_run
from .settings import Settings, SettingsError


def is_verify_session(config: pytest.Config) -> bool:
    """True when the run collects the verify checks (not the project's own tests)."""
    root = Path(config.rootpath)
    for arg in config.args:
        path = (root / arg.split("::")[0]).resolve()
        if path == PACKAGE_DIR or PACKAGE_DIR in path.parents:
            return True
    return False


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if not is_verify_session(config):
        return
    try:
        settings = Settings.from_pytest(config)
    except SettingsError as error:
        raise pytest.UsageError(str(error)) from None
    config.stash[SETTINGS_KEY] = settings
    config.stash[RUN_KEY] = VerifyRun(mode=settings.mode)
    config.pluginmanager.register(Reporter(config), "shadow-mvs-reporter")
    # The JSON evidence file is on by default for verify runs (pytest-json-report).
    if not config.option.json_report:
        config.option.json_report = True
    if config.option.json_report_file == ".report.json":
        config.option.json_report_file = "reports/verify.json"
    if config.option.json_report_indent is None:
        config.option.json_report_indent = 2
    ci_reports.configure(config)  # reports/junit.xml beside it; GitHub annotation + summary
    progress.install(config)  # a line per waiting check while it polls


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run checks in contract order (upstream links first), not file-name order."""
    order = {check.name: index for index, check in enumerate(load_contract().checks)}
    items.sort(key=lambda item: order.get(check_name(item) or "", len(order)))


@pytest.fixture
def check(request: pytest.FixtureRequest) -> CheckContext:
    """The calling module's check context; raises CheckBlocked if an upstream check failed."""
    run = verify_run(request.config)
    name = check_name(request.node)
    if run is None or name is None:
        pytest.fail("the `check` fixture is for verify/test_*.py modules that define CHECK")
    return run.context(load_contract().check(name))


@pytest.fixture(scope="session")
def contract() -> Contract:
    return load_contract()


@pytest.fixture(scope="session")
def mode(request: pytest.FixtureRequest) -> str:
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
    if run is None or name is None or call.when == "teardown":
        return
    if call.when == "setup" and call.excinfo is None:
        return
    error = call.excinfo.value if call.excinfo else None
    if isinstance(error, StackStartError):
        error = _stack_error_for(run, name, error)
    record = run.settle(name, error)
    if isinstance(error, CheckFailed):
        report.longrepr = f"FAIL|{record.f_code}|{record.message}"
    elif error is not None and not isinstance(error, AssertionError | pytest.fail.Exception):
        # An unexpected exception is a bug in the suite: keep its traceback, but make the
        # record say what it was.
        record.message = f"internal error: {describe(error)}"


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
