"""The forensics bundle written beside verify.json when a run fails, so a CI artifact
explains itself: Prometheus targets (with lastError) and rules health, Grafana's
datasource list and datasource health, compose ps and log tails, a /metrics snapshot.
Every file is best-effort (a dead component is itself evidence) and scrubbed of secrets."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from pathlib import Path

import httpx

from .access import access_client
from .bringup import compose_logs
from .contract import load_contract
from .settings import Settings

REDACTED = "***"
Fetch = Callable[[], str]


def _get(client: httpx.Client, url: str) -> str:
    response = client.get(url)
    body = response.text
    with contextlib.suppress(ValueError):  # not JSON: keep the raw text
        body = json.dumps(response.json(), indent=2)
    return f"# GET {url} -> HTTP {response.status_code}\n{body}\n"


def sources(settings: Settings, client: httpx.Client) -> dict[str, Fetch]:
    """File name → how to fetch it. Compose files only when this run owns the stack."""
    ds_uid = load_contract().datasource["uid"]
    prom, graf = settings.prometheus_url, settings.grafana_url
    # The client attaches each endpoint's credentials to its own URLs only: Grafana's token
    # never reaches Prometheus or the exporter, Prometheus's password never reaches Grafana.
    found: dict[str, Fetch] = {
        "prometheus-targets.json": lambda: _get(client, f"{prom}/api/v1/targets"),
        "prometheus-rules.json": lambda: _get(client, f"{prom}/api/v1/rules"),
        "grafana-health.json": lambda: _get(client, f"{graf}/api/health"),
        "grafana-datasources.json": lambda: _get(client, f"{graf}/api/datasources"),
        "grafana-datasource-health.json": lambda: _get(
            client, f"{graf}/api/datasources/uid/{ds_uid}/health"
        ),
        "exporter-metrics.txt": lambda: _get(client, f"{settings.exporter_url}/metrics"),
    }
    if settings.stack == "compose":
        compose = settings.compose
        found["compose-ps.txt"] = lambda: compose.run("ps -a", check=False).stdout
        found["compose-logs.txt"] = lambda: compose_logs(compose, tail=60)
    return found


def redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


def write_bundle(
    settings: Settings, out_dir: Path, secrets: list[str], timeout_s: float = 3.0
) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with access_client(settings.access.endpoints, timeout_s, strict=False) as client:
        for name, fetch in sources(settings, client).items():
            try:
                text = fetch()
            except Exception as error:  # forensics must never mask the verdict
                text = f"# could not collect {name}: {type(error).__name__}: {error}\n"
            path = out_dir / name
            path.write_text(redact(text, secrets))
            written.append(path)
    return written
