"""Root wiring: the verify options and the plugins that hold fixtures and the reporter."""

import pytest

from verify.settings import add_options

pytest_plugins = ["fixtures.stack", "fixtures.clients", "verify.plugin"]


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)
