"""The suite is a pytest11 plugin: declared in the package metadata, registered once whether
the entry point, the root conftest or both name it, and versioned (`shadow-mvs --version`).
The non-editable install is exercised for real in tests/integration/test_installed_plugin.py.
"""

import ast
import os
import shutil
import subprocess
import sys
from importlib.metadata import entry_points

from shadow_mvs import cli, suite_version
from shadow_mvs.core import contract
from shadow_mvs.core.contract import CHECKS_DIR, PACKAGE_DIR, REPO_ROOT, is_checkout, load_contract

COLLECT = ["-m", "pytest", "verify/", "--collect-only", "-q", "--trace-config", "--stack=external"]


def collect(*extra):
    return subprocess.run(
        [sys.executable, *COLLECT, *extra],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def registrations(output: str, module: str) -> int:
    return sum(
        1
        for line in output.splitlines()
        if line.startswith(f"PLUGIN registered: <module '{module}'")
    )


def test_entry_point_is_declared():
    ours = [ep for ep in entry_points(group="pytest11") if ep.name == "shadow_mvs"]
    assert [ep.value for ep in ours] == ["shadow_mvs.pytest_entry"]


def test_entry_point_and_conftest_register_the_suite_once():
    result = collect()
    assert result.returncode == 0, result.stdout + result.stderr
    assert registrations(result.stdout, "shadow_mvs.pytest_entry") == 1
    assert registrations(result.stdout, "shadow_mvs.plugin") == 1
    assert f"{len(load_contract().checks)} tests collected" in result.stdout


def test_conftest_alone_still_wires_the_suite():
    # Entry point off (e.g. plugin autoload disabled): the root conftest names the module.
    result = collect("-p", "no:shadow_mvs")
    assert result.returncode == 0, result.stdout + result.stderr
    assert registrations(result.stdout, "shadow_mvs.pytest_entry") == 0
    assert registrations(result.stdout, "shadow_mvs.plugin") == 1


def test_an_install_elsewhere_hands_a_checkout_its_own_suite(tmp_path):
    # A non-editable install: the package in another folder, first on the path, its entry
    # point loaded first; pytest started without the checkout on sys.path (-P), like the
    # `pytest` script. The checkout's verify/ must still run on the checkout's package.
    site = tmp_path / "site-packages"
    shutil.copytree(PACKAGE_DIR, site / "shadow_mvs", ignore=shutil.ignore_patterns("__pycache__"))
    result = subprocess.run(
        [sys.executable, "-P", *COLLECT],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    installed_entry = site / "shadow_mvs" / "pytest_entry.py"
    assert f"<module 'shadow_mvs.pytest_entry' from '{installed_entry}'>" in result.stdout
    checkout_plugin = PACKAGE_DIR / "plugin" / "__init__.py"
    assert f"<module 'shadow_mvs.plugin' from '{checkout_plugin}'>" in result.stdout
    assert registrations(result.stdout, "shadow_mvs.plugin") == 1
    assert f"{len(load_contract().checks)} tests collected" in result.stdout


def test_version_flag():
    result = subprocess.run(
        [sys.executable, "-m", "shadow_mvs.cli", "--version"], capture_output=True, text=True
    )
    assert result.returncode == 0
    assert result.stdout.strip() == f"shadow-mvs {suite_version()}"
    assert suite_version() != "0+unknown"


def test_outside_a_checkout_the_cli_runs_the_installed_copy(monkeypatch, tmp_path):
    monkeypatch.setattr(contract, "REPO_ROOT", PACKAGE_DIR.parent / "not-a-checkout")
    monkeypatch.chdir(tmp_path)
    assert cli.suite_root() is None
    command = cli.pytest_command(cli.build_parser().parse_args(["verify", "--stack=external"]))
    assert command[1:6] == ["-m", "pytest", "-p", "no:cacheprovider", str(CHECKS_DIR)]


def test_from_a_checkout_the_cli_runs_the_checkout(monkeypatch, tmp_path):
    monkeypatch.setattr(contract, "REPO_ROOT", tmp_path)  # an installed copy's parent, say
    monkeypatch.chdir(REPO_ROOT / "docs")
    assert cli.suite_root() == REPO_ROOT


def test_a_checkout_is_the_source_tree_not_the_package_or_another_folder(tmp_path):
    assert is_checkout(REPO_ROOT)
    assert not is_checkout(PACKAGE_DIR)
    assert not is_checkout(tmp_path)
    assert CHECKS_DIR == REPO_ROOT / "verify"  # an editable install runs the checkout's checks


PLUGIN_MODULES = (
    "shadow_mvs/plugin/stack.py",
    "shadow_mvs/plugin/clients.py",
    "shadow_mvs/plugin/wiring.py",
)
# pytest-docker's fixtures are overridden by name on purpose: their names are its contract.
OVERRIDES = {
    "docker_compose_command",
    "docker_compose_file",
    "docker_compose_project_name",
    "docker_setup",
    "docker_cleanup",
}


def generic_fixture_names(source: str) -> list[str]:
    """Fixtures defined in a plugin module without the suite's prefix (collision-prone)."""
    fixtures = [
        node.name
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef)
        and any("fixture" in ast.unparse(d) for d in node.decorator_list)
    ]
    return [n for n in fixtures if not n.startswith("shadow_mvs_") and n not in OVERRIDES]


def test_plugin_fixtures_cannot_collide_with_other_plugins():
    for module in PLUGIN_MODULES:
        assert generic_fixture_names((REPO_ROOT / module).read_text()) == [], module


def test_collision_check_sees_a_generic_name():
    bad = "import pytest\n@pytest.fixture(scope='session')\ndef settings():\n    return 1\n"
    assert generic_fixture_names(bad) == ["settings"]


def test_a_verify_session_sheds_what_it_never_uses_but_the_projects_tests_keep_it():
    """hypothesis's pytest plugin imports all of hypothesis at the terminal summary (~1 s of
    CPU); a verify session drops it, a session of the project's own tests keeps it. A verify
    session also freezes its start-up heap after collection, so pytest's five closing
    gc.collect() passes only walk what the run made."""
    probe = (
        "import gc, sys, pytest\n"
        "class Probe:\n"
        "    def pytest_unconfigure(self, config):\n"
        "        print('HYPOTHESIS_PLUGIN', config.pluginmanager.has_plugin('hypothesispytest'))\n"
        "        print('GC_FROZEN', gc.get_freeze_count() > 0)\n"
        "pytest.main([sys.argv[1], '--collect-only', '-q', '--stack=external',"
        " '-p', 'no:cacheprovider'], plugins=[Probe()])\n"
        "print('HYPOTHESIS_IMPORTED', 'hypothesis' in sys.modules)\n"
    )

    def session(target: str) -> str:
        result = subprocess.run(
            [sys.executable, "-c", probe, target],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        return result.stdout

    verify = session("verify/")
    assert "HYPOTHESIS_PLUGIN False" in verify, verify
    assert "HYPOTHESIS_IMPORTED False" in verify, verify
    assert "GC_FROZEN True" in verify, verify
    own_tests = session("tests/verify/test_slo.py")
    assert "HYPOTHESIS_PLUGIN True" in own_tests, own_tests
    assert "GC_FROZEN False" in own_tests, own_tests
