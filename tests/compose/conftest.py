"""Fixtures for the compose-asset tests: docker compose config, promtool, a real Prometheus.
The rules they assert live in the package (``shadow_mvs/evidence/rulebook/``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fixtures.local_prometheus import local_prometheus
from fixtures.prometheus_tools import PROMTOOL_BIN
from shadow_mvs.core.causes import Finding
from shadow_mvs.core.contract import REPO_ROOT

# Variables the compose files interpolate; scrubbed so the caller's shell cannot leak in.
COMPOSE_VARIABLE_PREFIXES = ("GF_", "SHADOW_MVS_", "COMPOSE_")
COMPOSE_VARIABLES = {
    "PROMETHEUS_IMAGE",
    "GRAFANA_IMAGE",
    "EXPORTER_IMAGE",
    "OFFLINE_IMAGE",
    "LIVE_TRADING_ENABLED",
}
DUMMY_CREDENTIALS = {
    "GF_SECURITY_ADMIN_USER": "dummy-admin",
    "GF_SECURITY_ADMIN_PASSWORD": "dummy-pw",
}


def details(findings: Iterable[Finding]) -> str:
    """Every finding's detail on one line: what a rule says, for ``"words" in details(…)``."""
    return " ".join(finding.detail for finding in findings)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def promtool() -> Path:
    """.tools/bin/promtool: tests that take it carry ``needs_prometheus_tools``."""
    return PROMTOOL_BIN


def write_env_file(path: Path, values: dict[str, str]) -> Path:
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return path


@pytest.fixture(scope="session")
def dummy_env_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_env_file(tmp_path_factory.mktemp("env") / "dummy.env", DUMMY_CREDENTIALS)


def scrubbed_environment() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(COMPOSE_VARIABLE_PREFIXES) and k not in COMPOSE_VARIABLES
    }


def run_compose_config(env_file: Path, files: list[str]) -> subprocess.CompletedProcess[str]:
    """``docker compose config --format json`` over repo-relative files."""
    command = ["docker", "compose", "--env-file", str(env_file)]
    for name in files:
        command += ["-f", name]
    command += ["config", "--format", "json"]
    return subprocess.run(
        command,
        cwd=REPO_ROOT,
        env=scrubbed_environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="session")
def compose_cli() -> None:
    if shutil.which("docker") is None:
        pytest.skip("docker CLI not on PATH: run scripts/install-host.sh")
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip("docker compose v2 plugin missing: run scripts/install-host.sh")


ComposeConfig = Callable[[list[str]], dict[str, Any]]


@pytest.fixture(scope="session")
def compose_config(compose_cli: None, dummy_env_file: Path) -> ComposeConfig:
    """Merged config of a file set (with dummy credentials); fails loudly with stderr."""
    cache: dict[tuple[str, ...], dict[str, Any]] = {}

    def merged(files: list[str]) -> dict[str, Any]:
        key = tuple(files)
        if key not in cache:
            result = run_compose_config(dummy_env_file, files)
            assert result.returncode == 0, f"docker compose config {files} failed: {result.stderr}"
            cache[key] = json.loads(result.stdout)
        return cache[key]

    return merged


@pytest.fixture(scope="session")
def scratch_prometheus_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A short-lived real Prometheus (no scrape targets) for parsing and evaluating PromQL;
    tests that take it carry ``needs_prometheus_tools``."""
    config = {"global": {"evaluation_interval": "5s"}, "scrape_configs": []}
    with local_prometheus(tmp_path_factory.mktemp("prometheus"), config) as server:
        yield server.url
