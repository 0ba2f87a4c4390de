"""HTTP endpoints: /metrics (prometheus-client's own handler), /snapshot (JSON), /healthz.

/metrics is served by prometheus-client's ``MetricsHandler``, so content negotiation is
the library's (exposition.py ``choose_encoder``/``gzip_accepted``, the same in Debian's
0.16 and in current releases): OpenMetrics when the scraper's ``Accept`` asks for
``application/openmetrics-text`` (ending in ``# EOF``), gzip when ``Accept-Encoding``
allows it, the classic ``text/plain; version=0.0.4`` otherwise.

The server is bounded, so a slow or hostile client cannot exhaust the process: each
connection has a timeout (a client that connects and stays silent is dropped), at most
``MAX_HANDLER_THREADS`` connections are served at once by a fixed pool (further ones wait
in the kernel's listen backlog, not in threads), and the backlog itself is larger than
socketserver's default of 5, so a burst of scrapes is queued, not refused.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import HTTPServer
from socket import socket
from typing import Any
from urllib.parse import urlsplit

from prometheus_client.exposition import MetricsHandler, generate_latest
from prometheus_client.registry import CollectorRegistry

from .pipeline import Pipeline

JSON_CONTENT_TYPE = "application/json"
# Seconds a connection may take to send its request (and to take the answer): loopback
# scrapers send at once; a silent client is dropped after this.
CONNECTION_TIMEOUT_S = 1.0
# Connections served at once; the next ones wait in the listen backlog.
MAX_HANDLER_THREADS = 64
LISTEN_BACKLOG = 128

log = logging.getLogger("shadow_mvs.exporter")

# Test-only (the fault matrix, fixtures/fault_scenarios.toml): env SHADOW_MVS_FAULT_EXPOSITION
# changes how /metrics is served, never what the simulator does; watch-only either way.
#   openmetrics-type   the same text announced as OpenMetrics (Prometheus then fails to parse)
#   stale-timestamps   every sample stamped two hours ago (Prometheus discards them)
EXPOSITION_FAULTS = ("openmetrics-type", "stale-timestamps")
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"
TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
STALE_BY_S = 7200


def stamped(body: bytes, at_s: float) -> bytes:
    """Every sample line with an explicit timestamp (milliseconds, the text format's unit)."""
    suffix = b" %d" % int(at_s * 1000)
    lines = [ln if not ln or ln.startswith(b"#") else ln + suffix for ln in body.splitlines()]
    return b"\n".join(lines) + b"\n"


class ExporterServer(HTTPServer):
    """An HTTPServer whose requests run on a fixed pool of ``max_threads`` threads.

    ``process_request`` takes a slot before it hands the connection to the pool, so the
    accept loop stops accepting while every thread is busy: waiting connections stay in
    the kernel's backlog instead of piling up as threads or queued sockets.
    """

    request_queue_size = LISTEN_BACKLOG

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[MetricsHandler],
        max_threads: int = MAX_HANDLER_THREADS,
    ) -> None:
        # Before binding: a failed bind calls server_close, which shuts the pool down.
        self.max_threads = max_threads
        self._slots = threading.BoundedSemaphore(max_threads)
        self._pool = ThreadPoolExecutor(max_workers=max_threads, thread_name_prefix="http")
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        self._slots.acquire()
        try:
            self._pool.submit(self._serve_one, request, client_address)
        except RuntimeError:  # the pool is shut down: the server is closing
            self._slots.release()
            self.shutdown_request(request)

    def _serve_one(self, request: socket, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """One log line per broken connection (a client that timed out or went away), not
        socketserver's traceback on stderr."""
        error = sys.exc_info()[1]
        log.debug("connection from %s ended: %r", client_address, error)

    def server_close(self) -> None:
        super().server_close()
        self._pool.shutdown(wait=False, cancel_futures=True)


def make_server(
    host: str,
    port: int,
    pipeline: Pipeline,
    registry: CollectorRegistry,
    max_threads: int = MAX_HANDLER_THREADS,
    timeout_s: float = CONNECTION_TIMEOUT_S,
    fault: str = "",
) -> ExporterServer:
    """Binds at once, so a taken port fails here with OSError before anything starts.
    ``fault``: one of EXPOSITION_FAULTS (test-only), or "" to serve as intended."""

    class Handler(MetricsHandler):
        server_version = "shadow-mvs-exporter"
        timeout = timeout_s  # StreamRequestHandler sets it on the connection's socket

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path == "/metrics":
                if fault:
                    self._send_faulty_metrics()
                else:
                    super().do_GET()  # prometheus-client: negotiation, OpenMetrics, gzip
            elif path == "/snapshot":
                self._send_json(200, pipeline.snapshot())
            elif path == "/healthz":
                health = {"status": "ok", "mode": pipeline.mode, "profile": pipeline.profile.name}
                self._send_json(200, health)
            else:
                self._send_json(404, {"error": f"no such endpoint: {path}"})

        def _send_faulty_metrics(self) -> None:
            """The test-only EXPOSITION_FAULTS: the classic text, mislabelled or stamped."""
            body, content_type = generate_latest(registry), TEXT_CONTENT_TYPE
            if fault == "openmetrics-type":
                content_type = OPENMETRICS_CONTENT_TYPE
            elif fault == "stale-timestamps":
                body = stamped(body, time.time() - STALE_BY_S)
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _send_json(self, status: int, payload: Any) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", JSON_CONTENT_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_error(self, format: str, *args: Any) -> None:
            # BaseHTTPRequestHandler reports a request that timed out or was malformed
            # here; one debug line, not a line on stderr per abusive client.
            log.debug("%s: " + format, self.address_string(), *args)

    Handler.registry = registry
    return ExporterServer((host, port), Handler, max_threads=max_threads)
