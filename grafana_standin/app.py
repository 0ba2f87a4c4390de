"""Start-up: provision (fatal errors exit before the port opens), then serve until SIGTERM."""

from __future__ import annotations

import os
import signal
import ssl
import sys
import threading
from collections.abc import Mapping
from types import FrameType

from shadow_mvs.evidence.grafana_rules.dashboards import provision_dashboards
from shadow_mvs.evidence.grafana_rules.datasources import provision_datasources
from shadow_mvs.evidence.grafana_rules.errors import ProvisioningError
from shadow_mvs.evidence.grafana_rules.logfmt import log

from . import COMMIT, VERSION
from .auth import Authenticator
from .server import StandinServer, State
from .settings import Settings, expand_file_variables


def build_state(settings: Settings, env: Mapping[str, str]) -> State:
    """Everything the API serves, from the provisioning files; ProvisioningError if fatal."""
    datasources = provision_datasources(settings.provisioning_dir, env)
    dashboards = provision_dashboards(settings.provisioning_dir, env)
    return State(settings, datasources, dashboards, Authenticator(settings))


RUN_ERROR_PREFIX = "*provisioning.ProvisioningServiceImpl run error: "


def failed_message(error: ProvisioningError) -> str:
    """Grafana's msg for a fatal provisioning error, by the provisioner that raised it."""
    return error.logged or "Failed to provision"


def main(env: Mapping[str, str] | None = None) -> int:
    environ = expand_file_variables(os.environ if env is None else env)
    settings = Settings.from_env(environ)
    log("server", "info", "Starting Grafana stand-in", version=VERSION, commit=COMMIT)
    try:
        state = build_state(settings, environ)
    except ProvisioningError as exc:
        # As Grafana's init provisioners: one logfmt error line, the CLI's "Error: ✗" line on
        # stderr, exit 1 before the listener opens (compose shows the service "exited (1)").
        log("provisioning", "error", failed_message(exc), error=exc)
        print(f"Error: ✗ {RUN_ERROR_PREFIX}{exc}", file=sys.stderr, flush=True)
        return 1
    server = StandinServer((settings.http_addr, settings.http_port), state)
    if settings.protocol == "https":
        if not (settings.cert_file and settings.cert_key):
            print("Error: ✗ cert_file and cert_key are required for https", file=sys.stderr)
            return 1
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(settings.cert_file, settings.cert_key)
        server.socket = context.wrap_socket(server.socket, server_side=True)

    def stop(signum: int, _frame: FrameType | None) -> None:
        log("server", "info", "Shutdown started", reason=signal.Signals(signum).name)
        # shutdown() waits for serve_forever(), which runs in this (the main) thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    address = f"{settings.http_addr}:{server.server_port}"
    log("http.server", "info", "HTTP Server Listen", address=address, protocol=settings.protocol)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    log("server", "info", "stopped")
    return 0
