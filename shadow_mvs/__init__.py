"""The Shadow-MVS verify suite as a pytest plugin: the ``pytest11`` entry point ``shadow_mvs``.

Installed (editable or not), pytest loads this module first. It deliberately lives outside
the ``verify`` package and imports none of it at import time: from a checkout, pytest
imports the checkout's ``verify/`` test modules, so the suite must come from the checkout
too, or the installed copy and the checkout's files would clash ("import file mismatch").
Once pytest knows its rootdir, a checkout there goes first on ``sys.path`` (as
``python -m pytest`` and pytest's own rootdir conftest handling do anyway) and the suite's
plugin module ``verify.pytest_plugin`` is registered under its module name — the same name
the root conftest uses, so a checkout without an install works and nothing registers twice.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

SUITE_PLUGIN = "verify.pytest_plugin"


def is_checkout(path: Path) -> bool:
    """A source tree of this project (not the installed package directory)."""
    return (path / "verify" / "contract.toml").is_file() and (path / "compose").is_dir()


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    root = early_config.rootpath
    if is_checkout(root) and str(root) not in sys.path:
        sys.path.insert(0, str(root))
    early_config.pluginmanager.import_plugin(SUITE_PLUGIN)
