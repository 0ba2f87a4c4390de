"""The forensics bundle written beside verify.json when a run fails, so a CI artifact
explains itself: Prometheus targets (with lastError) and rules health, Grafana's
datasource list and datasource health, compose ps and log tails, a /metrics snapshot.
Every file is best-effort (a dead component is itself evidence) and scrubbed of secrets.

Each run writes into a directory of its own (the reporter names it and lists it in
verify.json). Every ``*.json`` file is JSON: ``{"request": {"method", "url"}, "status",
"body"}`` (the body parsed when it is JSON, else the text), or ``"error"`` instead of
status and body when the request failed. ``*.txt`` files start with a ``# GET …`` line."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from shadow_mvs.config.redaction import Redactor
from shadow_mvs.config.settings import Settings
from shadow_mvs.config.transport import access_client
from shadow_mvs.core.contract import load_contract
from shadow_mvs.stack.bringup import compose_logs
from shadow_mvs.stack.compose import compose_project

Fetch = Callable[[], str]


@dataclass(frozen=True)
class Get:
    """One read-only request whose answer is a forensics file."""

    url: str

    def fetch(self, client: httpx.Client) -> httpx.Response:
        return client.get(self.url)

    def as_json(self, client: httpx.Client) -> dict[str, Any]:
        document: dict[str, Any] = {"request": {"method": "GET", "url": self.url}}
        try:
            response = self.fetch(client)
        except httpx.HTTPError as error:  # a dead component is itself evidence
            document["error"] = f"{type(error).__name__}: {error}"
            return document
        document["status"] = response.status_code
        try:
            document["body"] = response.json()
        except ValueError:
            document["body"] = response.text
        return document

    def as_text(self, client: httpx.Client) -> str:
        response = self.fetch(client)
        return f"# GET {self.url} -> HTTP {response.status_code}\n{response.text}\n"


def sources(settings: Settings) -> dict[str, Get | Fetch]:
    """File name → what to fetch. Compose files only when this run owns the stack."""
    ds_uid = load_contract().datasource["uid"]
    prom, graf = settings.prometheus_url, settings.grafana_url
    # The client attaches each endpoint's credentials to its own URLs only: Grafana's token
    # never reaches Prometheus or the exporter, Prometheus's password never reaches Grafana.
    found: dict[str, Get | Fetch] = {
        "prometheus-targets.json": Get(f"{prom}/api/v1/targets"),
        "prometheus-rules.json": Get(f"{prom}/api/v1/rules"),
        "grafana-health.json": Get(f"{graf}/api/health"),
        "grafana-datasources.json": Get(f"{graf}/api/datasources"),
        "grafana-datasource-health.json": Get(f"{graf}/api/datasources/uid/{ds_uid}/health"),
        "exporter-metrics.txt": Get(f"{settings.exporter_url}/metrics"),
    }
    if settings.stack == "compose":
        compose = compose_project(settings)
        found["compose-ps.txt"] = lambda: compose.run("ps -a", check=False).stdout
        found["compose-logs.txt"] = lambda: compose_logs(compose, tail=60)
    return found


def _collect(name: str, source: Get | Fetch, client: httpx.Client, redactor: Redactor) -> str:
    """The file's text, redacted: a JSON document as values first (a secret inside a body
    string is matched as it is, not as JSON spells it), then the text once more."""
    try:
        if isinstance(source, Get):
            if name.endswith(".json"):
                document = redactor.data(source.as_json(client))
                return redactor.text(json.dumps(document, indent=2) + "\n")
            return redactor.text(source.as_text(client))
        return redactor.text(source())
    except Exception as error:  # forensics must never mask the verdict
        said = redactor.text(f"{type(error).__name__}: {error}")
        if name.endswith(".json"):
            return redactor.text(json.dumps({"error": said}, indent=2) + "\n")
        return f"# could not collect {name}: {said}\n"


def write_bundle(
    settings: Settings, out_dir: Path, redactor: Redactor, timeout_s: float = 3.0
) -> list[Path]:
    """Every file passes the run's redactor."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with access_client(
        settings.access.endpoints, timeout_s, strict=False, redirects_fail=False
    ) as client:
        for name, source in sources(settings).items():
            path = out_dir / name
            path.write_text(_collect(name, source, client, redactor))
            written.append(path)
    return written
