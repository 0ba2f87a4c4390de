"""The operator CLI: exit codes 0/1/2 and flags passed through to pytest unchanged."""

import json
import os
import re
import subprocess

import pytest

from fixtures.faults import run_cli
from fixtures.local_prometheus import free_loopback_port
from shadow_mvs import cli
from shadow_mvs.config.settings import OPTIONS
from shadow_mvs.core.contract import load_contract
from shadow_mvs.core.triage import route

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


# --- discovery: list, explain's facts, --help, hints -------------------------------------


def test_list_shows_every_check_with_f_code_node_budget_and_upstream():
    result = shadow_mvs("list")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["check", "F-code", "node", "budget", "depends", "on"]
    contract = load_contract()
    assert len(lines) == 1 + len(contract.checks)
    targets = next(line for line in lines if line.startswith("targets "))
    assert targets.split()[:4] == ["targets", "F-FAIL-TARGETS", "G-3", "30"]
    assert targets.endswith("exporter, prometheus")


def test_list_json_is_the_contract_data():
    result = shadow_mvs("list", "--format", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    checks = {row["check"]: row for row in document["checks"]}
    assert list(checks) == [c.name for c in load_contract().checks]
    for check in load_contract().checks:
        row = checks[check.name]
        assert (row["f_code"], row["budget_s"], row["depends_on"]) == (
            check.f_code,
            check.budget_s,
            list(check.depends_on),
        )
        assert row["node"] == route(check.f_code).id


def test_explain_fills_placeholders_from_the_contract_and_mode(monkeypatch):
    result = shadow_mvs("explain", "G-3")
    assert result.returncode == 0, result.stderr
    job = load_contract().prometheus["job"]
    assert f'Prometheus does not scrape job "{job}"' in result.stdout
    assert "{job}" not in result.stdout
    assert "{expected}" not in result.stdout
    # The mode in use: another scrape target is what the sentences expect.
    env = {**os.environ, "SHADOW_MVS_SCRAPE_TARGET": "exporter.internal:9109"}
    other = shadow_mvs("explain", "G-3", env=env)
    assert "the contract says exporter.internal:9109" in other.stdout
    dashboard = shadow_mvs("explain", "G-6")
    assert f"dashboard uid {load_contract().dashboard['uid']} is not provisioned" in (
        dashboard.stdout
    )


@pytest.mark.parametrize("command", ["up", "down", "verify", "list", "explain"])
def test_every_subcommand_help_shows_exit_codes_and_an_example(command):
    result = shadow_mvs(command, "--help")
    assert result.returncode == 0
    assert "exit codes: 0 " in result.stdout
    assert re.search(r"^examples?: shadow-mvs " + command, result.stdout, re.MULTILINE) or (
        f"shadow-mvs {command}" in result.stdout.split("example")[-1]
    ), result.stdout


@pytest.mark.parametrize(
    ("flag", "port"),
    [("--exporter-url", "9109"), ("--prometheus-url", "9092"), ("--grafana-url", "3000")],
)
def test_bad_url_hint_suggests_that_endpoints_own_port(flag, port):
    result = shadow_mvs("verify", f"{flag}=localhost-{port}")
    assert result.returncode == 2
    assert result.stderr.strip().endswith(f"e.g. http://127.0.0.1:{port}"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_verify_format_json_through_the_cli_pipes_into_jq_shape(tmp_path):
    """`shadow-mvs verify --format json | jq .result`: stdout is one JSON document."""
    dead = [
        f"--{n}-url=http://127.0.0.1:{free_loopback_port()}"
        for n in ("exporter", "prometheus", "grafana")
    ]
    result = shadow_mvs(
        "verify",
        "--stack=external",
        "--format",
        "json",
        *dead,
        "--",
        f"--json-report-file={tmp_path / 'verify.json'}",
        "-m",
        "exporter",
        env={**os.environ},
    )
    assert result.returncode == 1, result.stderr
    assert json.loads(result.stdout)["result"] == "FAIL"


def test_verify_format_nagios_usage_error_is_unknown_through_the_cli():
    result = shadow_mvs("verify", "--format", "nagios", "--exporter-url=nope")
    assert result.returncode == 3
    assert result.stdout.startswith("SHADOW-MVS VERIFY UNKNOWN - shadow-mvs: --exporter-url=")
    bad_flag = shadow_mvs("verify", "--format=nagios", "--stack=sideways")
    assert bad_flag.returncode == 3
    assert bad_flag.stdout.startswith("SHADOW-MVS VERIFY UNKNOWN")


def test_machine_format_with_several_environments_is_a_usage_error():
    result = shadow_mvs("verify", "--env", "a", "--env", "b", "--format", "json")
    assert result.returncode == 2
    assert "--format json is for one environment" in result.stderr
