"""Exporter render: /metrics render time in-process (the exporter's own registry) and
over HTTP (``python -m exporter`` on a free port, temp ledger), plus the process's RSS.

Needs no Docker and no stack.
"""

from __future__ import annotations

import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from prometheus_client import generate_latest

from exporter.ledger import Ledger
from exporter.metrics import build_registry
from exporter.pipeline import Pipeline
from shadow_mvs.core.contract import REPO_ROOT
from shadow_mvs.core.waiting import GaveUp, bounded_poll
from shadow_mvs.stack.compose import EnvironmentProblem

from .common import EXIT_OK, emit, p95, parser, run_main

WARMUP_REQUESTS = 20
# Counts of a minute of simulation (four ticks a second); the series set is fixed anyway.
WARMUP_TICKS = 240


def timings_ms(action: Callable[[], object], count: int) -> list[float]:
    result = []
    for _ in range(count):
        started = time.perf_counter()
        action()
        result.append((time.perf_counter() - started) * 1000)
    return result


def emit_timings(name: str, values: list[float]) -> float:
    mean = statistics.fmean(values)
    emit(f"{name}_mean", mean, "ms")
    emit(f"{name}_p95", p95(values), "ms")
    return mean


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise EnvironmentProblem(f"no VmRSS in /proc/{pid}/status")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def in_process(workdir: Path, requests: int) -> float:
    """Mean ms of ``generate_latest`` on the exporter's registry, no HTTP in between."""
    ledger = Ledger(workdir / "in-process.jsonl")
    pipeline = Pipeline(seed=42, mode="shadow", exchange="kraken", run_id="bench", ledger=ledger)
    pipeline.set_run_state("running")
    for _ in range(WARMUP_TICKS):
        pipeline.advance()
    registry = build_registry(pipeline)

    def render() -> bytes:
        return generate_latest(registry)

    body = render()
    timings_ms(render, WARMUP_REQUESTS)
    mean = emit_timings("exporter_render_inprocess", timings_ms(render, requests))
    samples = [line for line in body.decode().splitlines() if line and not line.startswith("#")]
    emit("exporter_metrics_bytes", str(len(body)), "B")
    emit("exporter_metrics_samples", str(len(samples)))
    ledger.close()
    return mean


def over_http(workdir: Path, requests: int) -> tuple[float, int]:
    """Mean ms of GET /metrics against a real exporter process, and its RSS in KiB."""
    port = free_port()
    command = [sys.executable, "-m", "exporter", f"--listen=127.0.0.1:{port}"]
    command.append(f"--ledger={workdir / 'http.jsonl'}")
    with subprocess.Popen(
        command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    ) as process:
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5.0) as client:
                wait_serving(client, process)
                timings_ms(lambda: client.get("/metrics").raise_for_status(), WARMUP_REQUESTS)
                emit("exporter_rss_after_warmup", str(rss_kib(process.pid)), "KiB")
                timings = timings_ms(lambda: client.get("/metrics").raise_for_status(), requests)
                mean = emit_timings("exporter_render_http", timings)
                rss = rss_kib(process.pid)
                emit("exporter_rss_after_requests", str(rss), "KiB")
        finally:
            process.terminate()
            process.wait(timeout=10)
    return mean, rss


def wait_serving(client: httpx.Client, process: subprocess.Popen[str]) -> None:
    def healthz() -> None:
        if process.poll() is not None:
            raise EnvironmentProblem(f"exporter exited: {process.stderr and process.stderr.read()}")
        client.get("/healthz").raise_for_status()

    try:
        bounded_poll(
            healthz, budget_s=10, interval_s=0.1, retry_if=(httpx.HTTPError,), what="exporter"
        )
    except GaveUp as error:
        raise EnvironmentProblem(f"exporter did not serve within 10 s: {error.last!r}") from None


def main() -> int:
    cli = parser(__doc__, stack=False)
    cli.add_argument("--requests", type=int, default=200, help="timed renders (default 200)")
    args = cli.parse_args()
    with tempfile.TemporaryDirectory(prefix="shadow-mvs-bench-") as workdir:
        in_process_ms = in_process(Path(workdir), args.requests)
        http_ms, rss = over_http(Path(workdir), args.requests)
    print(
        f"exporter render ({args.requests} each): {in_process_ms:.2f} ms in-process, "
        f"{http_ms:.2f} ms over HTTP; exporter RSS {rss / 1024:.1f} MiB"
    )
    return EXIT_OK


if __name__ == "__main__":
    run_main(main)
