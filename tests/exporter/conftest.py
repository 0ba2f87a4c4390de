"""Runs the real exporter (`python -m exporter`) in a subprocess on a free port."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from fixtures.local_prometheus import free_loopback_port
from shadow_mvs.core.contract import REPO_ROOT
from shadow_mvs.core.waiting import GaveUp, bounded_poll

READY_BUDGET_S = 10.0
EXIT_BUDGET_S = 10.0
# The exporter reads these; scrubbed so the caller's shell cannot change a test.
EXPORTER_ENV_PREFIXES = ("SHADOW_MVS_",)
EXPORTER_ENV_NAMES = {"LIVE_TRADING_ENABLED"}


class ExporterExited(Exception):
    pass


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(EXPORTER_ENV_PREFIXES) and k not in EXPORTER_ENV_NAMES
    }
    return env | (extra or {})


def run_exporter(
    *args: str, env: dict[str, str] | None = None, timeout: float = EXIT_BUDGET_S
) -> subprocess.CompletedProcess[str]:
    """Runs an exporter that is expected to exit on its own (bad flags, refused modes)."""
    return subprocess.run(
        [sys.executable, "-m", "exporter", *args],
        cwd=REPO_ROOT,
        env=clean_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class Exporter:
    proc: subprocess.Popen[bytes]
    url: str
    ledger: Path
    stderr_path: Path

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def get(self, path: str) -> httpx.Response:
        response = httpx.get(self.url + path, timeout=2.0)
        response.raise_for_status()
        return response

    def metrics_text(self) -> str:
        return self.get("/metrics").text

    def snapshot(self) -> dict[str, Any]:
        return dict(self.get("/snapshot").json())

    def ledger_records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.ledger.read_text().splitlines()]

    def wait_ready(self) -> None:
        def probe() -> None:
            if self.proc.poll() is not None:
                raise ExporterExited(f"exit code {self.proc.returncode}; stderr: {self.stderr}")
            self.get("/healthz")

        poll(probe, f"exporter at {self.url} ready", retry_on=(httpx.HTTPError,))

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
        """Polls /snapshot until the predicate holds; returns that snapshot."""
        found: dict[str, Any] = {}

        def probe() -> None:
            snap = self.snapshot()
            if not predicate(snap):
                raise AssertionError(f"not yet {what}: {snap}")
            found.update(snap)

        poll(probe, what, retry_on=(AssertionError, httpx.HTTPError))
        return found

    def stop(self, signum: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        try:
            return self.proc.wait(timeout=EXIT_BUDGET_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"exporter ignored {signal.Signals(signum).name}; stderr: {self.stderr}")


def poll(probe: Callable[[], None], what: str, retry_on: tuple[type[BaseException], ...]) -> None:
    try:
        bounded_poll(probe, budget_s=READY_BUDGET_S, interval_s=0.05, retry_if=retry_on, what=what)
    except GaveUp as exc:
        pytest.fail(
            f"timed out after {READY_BUDGET_S} s waiting for {what}; last error: {exc.last!r}"
        )


class Launcher:
    """Starts `python -m exporter ARGS` on free ports, each with its own ledger."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.started: list[Exporter] = []

    def start(self, *args: str, env: dict[str, str] | None = None, tick: str = "0.01") -> Exporter:
        n = len(self.started)
        port = free_loopback_port()
        ledger = self.workdir / f"run{n}" / "ledger.jsonl"
        stderr_path = self.workdir / f"exporter{n}.stderr"
        argv = ["--listen", f"127.0.0.1:{port}", "--ledger", str(ledger), "--tick", tick, *args]
        with stderr_path.open("wb") as stderr:
            proc = subprocess.Popen(
                [sys.executable, "-m", "exporter", *argv],
                cwd=REPO_ROOT,
                env=clean_env(env),
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        exporter = Exporter(proc, f"http://127.0.0.1:{port}", ledger, stderr_path)
        self.started.append(exporter)
        exporter.wait_ready()
        return exporter

    def close(self) -> None:
        for exporter in self.started:
            if exporter.proc.poll() is None:
                exporter.proc.kill()
                exporter.proc.wait()


@pytest.fixture
def launcher(tmp_path: Path) -> Iterator[Launcher]:
    launched = Launcher(tmp_path)
    yield launched
    launched.close()


@pytest.fixture(scope="module")
def module_launcher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launcher]:
    launched = Launcher(tmp_path_factory.mktemp("exporter"))
    yield launched
    launched.close()


@pytest.fixture(scope="module")
def busy_exporter(module_launcher: Launcher) -> Exporter:
    """Ticks every 10 ms; returned once every pipeline stage has happened at least once."""
    exporter = module_launcher.start(tick="0.01")
    exporter.wait_for(
        lambda snap: all(n > 0 for n in snap["counters"].values()), "every stage seen"
    )
    return exporter


@pytest.fixture(scope="module")
def idle_exporter(module_launcher: Launcher) -> Exporter:
    """Never ticks within a test run: every counter is still at its initial value."""
    return module_launcher.start(tick="3600")
