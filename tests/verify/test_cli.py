"""The operator CLI: exit codes 0/1/2 and flags passed through to pytest unchanged."""

import subprocess

import pytest

from fixtures.faults import run_cli
from shadow_mvs import cli
from shadow_mvs.config.settings import OPTIONS

shadow_mvs = run_cli


def test_explain_prints_node_with_commands():
    result = shadow_mvs("explain", "g-7")
    assert result.returncode == 0
    assert "G-7: Exporter data off-contract (series, labels, cardinality) or empty" in result.stdout
    assert "peak_trade_pipeline_events_total" in result.stdout


def test_unknown_node_is_usage_error():
    result = shadow_mvs("explain", "G-42")
    assert result.returncode == 2
    assert "unknown node" in result.stderr


def test_bad_flag_is_usage_error_without_traceback():
    result = shadow_mvs("verify", "--stack=sideways")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_bad_environment_value_is_usage_error(monkeypatch):
    monkeypatch.setenv("SHADOW_MVS_OFFLINE", "perhaps")
    assert cli.main(["verify"]) == 2


def test_verify_passes_flags_through_to_pytest():
    args = cli.build_parser().parse_args(
        [
            "verify",
            "--stack=external",
            "--offline",
            "--mode=live",
            "--grafana-url=http://g:3000",
            "--",
            "-x",
        ]
    )
    command = cli.pytest_command(args)
    assert command[1:4] == ["-m", "pytest", "verify"]
    assert "--stack=external" in command
    assert "--offline" in command
    assert "--mode=live" in command
    assert "--grafana-url=http://g:3000" in command
    assert command[-1] == "-x"


@pytest.mark.parametrize(("pytest_code", "exit_code"), [(0, 0), (1, 1), (2, 2), (4, 2), (5, 2)])
def test_verify_maps_pytest_exit_codes(monkeypatch, pytest_code, exit_code):
    monkeypatch.setattr(
        cli.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, pytest_code)
    )
    assert cli.main(["verify", "--stack=external"]) == exit_code


def test_up_without_docker_is_environment_error(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "DOCKER_HOST": f"unix://{tmp_path}/none.sock"}
    result = shadow_mvs("up", "--offline", env=env)
    assert result.returncode == 2
    assert "Docker daemon unreachable" in result.stderr
    assert "Traceback" not in result.stderr


def test_verify_many_refuses_an_unknown_environment_before_starting(capsys):
    assert cli.main(["verify", "--env", "local", "--env", "nowhere"]) == 2
    assert "--env nowhere: no such environment" in capsys.readouterr().err


def test_up_prod_shaped_needs_the_offline_image(capsys):
    assert cli.main(["up", "--env", "prod-shaped"]) == 2
    assert "add --offline" in capsys.readouterr().err


def test_verify_passes_one_environment_through_to_pytest():
    args = cli.build_parser().parse_args(["verify", "--env", "prod-shaped"])
    assert "--env=prod-shaped" in cli.pytest_command(args)


def accepts(subcommand: str, flag: str, value: str | None) -> bool:
    try:
        cli.build_parser().parse_args([subcommand, flag, *([value] if value else [])])
    except SystemExit:
        return False
    return True


def test_the_docs_name_exactly_the_flags_up_and_down_take(capsys):
    # docs/RUNBOOK.md's option table says "up, down, verify" for UP_DOWN_FLAGS only.
    for opt in OPTIONS:
        for subcommand in ("up", "down"):
            value = None if opt.is_switch else (opt.choices or ("x",))[0]
            assert accepts(subcommand, opt.flag, value) == (opt.flag in cli.UP_DOWN_FLAGS), (
                subcommand,
                opt.flag,
            )
    assert not accepts("up", "--no-such-flag", None)  # the probe can say no
    capsys.readouterr()  # argparse's usage lines for the refusals
