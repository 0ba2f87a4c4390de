"""Final states end the wait: an exited or restart-looping service fails its check at once
with its exit code and telling log lines. The logs come from the real processes (the
Grafana stand-in and Prometheus from .tools), each killed by a bad config; `docker compose
ps` is replaced by its recorded JSON shape, so no Docker is needed."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from fixtures.prometheus_tools import PROMETHEUS_BIN, needs_prometheus_tools
from shadow_mvs.core.contract import REPO_ROOT, load_contract
from shadow_mvs.core.run import CheckBlocked, CheckFailed, VerifyRun
from shadow_mvs.stack.compose import ComposeProject
from shadow_mvs.stack.services import ServiceWatch, parse_ps, telling_lines

GRAFANA_FATAL = (
    'logger=provisioning t=2026-11-25T10:00:00Z level=error msg="Failed to provision data '
    'sources" error="Datasource provisioning error: datasource.yaml config is invalid. Only one '
    'datasource per organization can be marked as default"\n'
    "Error: ✗ *provisioning.ProvisioningServiceImpl run error: Datasource provisioning error\n"
)
TRACEBACK = """Traceback (most recent call last):
  File "/opt/shadow-mvs/exporter/__main__.py", line 3, in <module>
    main()
  File "/opt/shadow-mvs/exporter/cli.py", line 40, in main
    raise SystemExit(f"bad SHADOW_MVS_MODE {mode!r}")
ValueError: SHADOW_MVS_MODE must be shadow or live, not 'paper'
"""


def ps_line(service: str, state: str, exit_code: int = 0) -> str:
    status = f"Exited ({exit_code}) 1 second ago" if state == "exited" else "Up 2 seconds"
    return json.dumps({"Service": service, "State": state, "ExitCode": exit_code, "Status": status})


class FakeCompose:
    """Answers `ps -a --format json` and `logs …` the way docker compose v2 prints them."""

    def __init__(self, rows: list[str], logs: dict[str, str]):
        self.rows, self.logs = rows, logs
        self.calls: list[str] = []

    def __call__(self, subcommand: str) -> str:
        self.calls.append(subcommand)
        if subcommand.startswith("ps"):
            return "\n".join(self.rows)
        return self.logs.get(subcommand.split()[-1], "")


def watched_run(fake: FakeCompose) -> VerifyRun:
    run = VerifyRun()
    compose = ComposeProject(offline=True, host_network=True)
    run.final_state = ServiceWatch(compose, run, runner=fake)
    return run


def refused():
    raise CheckFailed("GET http://127.0.0.1:3000/api/health: connection failed")


def test_parse_ps_reads_both_json_shapes():
    lines = "\n".join([ps_line("grafana", "exited", 1), ps_line("exporter", "running")])
    states = parse_ps(lines)
    assert states["grafana"].final
    assert states["grafana"].exit_code == 1
    assert not states["exporter"].final
    array = json.dumps([json.loads(ps_line("prometheus-local", "restarting", 1))])
    assert parse_ps(array)["prometheus-local"].described == "is restart-looping"
    assert parse_ps("") == {}


def test_grafana_logfmt_error_is_the_telling_line():
    line = telling_lines("logger=server level=info msg=Starting\n" + GRAFANA_FATAL)
    assert line.startswith("Failed to provision data sources: Datasource provisioning error")
    assert "Only one datasource per organization" in line


def test_python_traceback_gives_its_last_line():
    assert telling_lines("starting\n" + TRACEBACK) == (
        "ValueError: SHADOW_MVS_MODE must be shadow or live, not 'paper'"
    )


def test_exited_service_fails_its_check_at_once():
    fake = FakeCompose(
        [ps_line("grafana", "exited", 1), ps_line("exporter", "running")],
        {"grafana": GRAFANA_FATAL},
    )
    run = watched_run(fake)
    ctx = run.context(load_contract().check("grafana"))
    started = time.monotonic()
    with pytest.raises(CheckFailed) as failed:
        ctx.poll(refused)
    assert time.monotonic() - started < 1.0
    assert ctx.record.attempts == 1
    assert failed.value.cause == "grafana_exited"
    assert not failed.value.retryable
    assert failed.value.message.startswith("grafana exited (exit code 1): Failed to provision")
    run.settle("grafana", failed.value)
    assert run.records["grafana"].node.id == "G-4"


def test_restart_loop_is_final_too():
    fake = FakeCompose([ps_line("prometheus-local", "restarting", 1)], {})
    ctx = watched_run(fake).context(load_contract().check("rules"))
    with pytest.raises(CheckFailed) as failed:
        ctx.poll(refused)
    assert "prometheus-local is restart-looping (exit code 1)" in failed.value.message


def test_another_dead_service_stops_the_wait_and_is_the_root():
    fake = FakeCompose(
        [ps_line("grafana", "exited", 1), ps_line("prometheus-local", "running")],
        {"grafana": GRAFANA_FATAL},
    )
    run = watched_run(fake)
    targets = run.context(load_contract().check("targets"))
    with pytest.raises(CheckBlocked) as blocked:
        targets.poll(lambda: refused())
    run.settle("targets", blocked.value)
    assert "not waited for: F-FAIL-GRAFANA" in blocked.value.message
    assert run.first_failure is run.records["grafana"]
    assert run.verify_code == "F-FAIL-GRAFANA"
    with pytest.raises(CheckFailed) as grafana:  # its own test then reports it at once
        run.context(load_contract().check("grafana"))
    assert grafana.value.cause == "grafana_exited"


def test_running_services_keep_the_retry_and_ps_is_cached():
    fake = FakeCompose([ps_line("grafana", "running")], {})
    run = watched_run(fake)
    ctx = run.context(load_contract().check("grafana"))
    ctx.record.budget_s = 0.3
    ctx.interval_s = 0.05
    with pytest.raises(CheckFailed) as failed:
        ctx.poll(refused)
    assert "gave up after" in failed.value.message
    assert ctx.record.attempts > 2
    assert fake.calls.count("ps -a --format json") < ctx.record.attempts


def test_healthy_probe_never_asks_docker():
    fake = FakeCompose([ps_line("grafana", "exited", 1)], {})
    ctx = watched_run(fake).context(load_contract().check("grafana"))
    assert ctx.poll(lambda: "ok") == "ok"
    assert fake.calls == []


def test_real_standin_dies_with_a_line_the_suite_reads(tmp_path: Path):
    datasources = tmp_path / "datasources"
    datasources.mkdir()
    for name in ("a", "b"):
        datasource = {"name": name, "type": "prometheus", "isDefault": True}
        doc = {"apiVersion": 1, "datasources": [datasource]}
        (datasources / f"{name}.yaml").write_text(yaml.safe_dump(doc))
    finished = subprocess.run(
        [sys.executable, "-m", "grafana_standin"],
        cwd=REPO_ROOT,
        env={"GF_PATHS_PROVISIONING": str(tmp_path), "GF_SERVER_HTTP_PORT": "0"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert finished.returncode == 1
    line = telling_lines(finished.stdout + finished.stderr)
    assert line.startswith("Failed to provision data sources: Datasource provisioning error")


@needs_prometheus_tools
def test_real_prometheus_dies_with_a_line_the_suite_reads(tmp_path: Path):
    config = tmp_path / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 5x\n")
    finished = subprocess.run(
        [str(PROMETHEUS_BIN), f"--config.file={config}", f"--storage.tsdb.path={tmp_path}/d"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert finished.returncode != 0
    line = telling_lines(finished.stdout + finished.stderr)
    assert "Error loading config" in line
    assert "5x" in line
