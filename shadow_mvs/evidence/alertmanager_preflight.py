"""The Alertmanager half of the config preflight: Alertmanager's own tool,
``amtool check-config``, on the config file the compose project mounts (the file named by
the service's ``--config.file``). Its ``FAILED:`` line is the finding's words (amtool
cli/check_config.go prints ``Checking '<file>'  FAILED: <error>``). The stack fixture hands
``alertmanager_findings`` to ``preflight.run_preflight``; without amtool it says so once.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from shadow_mvs.core.causes import Finding
from shadow_mvs.core.contract import REPO_ROOT
from shadow_mvs.evidence.preflight import Mounts, repo_relative

SERVICE = "alertmanager"
CONFIG = "/etc/alertmanager/alertmanager.yml"
AMTOOL_ENV = "AMTOOL"
TOOLS_AMTOOL = REPO_ROOT / ".tools" / "bin" / "amtool"


def amtool_path() -> Path | None:
    named = os.environ.get(AMTOOL_ENV)
    if named:
        return Path(named)
    if TOOLS_AMTOOL.is_file():
        return TOOLS_AMTOOL
    found = shutil.which("amtool")
    return Path(found) if found else None


def _config_flag(mounts: Mounts) -> str:
    for arg in mounts.command(SERVICE):
        if arg.startswith("--config.file="):
            return arg.split("=", 1)[1]
    return CONFIG


def amtool_error(output: str) -> str:
    """amtool's first ``FAILED:`` reason, else its last line."""
    found = re.search(r"FAILED:\s*(.+)", output)
    if found:
        return found.group(1).strip()
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def alertmanager_findings(mounts: Mounts) -> list[Finding]:
    if SERVICE not in mounts.services:
        return []
    config = mounts.host_path(SERVICE, _config_flag(mounts))
    if config is None or not config.is_file():
        return []
    amtool = amtool_path()
    if amtool is None:
        return [Finding(None, "amtool not found: run scripts/bootstrap.sh")]
    result = subprocess.run(
        [str(amtool), "check-config", str(config)],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    if result.returncode == 0:
        return []
    facts = {"file": repo_relative(config), "error": amtool_error(result.stdout + result.stderr)}
    rejected = "alertmanager_config_rejected"
    return [Finding("alerting", "amtool check-config", cause=rejected, facts=facts)]


alertmanager_findings.covers = ("alerting",)  # type: ignore[attr-defined]
