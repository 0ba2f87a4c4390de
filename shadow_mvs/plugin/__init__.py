"""Everything the suite adds to pytest: the operator options, the stack and client fixtures,
the verify wiring and its reporters. Registered under this module's name by the installed
entry point (``shadow_mvs``) or, in a checkout without an install, by the root conftest;
pytest skips a module name it already has, so both paths coexist. Only verify sessions
(``pytest verify/``) get verify behaviour; see ``shadow_mvs.plugin.wiring.is_verify_session``."""

from __future__ import annotations

import pytest

from shadow_mvs import suite_version
from shadow_mvs.config.settings import add_options
from shadow_mvs.core.contract import PACKAGE_DIR
from shadow_mvs.report.session import verify_run

pytest_plugins = [
    "shadow_mvs.plugin.stack",
    "shadow_mvs.plugin.clients",
    "shadow_mvs.plugin.wiring",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_report_header(config: pytest.Config) -> str | None:
    if verify_run(config) is None:
        return None
    return f"shadow-mvs {suite_version()} (suite at {PACKAGE_DIR})"
