"""Credentials never cross an origin: every HTTP client the suite uses (the checks' httpx
client for exporter and Prometheus, the Grafana client, the forensics client and the
requests session behind prometheus-api-client) meets a server that redirects to another
port, and the other port sees no request at all; the checks' clients fail at once with a
final cause that says what answered. Grafana's /api/health, which Grafana serves without
auth, answering 401 is a proxy in front of it, also final. Real loopback servers, no Docker.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from fixtures.loopback import QuietHandler, serving
from shadow_mvs.config.access import TLS, Access, EndpointAccess, SecretNames
from shadow_mvs.config.settings import Settings
from shadow_mvs.config.transport import access_client, requests_session
from shadow_mvs.core.causes import load_causes
from shadow_mvs.core.run import CheckFailed
from shadow_mvs.plugin.clients import GrafanaClient, prometheus_client
from shadow_mvs.report.forensics import write_bundle

TOKEN = "glsa_redirect-token-1"
HEADERS = (("X-Api-Key", "k3y-redirect"), ("X-Scope-OrgID", "tenant-r"))


class Redirecting(QuietHandler):
    """Every request is recorded; every answer is ``status`` to ``target`` (or 200)."""

    seen: list[dict[str, Any]]
    target: str = ""
    status: int = 302

    def do_GET(self) -> None:
        self.seen.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
        if self.target:
            self.send_response(self.status)
            self.send_header("Location", f"{self.target}/login?next=%2F&token=secret-in-query")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.reply_json(self.status, {"database": "ok"})

    do_POST = do_GET


@contextmanager
def server(**attributes: Any) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []
    handler = type("Handler", (Redirecting,), {"seen": seen, **attributes})
    with serving(handler) as port:
        yield f"http://127.0.0.1:{port}", seen


@contextmanager
def redirect_pair(status: int = 302) -> Iterator[tuple[str, list[Any], str, list[Any]]]:
    """An endpoint on one port that redirects to a recorder on another."""
    with (
        server(status=200) as (elsewhere, elsewhere_seen),
        server(target=elsewhere, status=status) as (url, seen),
    ):
        yield url, seen, elsewhere, elsewhere_seen


def access(name: str, url: str) -> EndpointAccess:
    return EndpointAccess(
        name,
        url,
        token=TOKEN,
        source="TOKEN",
        headers=HEADERS,
        tls=TLS(),
        names=SecretNames(headers_secret=True),
    )


def assert_final_redirect(failed: pytest.ExceptionInfo[CheckFailed], title: str, to: str) -> None:
    assert failed.value.cause == "redirect"
    assert failed.value.retryable is False
    assert f"answered 302 to {to}/…: a login proxy in front of {title}?" in failed.value.message
    assert "secret-in-query" not in failed.value.message


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_checks_httpx_client_follows_no_redirect(status: int) -> None:
    with (
        redirect_pair(status) as (url, seen, elsewhere, elsewhere_seen),
        access_client([access("prometheus", url)], 5.0) as client,
        pytest.raises(CheckFailed) as failed,
    ):
        client.get(f"{url}/api/v1/query")
    assert failed.value.cause == "redirect"
    assert f"answered {status} to {elsewhere}/…" in failed.value.message
    assert len(seen) == 1
    assert elsewhere_seen == []


def test_grafana_client_follows_no_redirect_and_says_what_answered() -> None:
    with redirect_pair() as (url, seen, elsewhere, elsewhere_seen):
        client = GrafanaClient(access("grafana", url), 5.0)
        with pytest.raises(CheckFailed) as failed:
            client.health()
        with pytest.raises(CheckFailed):
            client.get_json("/api/datasources")
        client.close()
    assert_final_redirect(failed, "Grafana", elsewhere)
    assert len(seen) == 2
    assert elsewhere_seen == []


def test_prometheus_api_client_session_follows_no_redirect() -> None:
    with redirect_pair() as (url, seen, elsewhere, elsewhere_seen):
        with pytest.raises(CheckFailed) as failed:
            prometheus_client(access("prometheus", url), 5.0).custom_query("up")
        with pytest.raises(CheckFailed):
            requests_session(access("prometheus", url)).get(f"{url}/api/v1/status", timeout=5)
    assert_final_redirect(failed, "Prometheus", elsewhere)
    assert len(seen) == 2
    assert elsewhere_seen == []


def test_forensics_keeps_a_redirect_as_evidence_and_follows_none(monkeypatch, tmp_path: Path):
    for var in ("GRAFANA_TOKEN", "GRAFANA_AUTH", "PROMETHEUS_AUTH", "PROMETHEUS_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SHADOW_MVS_ENV_FILE", str(tmp_path / "absent.env"))
    monkeypatch.setenv("GRAFANA_TOKEN", TOKEN)
    monkeypatch.setenv("PROMETHEUS_HEADERS", "X-Api-Key=k3y-redirect")
    with redirect_pair() as (url, seen, _, elsewhere_seen):
        settings = Settings.from_values(
            {"stack": "external", "exporter_url": url, "prometheus_url": url, "grafana_url": url}
        )
        written = write_bundle(settings, tmp_path / "forensics", settings.redactor())
    assert len(seen) == len(written)
    assert elsewhere_seen == []
    health = (tmp_path / "forensics" / "grafana-health.json").read_text()
    assert '"status": 302' in health


def test_a_redirect_and_a_denied_health_are_final_causes() -> None:
    causes = load_causes()
    assert causes["redirect"].node == "F-code"
    assert causes["grafana_health_denied"].node == "G-4"
    # The class key (read by the loader of branch issue-17hops) is data like the rest.
    import tomllib

    from shadow_mvs.core.contract import PACKAGE_DIR

    raw = tomllib.loads((PACKAGE_DIR / "data" / "causes.toml").read_text())
    classes = {c["id"]: c.get("class") for c in raw["cause"]}
    assert classes["redirect"] == "final"
    assert classes["grafana_health_denied"] == "final"


@pytest.mark.parametrize("status", [401, 403])
def test_grafana_health_denied_is_a_proxy_in_front_and_final(status: int) -> None:
    with server(status=status) as (url, _):
        client = GrafanaClient(Access((access("grafana", url),))["grafana"], 5.0)
        with pytest.raises(CheckFailed) as failed:
            client.health()
        client.close()
    assert failed.value.cause == "grafana_health_denied"
    assert failed.value.retryable is False
    assert failed.value.message.startswith(
        f"Grafana's /api/health needs no login, yet it answered HTTP {status}: "
        "a proxy or SSO in front of Grafana?"
    )
