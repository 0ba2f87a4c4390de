"""Everything the suite adds to pytest: the operator options, the stack and client fixtures,
the verify wiring and its reporters. Registered under this module's name by the installed
entry point (``shadow_mvs``) or, in a checkout without an install, by the root conftest;
pytest skips a module name it already has, so both paths coexist. Only verify sessions
(``pytest verify/``) get verify behaviour; see ``verify.plugin.is_verify_session``."""

from __future__ import annotations

import pytest

from . import suite_version
from .contract import PACKAGE_DIR
from .session import verify_run
from .settings import add_options

pytest_plugins = ["fixtures.stack", "fixtures.clients", "verify.plugin"]


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_report_header(config: pytest.Config) -> str | None:
    if verify_run(config) is None:
        return None
    return f"shadow-mvs {suite_version()} (suite at {PACKAGE_DIR})"
