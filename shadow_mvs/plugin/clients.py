"""HTTP clients for the three links the checks read, and their session fixtures.

Every client is read-only: GETs, plus Grafana's ``POST /api/ds/query``, which only
queries. Timeouts are short because the checks retry; each retry should see fresh state.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_api_client import PrometheusConnect
from urllib3.util.retry import Retry

from shadow_mvs.config.access import EndpointAccess
from shadow_mvs.config.settings import Settings
from shadow_mvs.config.transport import AccessTransport, access_client, requests_session
from shadow_mvs.core.contract import load_contract
from shadow_mvs.core.run import CheckFailed


class GrafanaAuthError(CheckFailed):
    def __init__(self, message: str):
        super().__init__(message, cause="auth", retryable=False)


class GrafanaClient:
    """Grafana's HTTP API as the checks need it; says 401/403 in plain words."""

    def __init__(self, access: EndpointAccess, timeout_s: float):
        self.base_url = access.url
        self.access = access
        self.user = access.basic[0] if access.basic else None
        # Credentials, extra headers and TLS come from the access transport, for this URL only.
        self._http = httpx.Client(
            base_url=access.url,
            transport=AccessTransport([access], strict=False),
            timeout=timeout_s,
            headers={"Accept": "application/json"},
        )

    def close(self) -> None:
        self._http.close()

    def health(self) -> httpx.Response:
        """Grafana serves /api/health before any auth middleware (pkg/api/http_server.go,
        ``addMiddlewaresAndStaticRoutes``; /work/shared/reference/grafana-api.md §1): a 401
        or 403 there comes from something in front of Grafana, and waiting cannot cure it.
        (A redirect is refused by the access transport with its own final cause.)"""
        response = self._http.get("/api/health")
        if response.status_code in (401, 403):
            raise CheckFailed(
                f"{self.base_url}/api/health answered HTTP {response.status_code}",
                cause="grafana_health_denied",
                retryable=False,
                facts={"status": response.status_code},
            )
        return response

    def get_json(self, path: str, **params: Any) -> Any:
        return self._checked(self._http.get(path, params=params or None)).json()

    def post_json(self, path: str, body: dict[str, Any]) -> httpx.Response:
        """POST for read-only query endpoints; the caller inspects per-query errors."""
        response = self._http.post(path, json=body)
        if response.status_code in (401, 403):
            self._checked(response)
        return response

    def datasource_health(self, uid: str) -> dict[str, Any]:
        """Grafana answers a failed datasource health check with HTTP 400 and a JSON body
        ``{"status": "ERROR", "message": …}``: that body is the evidence, not the status."""
        response = self._http.get(f"/api/datasources/uid/{uid}/health")
        if response.status_code == 400:
            with contextlib.suppress(ValueError):
                body = response.json()
                if isinstance(body, dict) and body.get("status") == "ERROR":
                    return body
        result: dict[str, Any] = self._checked(response).json()
        return result

    def datasources(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.get_json("/api/datasources")
        return result

    def default_datasource(self) -> dict[str, Any] | None:
        return next((ds for ds in self.datasources() if ds.get("isDefault")), None)

    def _checked(self, response: httpx.Response) -> httpx.Response:
        if self.access.token and response.status_code in (401, 403):
            raise GrafanaAuthError(self._token_denied(response))
        if self.user is None and response.status_code in (401, 403):
            raise CheckFailed(
                "no Grafana credentials to verify with (set GRAFANA_TOKEN to a service-account "
                "token, GRAFANA_AUTH=user:pass, or GF_SECURITY_ADMIN_USER/PASSWORD in .env) "
                f"(HTTP {response.status_code})",
                cause="grafana_no_credentials",
                retryable=False,
            )
        if response.status_code == 401:
            raise GrafanaAuthError(
                f"Grafana auth failed for user {self.user!r}: wrong password or a stale "
                "Grafana database with another admin password (HTTP 401)"
            )
        if response.status_code == 403:
            raise GrafanaAuthError(
                f"Grafana denied {response.request.url.path} to user {self.user!r}: "
                "it needs the Admin role (HTTP 403)"
            )
        response.raise_for_status()
        return response

    def _token_denied(self, response: httpx.Response) -> str:
        source = self.access.source
        try:
            body = response.json()
        except ValueError:
            body = {}
        said = f"{body.get('messageId', '?')}: {body.get('message', response.reason_phrase)}"
        if response.status_code == 401:
            return (
                f"Grafana rejected the service-account token from {source} "
                f"(HTTP 401 {said}): token wrong, expired or revoked"
            )
        return (
            f"Grafana denied {response.request.url.path} to the service account of {source} "
            f"(HTTP 403): it needs the Admin role"
        )


def prometheus_client(access: EndpointAccess, timeout_s: float) -> PrometheusConnect:
    # urllib3 retries are off: tenacity owns retrying, with a budget per check. The session's
    # adapter for Prometheus's URL adds its credentials, headers and TLS and names auth and
    # TLS failures (see requests_session).
    return PrometheusConnect(
        url=access.url, session=requests_session(access), retry=Retry(total=0), timeout=timeout_s
    )


@pytest.fixture(scope="session")
def shadow_mvs_http(shadow_mvs_settings: Settings) -> Iterator[httpx.Client]:
    """For the exporter, Prometheus and Alertmanager: each URL gets its own endpoint's
    credentials."""
    endpoints = [
        shadow_mvs_settings.access["exporter"],
        shadow_mvs_settings.access["prometheus"],
        shadow_mvs_settings.access["alertmanager"],
    ]
    with access_client(endpoints, load_contract().request_timeout_s) as client:
        yield client


@pytest.fixture(scope="session")
def shadow_mvs_grafana(shadow_mvs_settings: Settings) -> Iterator[GrafanaClient]:
    client = GrafanaClient(shadow_mvs_settings.access["grafana"], load_contract().request_timeout_s)
    yield client
    client.close()


@pytest.fixture(scope="session")
def shadow_mvs_prometheus(shadow_mvs_settings: Settings) -> Iterator[PrometheusConnect]:
    client = prometheus_client(
        shadow_mvs_settings.access["prometheus"], load_contract().request_timeout_s
    )
    yield client
    client.close()
