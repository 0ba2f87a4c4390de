"""HTTP endpoints: /metrics (Prometheus text), /snapshot (JSON), /healthz."""

from __future__ import annotations

import json
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


class ExporterServer(ThreadingHTTPServer):
    daemon_threads = True


def make_server(
    host: str, port: int, pipeline: Pipeline, registry: CollectorRegistry
) -> ExporterServer:
    """Binds at once, so a taken port fails here with OSError before anything starts."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "shadow-mvs-exporter"

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path == "/metrics":
                self._send(200, METRICS_CONTENT_TYPE, generate_latest(registry))
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
