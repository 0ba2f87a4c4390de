"""Where a verify session keeps its state on the pytest config (shared by plugin and reporter)."""

from __future__ import annotations

import pytest

from shadow_mvs.config.redaction import NOTHING, Redactor
from shadow_mvs.config.settings import Settings
from shadow_mvs.core.run import VerifyRun

RUN_KEY = pytest.StashKey[VerifyRun]()
SETTINGS_KEY = pytest.StashKey[Settings]()
REDACTOR_KEY = pytest.StashKey[Redactor]()


def redactor(config: pytest.Config) -> Redactor:
    """The run's one redactor (built once from its settings): every line and file the
    session writes passes it — terminal, verify.json, junit.xml, GitHub, forensics, the
    captured output and tracebacks pytest reports."""
    found = config.stash.get(REDACTOR_KEY, None)
    if found is None:
        settings = config.stash.get(SETTINGS_KEY, None)
        found = settings.redactor() if settings is not None else NOTHING
        if settings is not None:
            config.stash[REDACTOR_KEY] = found
    return found


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
