"""A webhook receiver that appends each notification to a JSONL file and serves it.

Alertmanager's webhook integration POSTs one JSON object per notification (version "4":
receiver, status, alerts, groupLabels, commonLabels, commonAnnotations, externalURL,
groupKey, truncatedAlerts — alertmanager notify/webhook/webhook.go, ``Message``) and counts
any answer outside 2xx as a failed notification
(``alertmanager_notifications_failed_total{integration="webhook"}``).

    POST /alerts          append the body (with ``received_at``) as one line, answer 200
    GET  /notifications   the file as application/x-ndjson (read-only)
    GET  /-/ready         200 once the file is writable
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

LOG = logging.getLogger("alert_receiver")
DEFAULT_LISTEN = "127.0.0.1:9097"
DEFAULT_FILE = "/var/lib/alert-receiver/notifications.jsonl"
MAX_BODY = 4 * 1024 * 1024  # Alertmanager's payloads are small; refuse a runaway one


class Recorder:
    """Appends one line per notification; one lock so concurrent posts never interleave."""

    def __init__(self, path: Path):
        self.path = path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.touch()
        self._lock = threading.Lock()

    def append(self, payload: object) -> None:
        line = json.dumps({"received_at": time.time(), "payload": payload}, sort_keys=True)
        with self._lock, self.path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")

    def read(self) -> bytes:
        with self._lock:
            return self.path.read_bytes()


def handler_for(recorder: Recorder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "shadow-mvs-alert-receiver"

        def _answer(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/-/ready":
                self._answer(200, b"ready\n")
            elif self.path == "/notifications":
                self._answer(200, recorder.read(), "application/x-ndjson")
            else:
                self._answer(404, b"not found: GET /notifications or /-/ready\n")

        def do_POST(self) -> None:
            if self.path != "/alerts":
                self._answer(404, b"not found: POST /alerts\n")
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._answer(413, b"payload too large\n")
                return
            try:
                payload = json.loads(self.rfile.read(length))
            except ValueError as error:
                self._answer(400, f"not JSON: {error}\n".encode())
                return
            recorder.append(payload)
            LOG.info(
                "notification status=%s alerts=%d receiver=%s",
                payload.get("status") if isinstance(payload, dict) else "?",
                len(payload.get("alerts", [])) if isinstance(payload, dict) else 0,
                payload.get("receiver") if isinstance(payload, dict) else "?",
            )
            self._answer(200, b"recorded\n")

        def log_message(self, format: str, *args: object) -> None:
            LOG.debug(format, *args)

    return Handler


def serve(listen: str, path: Path) -> ThreadingHTTPServer:
    host, _, port = listen.rpartition(":")
    return ThreadingHTTPServer((host, int(port)), handler_for(Recorder(path)))


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    listen = os.environ.get("ALERT_RECEIVER_LISTEN", DEFAULT_LISTEN)
    path = Path(os.environ.get("ALERT_RECEIVER_FILE", DEFAULT_FILE))
    server = serve(listen, path)
    LOG.info("alert receiver on %s, recording to %s", listen, path)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0
