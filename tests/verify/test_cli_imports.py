"""The ``shadow-mvs`` parent process imports only what its path uses.

``shadow-mvs verify`` parses flags, validates the settings and spawns ``pytest verify/``,
which imports the HTTP clients, pytest and the reporters itself. Imported by the parent too,
they cost ~0.3 s of CPU per run (once per ``--env`` fan-out as well) and send nothing. A
fresh interpreter shows what the path really imports (this process has them all loaded).
"""

from __future__ import annotations

import json
import subprocess
import sys

from shadow_mvs.core.contract import REPO_ROOT

# What the checks and the reporters need, never the parent.
CHECK_SIDE = (
    "pytest",
    "_pytest",
    "httpx",
    "requests",
    "urllib3",
    "prometheus_api_client",
    "prometheus_client",
    "yaml",
)

PROBE = """
import json, sys
from shadow_mvs.cli import build_parser, pytest_command
from shadow_mvs.config.settings import Settings

args = build_parser().parse_args(sys.argv[1:])
Settings.from_values(vars(args), verifying=True)  # what cmd_verify validates before pytest
command = pytest_command(args)
print(json.dumps({"command": command, "modules": sorted(sys.modules)}))
"""


def parent_modules(*argv: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["command"][1:4] == ["-m", "pytest", "verify"], answer["command"]
    return {name.split(".")[0] for name in answer["modules"]}


def test_verify_parent_imports_no_http_client_and_no_pytest() -> None:
    loaded = parent_modules("verify", "--stack=external", "--format=json")
    assert not loaded & set(CHECK_SIDE), sorted(loaded & set(CHECK_SIDE))


def test_the_probe_sees_a_check_side_import() -> None:
    """The same probe names what the checks' side imports (so the test above can fail)."""
    probe = PROBE.replace("import json, sys", "import json, sys\nimport shadow_mvs.plugin.clients")
    result = subprocess.run(
        [sys.executable, "-c", probe, "verify"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    loaded = {n.split(".")[0] for n in json.loads(result.stdout)["modules"]}
    assert {"pytest", "httpx", "requests", "prometheus_api_client"} <= loaded


def test_the_engine_forked_sessions_share_leaves_plugin_and_checks_to_pytest() -> None:
    """``verify --env a --env b`` imports ``many.ENGINE`` once before forking a session per
    environment; the plugin's modules and the checks stay out of it, so each session's
    pytest imports them and rewrites their asserts (no "already imported" warning)."""
    probe = (
        "import json, sys\n"
        "from shadow_mvs.many import load_engine\n"
        "load_engine()\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stdout))
    assert {"pytest", "httpx", "requests", "prometheus_api_client"} <= loaded
    assert "shadow_mvs.evidence.panels" in loaded
    rewritten_by_pytest = [
        name for name in loaded if name.startswith(("shadow_mvs.plugin", "verify", "conftest"))
    ]
    assert rewritten_by_pytest == []


def test_an_imported_shadow_mvs_marked_for_rewrite_warns_nothing(tmp_path) -> None:
    """Installed from a wheel, the distribution's pytest11 entry point makes pytest mark the
    whole ``shadow_mvs`` package for assert rewriting; in a session forked from the CLI
    the package is already imported. Its ``__init__`` opts out with pytest's documented
    ``PYTEST_DONT_REWRITE`` docstring marker, so no session warns "already imported"
    (``register_assert_rewrite`` marks a name the same way)."""
    (tmp_path / "conftest.py").write_text(
        "import pytest\npytest.register_assert_rewrite('shadow_mvs')\n"
    )
    (tmp_path / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    probe = (
        "import sys, pytest, shadow_mvs\n"
        "sys.exit(pytest.main([sys.argv[1], '-q', '-p', 'no:cacheprovider', '-W', "
        "'error::pytest.PytestAssertRewriteWarning']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PytestAssertRewriteWarning" not in result.stdout + result.stderr
