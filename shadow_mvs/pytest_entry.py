"""The ``pytest11`` entry point ``shadow_mvs``: registers the suite's plugin module
(``shadow_mvs.plugin``) under its own module name, the name the root conftest of a checkout
uses too, so a checkout with or without an install gets the options and fixtures once.
Importing this module costs nothing: the plugin loads only when pytest configures.
"""

from __future__ import annotations

import pytest

SUITE_PLUGIN = "shadow_mvs.plugin"


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    early_config.pluginmanager.import_plugin(SUITE_PLUGIN)
