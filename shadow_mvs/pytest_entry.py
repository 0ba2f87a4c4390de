"""The ``pytest11`` entry point ``shadow_mvs``: registers the suite's plugin module
(``shadow_mvs.plugin``) under its own module name, the name the root conftest of a checkout
uses too, so a checkout with or without an install gets the options and fixtures once.
Importing this module costs nothing: the plugin loads only when pytest configures.

From a checkout, the suite comes from that checkout even when a non-editable install loaded
this module (a bare ``pytest verify/`` puts site-packages first): pytest collects the
checkout's ``verify/``, and checks from one tree must not run on the engine of another (an
older install would lack what the checkout's checks use). ``python -m pytest`` and an
editable install already load the checkout's package; this gives the bare command the same.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

SUITE_PLUGIN = "shadow_mvs.plugin"
PACKAGE = "shadow_mvs"


def _loaded_from() -> Path:
    """The folder holding the ``shadow_mvs`` package this module was imported from."""
    return Path(__file__).resolve().parents[1]


def _load_from_checkout(root: Path) -> None:
    """Put ``root`` first on sys.path and forget the modules loaded from the other copy so
    far (its ``__init__``, which loads nothing else, this module and the contract module), so
    the plugin import that follows finds the checkout's package."""
    sys.path.insert(0, str(root))
    for name in [n for n in sys.modules if n == PACKAGE or n.startswith(f"{PACKAGE}.")]:
        del sys.modules[name]


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    from shadow_mvs.core.contract import is_checkout

    root = early_config.rootpath.resolve()
    if root != _loaded_from() and is_checkout(root):
        _load_from_checkout(root)
    early_config.pluginmanager.import_plugin(SUITE_PLUGIN)
