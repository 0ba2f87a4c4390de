"""An installed copy works from any directory: with no checkout at hand, `--env` reads the
current directory's environments.toml (or SHADOW_MVS_ENVIRONMENTS_FILE) and says where it
looked, TRIAGE and `explain` print only the commands that use the verified URLs, and the last
line points at `shadow-mvs explain contract` instead of a docs/ that is not there.

"Installed" is simulated two ways, both Docker-free: in-process with no checkout found
(``is_checkout`` patched, the current directory a temporary one), and as a real process
running a copy of the package alone in a temporary site directory."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from shadow_mvs import cli
from shadow_mvs.config.settings import Settings, SettingsError
from shadow_mvs.core import contract
from shadow_mvs.core.contract import PACKAGE_DIR, REPO_ROOT
from shadow_mvs.core.run import CheckFailed, VerifyRun
from shadow_mvs.core.triage import load_triage
from shadow_mvs.report.contract_summary import EXPLAIN_CONTRACT, SECTIONS
from shadow_mvs.report.reporter import next_commands, render
from shadow_mvs.report.session import SETTINGS_KEY
from shadow_mvs.report.triage_view import commands_in_use
from shadow_mvs.stack.compose import compose_project

SHADOW_MVS_VARS = [name for name in os.environ if name.startswith("SHADOW_MVS_")]
COMPOSE_WORDS = ("docker compose", "compose/", "[compose]", "shadow-mvs down")
PLACEHOLDER = re.compile(r"\$(COMPOSE|EXPORTER_URL|PROMETHEUS_URL|GRAFANA_URL)\b")


@pytest.fixture(autouse=True)
def clean(monkeypatch):
    for name in SHADOW_MVS_VARS:
        monkeypatch.delenv(name)


@pytest.fixture
def no_checkout(monkeypatch, tmp_path):
    """This process as an installed copy run from a directory outside any checkout."""
    monkeypatch.setattr(contract, "is_checkout", lambda path: False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The package alone in a site directory, its checks inside it as the wheel ships them:
    no checkout around it (no docs/, compose/)."""
    site = tmp_path_factory.mktemp("site")
    skip = shutil.ignore_patterns("__pycache__")
    shutil.copytree(PACKAGE_DIR, site / "shadow_mvs", ignore=skip)
    shutil.copytree(REPO_ROOT / "verify", site / "shadow_mvs" / "checks", ignore=skip)
    return site


