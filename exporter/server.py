"""HTTP endpoints: /metrics (Prometheus text), /snapshot (JSON), /healthz."""

from __future__ import annotations

import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from prometheus_client import generate_latest
from prometheus_client.registry import CollectorRegistry

from .pipeline import Pipeline

# The classic text format: every Prometheus version parses it, and newer clients
# would otherwise announce version=1.0.0 for the same bytes.
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
JSON_CONTENT_TYPE = "application/json"

# Test-only (the fault matrix, fixtures/fault_scenarios.toml): env SHADOW_MVS_FAULT_EXPOSITION
# changes how /metrics is served, never what the simulator does; watch-only either way.
#   openmetrics-type   the same text announced as OpenMetrics (Prometheus then fails to parse)
#   stale-timestamps   every sample stamped two hours ago (Prometheus discards them)
EXPOSITION_FAULTS = ("openmetrics-type", "stale-timestamps")
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"
STALE_BY_S = 7200


def stamped(body: bytes, at_s: float) -> bytes:
    """Every sample line with an explicit timestamp (milliseconds, the text format's unit)."""
    suffix = b" %d" % int(at_s * 1000)
    lines = [ln if not ln or ln.startswith(b"#") else ln + suffix for ln in body.splitlines()]
    return b"\n".join(lines) + b"\n"


class ExporterServer(ThreadingHTTPServer):
    daemon_threads = True


def make_server(
    host: str, port: int, pipeline: Pipeline, registry: CollectorRegistry, fault: str = ""
) -> ExporterServer:
    """Binds at once, so a taken port fails here with OSError before anything starts.
    ``fault``: one of EXPOSITION_FAULTS (test-only), or "" to serve as intended."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "shadow-mvs-exporter"

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path == "/metrics":
                body, content_type = generate_latest(registry), METRICS_CONTENT_TYPE
                if fault == "openmetrics-type":
                    content_type = OPENMETRICS_CONTENT_TYPE
                elif fault == "stale-timestamps":
                    body = stamped(body, time.time() - STALE_BY_S)
                self._send(200, content_type, body)
            elif path == "/snapshot":
                self._send_json(200, pipeline.snapshot())
            elif path == "/healthz":
                health = {"status": "ok", "mode": pipeline.mode, "profile": pipeline.profile.name}
                self._send_json(200, health)
            else:
                self._send_json(404, {"error": f"no such endpoint: {path}"})

        def _send_json(self, status: int, payload: Any) -> None:
            self._send(status, JSON_CONTENT_TYPE, json.dumps(payload).encode())

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # a scrape every 5 s would drown the useful log lines

    return ExporterServer((host, port), Handler)
