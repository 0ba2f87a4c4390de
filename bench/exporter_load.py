"""Exporter under abuse: a bounded load test against ``python -m exporter`` on a free port.

Three phases, each bounded in time: (1) a burst of concurrent GET /metrics from several
client threads (latency spread, errors); (2) IDLE connections opened and left silent, as a
slow or hostile client would, while fresh scrapes are timed; the exporter's thread count
is read from /proc while they are held; (3) how long until the exporter has closed every
idle connection (a per-connection timeout closes them; without one they stay open until
the bench gives up). Needs no Docker and no stack.
"""

from __future__ import annotations

import http.client
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from shadow_mvs.core.contract import REPO_ROOT
from shadow_mvs.core.waiting import GaveUp, bounded_poll

from .common import EXIT_OK, emit, emit_spread, parser, run_main
from .exporter_render import free_port, wait_serving

# How long phase 3 waits for the exporter to drop the idle connections (bounded).
CLOSE_BUDGET_S = 15.0


def threads_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return -1


def timed_get(port: int, path: str, timeout_s: float) -> float | None:
    """Seconds for one GET on a fresh connection; None when it failed. The stdlib client:
    a new httpx client per request would measure its own TLS-context set-up instead."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            return None
    except OSError:
        return None
    finally:
        connection.close()
    return time.perf_counter() - started


def burst(port: int, clients: int, per_client: int) -> None:
    with ThreadPoolExecutor(max_workers=clients) as pool:
        results = list(
            pool.map(lambda _: timed_get(port, "/metrics", 10.0), range(clients * per_client))
        )
    ok = [r * 1000 for r in results if r is not None]
    emit("exporter_load_burst_requests", str(len(results)))
    emit("exporter_load_burst_errors", str(len(results) - len(ok)))
    if ok:
        emit_spread("exporter_load_burst_latency", ok, "ms")


def idle_then_scrape(port: int, pid: int, idle: int, scrapes: int) -> list[socket.socket]:
    held = []
    for _ in range(idle):
        try:
            # Connected, never sends a byte. A bounded server with a full backlog lets the
            # connect time out: counted, not an error of the bench.
            held.append(socket.create_connection(("127.0.0.1", port), timeout=2.0))
        except OSError:
            continue
    emit("exporter_load_idle_connections", str(idle))
    emit("exporter_load_idle_connected", str(len(held)))
    # A fresh scrape queues behind the idle connections, so once it is answered the
    # server has accepted them all: the thread count is read after the scrapes.
    seconds = [timed_get(port, "/metrics", 30.0) for _ in range(scrapes)]
    emit("exporter_load_threads_with_idle", str(threads_of(pid)))
    ok = [s for s in seconds if s is not None]
    emit("exporter_load_scrape_errors_with_idle", str(len(seconds) - len(ok)))
    if ok:
        emit_spread("exporter_load_scrape_with_idle", ok, "s")
    return held


def closed_by_server(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def wait_all_closed(held: list[socket.socket]) -> None:
    started = time.monotonic()
    open_ = list(held)

    def all_closed() -> None:
        open_[:] = [s for s in open_ if not closed_by_server(s)]
        if open_:
            raise TimeoutError(f"{len(open_)} of {len(held)} idle connections still open")

    try:
        bounded_poll(
            all_closed, budget_s=CLOSE_BUDGET_S, interval_s=0.1, retry_if=(TimeoutError,), what=""
        )
        emit("exporter_load_idle_closed_after", time.monotonic() - started, "s")
    except GaveUp:
        emit("exporter_load_idle_closed_after", f">{CLOSE_BUDGET_S:g}", "s")
    emit("exporter_load_idle_still_open", str(len(open_)))


def main() -> int:
    cli = parser(__doc__, stack=False)
    cli.add_argument("--clients", type=int, default=20, help="burst client threads (default 20)")
    cli.add_argument("--per-client", type=int, default=20, help="requests each (default 20)")
    cli.add_argument("--idle", type=int, default=100, help="idle connections held (default 100)")
    cli.add_argument("--scrapes", type=int, default=5, help="scrapes timed while idle (default 5)")
    args = cli.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="shadow-mvs-bench-") as workdir:
        command = [sys.executable, "-m", "exporter", f"--listen=127.0.0.1:{port}"]
        command.append(f"--ledger={Path(workdir) / 'load.jsonl'}")
        with subprocess.Popen(
            command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        ) as process:
            try:
                with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5.0) as client:
                    wait_serving(client, process)
                emit("exporter_load_threads_at_rest", str(threads_of(process.pid)))
                burst(port, args.clients, args.per_client)
                held = idle_then_scrape(port, process.pid, args.idle, args.scrapes)
                wait_all_closed(held)
                emit("exporter_load_threads_after_wait", str(threads_of(process.pid)))
                for sock in held:
                    sock.close()
                alive = timed_get(port, "/healthz", 5.0) is not None
                emit("exporter_load_alive_after", str(alive).lower())
            finally:
                process.terminate()
                process.wait(timeout=10)
    return EXIT_OK


if __name__ == "__main__":
    run_main(main)
