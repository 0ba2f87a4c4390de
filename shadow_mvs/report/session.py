"""Where a verify session keeps its state on the pytest config (shared by plugin and reporter)."""

from __future__ import annotations

import pytest

from shadow_mvs.config.settings import Settings
from shadow_mvs.core.run import VerifyRun

RUN_KEY = pytest.StashKey[VerifyRun]()
SETTINGS_KEY = pytest.StashKey[Settings]()
# Why the stack could not start for a reason of the machine (an image that cannot be
# pulled): the session ends with exit 2 and no verdict (plugin/stack.py sets it).
NO_VERDICT_KEY = pytest.StashKey[str]()


def verify_run(config: pytest.Config) -> VerifyRun | None:
    return config.stash.get(RUN_KEY, None)


def check_name(item: pytest.Item) -> str | None:
    """A verify test belongs to the check its module names in ``CHECK``."""
    module = getattr(item, "module", None)
    name = getattr(module, "CHECK", None)
    return name if isinstance(name, str) else None