def run_installed(site: Path, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SHADOW_MVS_")}
    return subprocess.run(
        [sys.executable, "-m", "shadow_mvs.cli", *args],
        cwd=cwd,
        env={**environ, "PYTHONPATH": str(site), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_installed_copy_is_the_one_that_runs(installed, tmp_path):
    probe = subprocess.run(
        [sys.executable, "-c", "import shadow_mvs.core.contract as c; print(c.REPO_ROOT)"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(installed)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(probe.stdout.strip()) == installed
    assert not contract.is_checkout(installed)


# --- --env: SHADOW_MVS_ENVIRONMENTS_FILE, else ./environments.toml ---------------------------

ENVIRONMENTS = '[here]\nprometheus_url = "http://prom.here:9092"\nstack = "external"\n'


def test_env_reads_the_current_directory(no_checkout):
    (no_checkout / "environments.toml").write_text(ENVIRONMENTS)
    settings = Settings.from_values({"env": "here"})
    assert settings.prometheus_url == "http://prom.here:9092"


def test_the_variable_wins_over_the_current_directory(no_checkout, monkeypatch):
    (no_checkout / "environments.toml").write_text(ENVIRONMENTS)
    other = no_checkout / "elsewhere" / "mine.toml"
    other.parent.mkdir()
    other.write_text(ENVIRONMENTS.replace("prom.here", "prom.mine"))
    monkeypatch.setenv("SHADOW_MVS_ENVIRONMENTS_FILE", str(other))
    assert Settings.from_values({"env": "here"}).prometheus_url == "http://prom.mine:9092"


def test_no_file_says_where_it_looked(no_checkout, monkeypatch):
    with pytest.raises(SettingsError) as raised:
        Settings.from_values({"env": "prod"})
    message = str(raised.value)
    assert message == (
        f"--env prod: no environments file: looked for {no_checkout / 'environments.toml'} "
        "(the current directory; SHADOW_MVS_ENVIRONMENTS_FILE is not set)"
    )
    monkeypatch.setenv("SHADOW_MVS_ENVIRONMENTS_FILE", "nope/envs.toml")
    with pytest.raises(SettingsError, match="no environments file") as raised:
        Settings.from_values({"env": "prod"})
    assert str(raised.value) == (
        f"--env prod: no environments file: looked for {no_checkout / 'nope/envs.toml'} "
        "(SHADOW_MVS_ENVIRONMENTS_FILE)"
    )


def test_installed_cli_without_a_file_is_one_line_and_exit_2(installed, tmp_path):
    result = run_installed(installed, tmp_path, "verify", "--env", "prod")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"shadow-mvs: --env prod: no environments file: looked for {tmp_path / 'environments.toml'}"
        " (the current directory; SHADOW_MVS_ENVIRONMENTS_FILE is not set)\n"
    )


def test_from_the_checkout_root_the_shipped_file_is_read():
    assert Path.cwd() == REPO_ROOT  # where the project's tests (and operators) run
    assert Settings.from_values({"env": "prod-shaped"}).topology == "remote-write"


def test_cli_hands_pytest_the_file_it_resolved(no_checkout, monkeypatch):
    """pytest may start in another directory (an editable install's checkout): it must read
    the environments file of the directory the operator ran shadow-mvs in."""
    (no_checkout / "environments.toml").write_text(ENVIRONMENTS)
    seen = {}

    def fake_run(command, **kwargs):
        seen.update(kwargs)
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(cli.subprocess, "run", fake_run)
    assert cli.main(["verify", "--env", "here"]) == 0
    assert seen["env"]["SHADOW_MVS_ENVIRONMENTS_FILE"] == str(no_checkout / "environments.toml")


# --- next commands for the mode in use ------------------------------------------------------


def verify_config(settings: Settings | None):
    """The one thing the reporter reads from pytest's config: its stash."""

    class Config:
        stash = pytest.Stash()

    if settings is not None:
        Config.stash[SETTINGS_KEY] = settings
    return Config()


def test_a_checkout_compose_run_keeps_its_compose_commands():
    settings = Settings.from_values({"stack": "compose"})
    expected = compose_project(settings).base_command(relative=True)
    assert commands_in_use(settings).compose_command == expected
    assert next_commands(verify_config(settings)).compose_command == expected


def test_without_a_checkout_even_compose_mode_gets_url_commands(no_checkout):
    settings = Settings.from_values({"stack": "compose", "grafana_url": "http://graf.test:3000"})
    commands = commands_in_use(settings)
    assert commands.compose_command is None
    assert commands.urls == settings.urls
    assert next_commands(verify_config(settings)).compose_command is None
    assert next_commands(verify_config(None)).compose_command is None


def test_without_a_checkout_triage_has_no_compose_and_points_at_explain_contract(no_checkout):
    run = VerifyRun()
    run.settle("exporter", CheckFailed("connection refused"))
    settings = Settings.from_values({})
    lines = render(run, commands_in_use(settings).compose_command, settings.urls)
    nexts = [line for line in lines if "|next: " in line]
    assert nexts == ["TRIAGE|G-1|next: curl -fsS http://127.0.0.1:9109/metrics | head -n 20"]
    assert lines[-1] == f"INFO|See Contract: {EXPLAIN_CONTRACT}"
    assert lines[-1] == "INFO|See Contract: shadow-mvs explain contract"


def test_in_a_checkout_the_contract_line_is_unchanged():
    run = VerifyRun()
    run.settle("exporter", CheckFailed("connection refused"))
    assert render(run, None)[-1] == "INFO|See Contract: docs/CONTRACT.md"


# --- explain --------------------------------------------------------------------------------


@pytest.mark.parametrize("node", list(load_triage()))
def test_explain_without_a_checkout_prints_url_commands_only(no_checkout, capsys, node):
    assert cli.main(["explain", node]) == 0
    out = capsys.readouterr().out
    assert "  next commands:\n" in out
    for word in COMPOSE_WORDS:
        assert word not in out, (node, word)
    assert not PLACEHOLDER.search(out), out


def test_installed_explain_g3_prints_url_commands_for_the_verified_urls(installed, tmp_path):
    result = run_installed(
        installed,
        tmp_path,
        "explain",
        "G-3",
        SHADOW_MVS_PROMETHEUS_URL="https://prom.example:9443",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith(
        "  next commands:\n"
        "    curl -fsS https://prom.example:9443/api/v1/targets | python3 -m json.tool"
        " | head -n 60\n"
    )
    for word in COMPOSE_WORDS:
        assert word not in result.stdout, word
    assert not PLACEHOLDER.search(result.stdout), result.stdout


def test_explain_in_a_checkout_keeps_the_compose_commands(capsys):
    assert cli.main(["explain", "G-3"]) == 0
    out = capsys.readouterr().out
    assert "    sed -n '1,40p' compose/prometheus/prometheus.yml" in out


def test_explain_follows_an_external_stack_in_a_checkout(monkeypatch, capsys):
    monkeypatch.setenv("SHADOW_MVS_STACK", "external")
    assert cli.main(["explain", "G-1"]) == 0
    out = capsys.readouterr().out
    assert "docker compose" not in out
    assert out.endswith(
        "  next commands:\n    curl -fsS http://127.0.0.1:9109/metrics | head -n 20\n"
    )


def test_explain_scrubs_secrets_from_what_it_prints(monkeypatch, capsys):
    monkeypatch.setenv("SHADOW_MVS_STACK", "external")
    monkeypatch.setenv("PROMETHEUS_TOKEN", "tok-Secret-1234")
    monkeypatch.setenv("SHADOW_MVS_PROMETHEUS_URL", "https://p.example/tok-Secret-1234")
    assert cli.main(["explain", "G-3"]) == 0
    out = capsys.readouterr().out
    assert "tok-Secret-1234" not in out
    assert "https://p.example/***/api/v1/targets" in out


def test_installed_explain_contract_prints_every_contract_section(installed, tmp_path):
    result = run_installed(installed, tmp_path, *EXPLAIN_CONTRACT.split()[1:])
    assert result.returncode == 0, result.stderr
    committed = (REPO_ROOT / "docs" / "CONTRACT.md").read_text(encoding="utf-8")
    for section in SECTIONS:
        body = re.search(
            rf"<!-- BEGIN GENERATED: {section.block} -->\n(.*?)\n<!-- END GENERATED",
            committed,
            re.S,
        )
        assert body is not None, section.block
        assert f"## {section.heading}\n\n{body[1]}\n" in result.stdout, section.block


def test_explain_contract_needs_no_settings(monkeypatch, capsys):
    monkeypatch.setenv("SHADOW_MVS_STACK", "sideways")  # would be a usage error for a node
    assert cli.main(["explain", "CONTRACT"]) == 0
    assert capsys.readouterr().out.startswith("# Shadow-MVS contract ")
    assert cli.main(["explain", "G-1"]) == 2


def test_unknown_topic_lists_the_contract_too(capsys):
    assert cli.main(["explain", "G-42"]) == 2
    assert capsys.readouterr().err.rstrip().endswith("R-5, contract")


# --- compose mode needs a checkout's compose files ------------------------------------------


@pytest.mark.parametrize("command", [["verify"], ["up"], ["down"]], ids=lambda c: c[0])
def test_installed_compose_mode_is_one_line_and_exit_2(installed, tmp_path, command):
    result = run_installed(installed, tmp_path, *command)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        "shadow-mvs: --stack=compose starts the stack from a checkout's compose files, and "
        f"there are none at {installed / 'compose'} (an installed copy ships the checks only): "
        "verify a running stack with --stack=external, or run from a checkout\n"
    )


def test_installed_pytest_in_compose_mode_exits_2_before_any_check(installed, tmp_path):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SHADOW_MVS_")}
    checks = installed / "shadow_mvs" / "checks"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", str(checks)],
        cwd=tmp_path,
        env={**environ, "PYTHONPATH": str(installed)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "an installed copy ships the checks only" in result.stdout + result.stderr
    assert "collected" not in result.stdout
    assert not (tmp_path / "reports").exists()


def test_installed_external_mode_is_not_refused(installed, tmp_path):
    # The refusal is for compose mode only: an external stack needs no compose files
    # (nothing listens here, so the verdict is FAIL, exit 1, not a usage error).
    result = run_installed(
        installed,
        tmp_path,
        "verify",
        "--stack=external",
        "--exporter-url=http://127.0.0.1:9",
        "--prometheus-url=http://127.0.0.1:9",
        "--grafana-url=http://127.0.0.1:9",
        GRAFANA_AUTH="viewer:x",
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "RESULT=FAIL" in result.stdout
    assert "compose files" not in result.stdout + result.stderr


def test_an_installed_copy_used_inside_a_checkout_is_not_refused(installed):
    # A non-editable install run from a checkout verifies that checkout (README): its
    # compose files are there, so compose mode goes ahead (collect-only: nothing starts).
    result = run_installed(installed, REPO_ROOT / "docs", "verify", "--", "--collect-only", "-q")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(contract.load_contract().checks)} tests collected" in result.stdout
