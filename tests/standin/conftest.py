"""Helpers for the Grafana stand-in tests: provisioning trees in tmp dirs, the stand-in as
a real subprocess (exactly as the container runs it), and a real Prometheus."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from fixtures.local_prometheus import (
    LocalPrometheus,
    free_loopback_port,
    local_prometheus,
)
from shadow_mvs.core.waiting import GaveUp, bounded_poll

REPO_ROOT = Path(__file__).resolve().parents[2]

STARTUP_BUDGET_S = 15.0
ADMIN_USER = "admin"


class NotYet(Exception):
    """Raised by a poll step; the last one's text ends up in the timeout message."""


def poll(step: Callable[[], Any], budget_s: float, what: str) -> Any:
    """Call ``step`` until it returns without raising NotYet/HTTP errors, within a bound."""
    try:
        return bounded_poll(
            step, budget_s=budget_s, interval_s=0.05, retry_if=(NotYet, httpx.HTTPError), what=what
        )
    except GaveUp as exc:
        pytest.fail(f"{what} not reached within {budget_s}s; last error: {exc.last!r}")


def port_is_closed(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


@dataclass
class Provisioning:
    """A ``GF_PATHS_PROVISIONING`` tree plus a dashboards directory, under one tmp dir."""

    root: Path
    dashboards_dir: Path = field(init=False)

    def __post_init__(self) -> None:
        self.dashboards_dir = self.root / "dashboard-files"
        for sub in ("provisioning/datasources", "provisioning/dashboards", "dashboard-files"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    @property
    def path(self) -> Path:
        return self.root / "provisioning"

    def datasource_file(self, name: str, content: dict[str, Any] | str) -> Path:
        return self._write(self.path / "datasources" / name, content)

    def provider_file(self, name: str, content: dict[str, Any] | list[Any] | str) -> Path:
        return self._write(self.path / "dashboards" / name, content)

    def dashboard(
        self, relative: str, model: dict[str, Any] | str, base: Path | None = None
    ) -> Path:
        target = (base or self.dashboards_dir) / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(model if isinstance(model, str) else json.dumps(model))
        return target

    def default_provider(self, **overrides: Any) -> Path:
        provider = {"name": "default", "options": {"path": str(self.dashboards_dir)}} | overrides
        return self.provider_file("dashboards.yaml", {"apiVersion": 1, "providers": [provider]})

    @staticmethod
    def _write(path: Path, content: Any) -> Path:
        path.write_text(content if isinstance(content, str) else yaml.safe_dump(content))
        return path


@pytest.fixture
def provisioning(tmp_path: Path) -> Provisioning:
    return Provisioning(tmp_path)


def prometheus_datasource(name: str, url: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "uid": name, "type": "prometheus", "url": url} | extra


@dataclass
class Standin:
    url: str
    port: int
    password: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def auth(self) -> tuple[str, str]:
        return (ADMIN_USER, self.password)

    def client(self, auth: tuple[str, str] | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=auth, timeout=10.0)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        with self.client(kwargs.pop("auth", self.auth)) as client:
            return client.get(path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        with self.client(kwargs.pop("auth", self.auth)) as client:
            return client.post(path, **kwargs)

    def log_text(self) -> str:
        return self.log_path.read_text()

    def request_lines(self) -> list[str]:
        return [line for line in self.log_text().splitlines() if line.startswith("REQUEST ")]

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise
        return int(self.process.returncode)


def standin_env(provisioning_dir: Path, port: int, password: str, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "GF_PATHS_PROVISIONING": str(provisioning_dir),
        "GF_SERVER_HTTP_ADDR": "127.0.0.1",
        "GF_SERVER_HTTP_PORT": str(port),
        "GF_SECURITY_ADMIN_USER": ADMIN_USER,
        "GF_SECURITY_ADMIN_PASSWORD": password,
    } | extra


def standin_command() -> list[str]:
    # Run from the repo root as top-level ``grafana_standin`` beside ``shadow_mvs``, exactly
    # like the offline container (which mounts both, the package's Grafana rules only).
    return [sys.executable, "-m", "grafana_standin"]


def launch_standin(provisioning_dir: Path, log_path: Path, **extra_env: str) -> Standin:
    port = free_loopback_port()
    password = secrets.token_urlsafe(12)
    env = standin_env(provisioning_dir, port, password, **extra_env)
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            standin_command(), cwd=REPO_ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
    standin = Standin(f"http://127.0.0.1:{port}", port, password, process, log_path)

    def healthy() -> None:
        if process.poll() is not None:
            pytest.fail(f"stand-in exited with {process.returncode}:\n{standin.log_text()}")
        if httpx.get(f"{standin.url}/api/health", timeout=1.0).status_code != 200:
            raise NotYet("/api/health not 200")

    poll(healthy, STARTUP_BUDGET_S, "stand-in /api/health 200")
    return standin


def provisioning_with_datasources(root: Path, datasources: list[dict[str, Any]]) -> Provisioning:
    """A provisioning tree under ``root`` whose ``ds.yaml`` holds ``datasources``."""
    prov = Provisioning(root)
    prov.datasource_file("ds.yaml", {"apiVersion": 1, "datasources": datasources})
    return prov


@contextmanager
def running_standin(prov: Provisioning) -> Iterator[Standin]:
    """The stand-in over ``prov`` (log beside it) until the block ends."""
    standin = launch_standin(prov.path, prov.root / "standin.log")
    try:
        yield standin
    finally:
        standin.stop()


@pytest.fixture
def start_standin(tmp_path: Path) -> Iterator[Callable[..., Standin]]:
    started: list[Standin] = []

    def start(provisioning_dir: Path, **extra_env: str) -> Standin:
        standin = launch_standin(
            provisioning_dir, tmp_path / f"standin-{len(started)}.log", **extra_env
        )
        started.append(standin)
        return standin

    yield start
    for standin in started:
        standin.stop()


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPrometheus]:
    """A real Prometheus on a free loopback port scraping itself every second; tests that
    take it carry ``needs_prometheus_tools``."""
    port = free_loopback_port()
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {"job_name": "prometheus", "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}
        ],
    }
    with local_prometheus(tmp_path_factory.mktemp("prometheus"), config, port=port) as server:
        yield server
