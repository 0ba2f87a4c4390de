"""Process contract: fatal provisioning exits before listening, SIGTERM exits cleanly,
and the package runs as top-level ``grafana_standin`` with stdlib + PyYAML + Grafana's
file rules (``shadow_mvs.evidence.grafana_rules``, the only part of the suite the offline
container mounts)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.local_prometheus import free_loopback_port

from .conftest import (
    REPO_ROOT,
    Provisioning,
    Standin,
    port_is_closed,
    standin_command,
    standin_env,
)

PACKAGE_DIR = REPO_ROOT / "grafana_standin"
RULES_PACKAGE = "shadow_mvs.evidence.grafana_rules"
RULES_DIR = REPO_ROOT / "shadow_mvs" / "evidence" / "grafana_rules"
TOO_MANY_DEFAULTS = (
    "Datasource provisioning error: datasource.yaml config is invalid. "
    "Only one datasource per organization can be marked as default"
)


def run_to_exit(provisioning_dir: Path) -> tuple[subprocess.CompletedProcess[str], int]:
    port = free_loopback_port()
    finished = subprocess.run(
        standin_command(),
        cwd=REPO_ROOT,
        env=standin_env(provisioning_dir, port, "unused"),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return finished, port


def test_two_defaults_stop_startup_before_listening(provisioning: Provisioning) -> None:
    for name in ("a", "b"):
        provisioning.datasource_file(
            f"{name}.yaml",
            {
                "apiVersion": 1,
                "datasources": [{"name": name, "type": "prometheus", "isDefault": True}],
            },
        )
    finished, port = run_to_exit(provisioning.path)
    assert finished.returncode == 1
    assert TOO_MANY_DEFAULTS in finished.stderr
    assert 'level=error msg="Failed to provision data sources"' in finished.stdout
    assert f'error="{TOO_MANY_DEFAULTS}"' in finished.stdout
    assert "HTTP Server Listen" not in finished.stdout
    assert port_is_closed(port)


def test_yaml_error_stops_startup(provisioning: Provisioning) -> None:
    provisioning.provider_file("dashboards.yaml", "apiVersion: 1\nproviders: [\n")
    finished, _ = run_to_exit(provisioning.path)
    assert finished.returncode == 1
    assert (
        "Failed to create provisioner: Failed to read dashboards config: could not parse "
        "provisioning config file: dashboards.yaml error: yaml: line 3: "
    ) in finished.stderr
    assert 'level=error msg="Failed to provision dashboard"' in finished.stdout


def test_empty_provisioning_still_starts(start_standin, provisioning: Provisioning) -> None:
    standin: Standin = start_standin(provisioning.path)
    assert standin.get("/api/datasources").json() == []
    assert standin.get("/api/search").json() == []


def test_sigterm_exits_cleanly_and_frees_the_port(
    start_standin, provisioning: Provisioning
) -> None:
    standin: Standin = start_standin(provisioning.path)
    assert standin.stop() == 0
    assert 'msg="Shutdown started" reason=SIGTERM' in standin.log_text()
    assert port_is_closed(standin.port)


def _imports(path: Path) -> list[ast.Import | ast.ImportFrom]:
    tree = ast.parse(path.read_text())
    return [node for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)]


def _foreign_imports(module: Path) -> list[str]:
    """What the module imports beyond stdlib, PyYAML, its own package and Grafana's rules."""
    allowed = set(sys.stdlib_module_names) | {"yaml"}
    foreign = []
    for node in _imports(module):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            continue
        names = (
            [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else [a.name for a in node.names]
        )
        for name in names:
            if name.split(".")[0] not in allowed and not name.startswith(RULES_PACKAGE):
                foreign.append(name)
    return foreign


@pytest.mark.parametrize(
    "module",
    sorted([*PACKAGE_DIR.glob("*.py"), *RULES_DIR.glob("*.py")]),
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_only_stdlib_yaml_and_grafana_rules_imports(module: Path) -> None:
    assert _foreign_imports(module) == [], f"{module.name} imports more than the container has"


def test_import_check_sees_a_suite_import(tmp_path: Path) -> None:
    # The check above can fail: anything of the suite beyond Grafana's rules is caught.
    bad = tmp_path / "bad.py"
    bad.write_text("import httpx\nfrom shadow_mvs.core.run import CheckFailed\n")
    assert _foreign_imports(bad) == ["httpx", "shadow_mvs.core.run"]


def test_importable_from_the_repo_root() -> None:
    from grafana_standin import VERSION
    from grafana_standin.app import main

    assert "standin" in VERSION
    assert callable(main)
