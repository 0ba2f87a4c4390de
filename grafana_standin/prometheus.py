"""Talking to the Prometheus a datasource points at, with Grafana-like error texts."""

from __future__ import annotations

import base64
import functools
import json
import socket
import ssl
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from shadow_mvs.evidence.grafana_rules.datasources import Datasource

HEALTH_OK = "Successfully queried the Prometheus API."
HEALTH_ERROR_SUFFIX = " - There was an error returned querying the Prometheus API."
# pkg/promlib/client/client.go endpointsSupportOnlyGet: resource calls that always use GET.
GET_ONLY_ENDPOINTS = (
    "api/v1/label/", "api/v1/metadata", "api/v1/targets", "api/v1/rules", "api/v1/alerts",
    "api/v1/targets/metadata", "api/v1/alertmanagers", "api/v1/status/config",
    "api/v1/status/flags", "api/v1/status/runtimeinfo", "api/v1/status/buildinfo",
    "api/v1/status/tsdb", "api/v1/status/walreplay", "api/v1/notifications",
)  # fmt: skip


class PrometheusError(Exception):
    """A transport or API failure; ``str()`` is the cause text Grafana would show."""


def _go_style_cause(method: str, url: str, exc: BaseException) -> str:
    """Roughly Go's ``*url.Error`` text, e.g. ``Post "http://x/api/v1/query": dial tcp …``."""
    parts = urllib.parse.urlsplit(url)
    host = parts.netloc
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, ssl.SSLCertVerificationError):
        detail = f"tls: failed to verify certificate: {_x509_words(reason, parts.hostname)}"
    elif isinstance(reason, socket.gaierror):
        detail = f"dial tcp: lookup {parts.hostname}: no such host"
    elif isinstance(reason, ConnectionRefusedError):
        detail = f"dial tcp {host}: connect: connection refused"
    elif isinstance(reason, TimeoutError | socket.timeout):
        detail = "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
    else:
        detail = str(reason)
    return f'{method.capitalize()} "{url}": {detail}'


def _x509_words(error: ssl.SSLCertVerificationError, host: str | None) -> str:
    """Go's crypto/x509 texts for the verification failures Python reports."""
    message = (error.verify_message or str(error)).lower()
    if "expired" in message:
        return "x509: certificate has expired or is not yet valid"
    if "mismatch" in message or "not valid for" in message:
        return f"x509: certificate is not valid for {host}"
    return "x509: certificate signed by unknown authority"


def tls_context(datasource: Datasource) -> ssl.SSLContext | None:
    """Grafana's datasource TLS fields: tlsSkipVerify, tlsAuthWithCACert (+ secure
    tlsCACert PEM), tlsAuth (+ secure tlsClientCert / tlsClientKey PEM)."""
    json_data, secure = datasource.json_data, datasource.secure_json_data
    if not datasource.url.lower().startswith("https://"):
        return None
    with_ca = bool(json_data.get("tlsAuthWithCACert") and secure.get("tlsCACert"))
    with_cert = bool(json_data.get("tlsAuth") and secure.get("tlsClientCert"))
    return _context(
        secure["tlsCACert"] if with_ca else None,
        bool(json_data.get("tlsSkipVerify")),
        secure["tlsClientCert"] if with_cert else None,
        secure.get("tlsClientKey", "") if with_cert else None,
    )


# One context per TLS configuration, as Grafana keeps one HTTP client per datasource instance
# until its settings change (the plugin SDK's instance manager). Building one is ~50 ms of
# CPU (the system CA store), and the stand-in used to build it for every proxied call.
@functools.lru_cache(maxsize=32)
def _context(
    ca_pem: str | None, skip_verify: bool, client_cert: str | None, client_key: str | None
) -> ssl.SSLContext:
    context = ssl.create_default_context(cadata=ca_pem)  # None: the system store
    if skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if client_cert is not None:
        with tempfile.TemporaryDirectory() as tmp:  # ssl loads a chain from files only
            cert, key = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
            cert.write_text(client_cert)
            key.write_text(client_key or "")
            context.load_cert_chain(cert, key)
    return context


def custom_headers(datasource: Datasource) -> dict[str, str]:
    """jsonData.httpHeaderNameN + secureJsonData.httpHeaderValueN (e.g. X-Scope-OrgID)."""
    found = {}
    for key, name in datasource.json_data.items():
        if key.startswith("httpHeaderName") and name:
            index = key.removeprefix("httpHeaderName")
            found[str(name)] = datasource.secure_json_data.get(f"httpHeaderValue{index}", "")
    return found


class PrometheusClient:
    def __init__(self, datasource: Datasource, timeout_s: float) -> None:
        self.base_url = datasource.url.rstrip("/")
        # Grafana's Prometheus client uses POST unless the datasource says GET.
        method = str(datasource.json_data.get("httpMethod") or "POST").upper()
        self.method = "GET" if method == "GET" else "POST"
        self.timeout_s = timeout_s
        self.headers = {"Accept": "application/json", **custom_headers(datasource)}
        self.context = tls_context(datasource)
        if datasource.basic_auth:
            secret = datasource.secure_json_data.get("basicAuthPassword", "")
            token = base64.b64encode(f"{datasource.basic_auth_user}:{secret}".encode()).decode()
            self.headers["Authorization"] = f"Basic {token}"

    def call(self, api_path: str, params: dict[str, str], method: str | None = None) -> Any:
        """The ``data`` of a successful Prometheus API answer, else PrometheusError."""
        method = method or self.method
        url = f"{self.base_url}{api_path}"
        encoded = urllib.parse.urlencode(params)
        if method == "GET":
            request = urllib.request.Request(
                f"{url}?{encoded}" if encoded else url, headers=self.headers
            )
        else:
            headers = self.headers | {"Content-Type": "application/x-www-form-urlencoded"}
            request = urllib.request.Request(url, data=encoded.encode(), headers=headers)
        try:
            with urllib.request.urlopen(
                request, timeout=self.timeout_s, context=self.context
            ) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            body = exc.read()
            api_error = _api_error(body)
            if api_error:
                raise PrometheusError(api_error) from exc
            raise PrometheusError(f"{exc.code} {exc.reason}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise PrometheusError(_go_style_cause(method, url, exc)) from exc
        try:
            answer = json.loads(body)
        except ValueError as exc:
            raise PrometheusError(f"invalid JSON from {url}: {exc}") from exc
        if answer.get("status") != "success":
            raise PrometheusError(_api_error(body) or "unknown error from Prometheus")
        return answer.get("data")

    def forward(
        self, method: str, api_path: str, raw_query: str, body: bytes
    ) -> tuple[int, str, bytes]:
        """promlib's resource call (``pkg/promlib/client/client.go`` ``QueryResource``):
        Prometheus's own status, content type and body, passed through unchanged. GET when
        the datasource says GET or the endpoint only supports GET (label values, metadata,
        rules …); a POST answered 400/405 is retried as GET with the form in the query.
        Transport failures raise PrometheusError."""
        get_only = self.method == "GET" or api_path.lstrip("/").startswith(GET_ONLY_ENDPOINTS)
        if method == "POST" and not get_only:
            status, content_type, answer = self._raw("POST", api_path, raw_query, body)
            if status not in (400, 405):
                return status, content_type, answer
        merged = "&".join(part for part in (raw_query, body.decode("latin-1")) if part)
        return self._raw("GET", api_path, merged, b"")

    def _raw(self, method: str, api_path: str, query: str, body: bytes) -> tuple[int, str, bytes]:
        url = f"{self.base_url}/{api_path.lstrip('/')}"
        headers = dict(self.headers)
        if method == "POST":
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        request = urllib.request.Request(
            f"{url}?{query}" if query else url,
            data=body if method == "POST" else None,
            headers=headers,
            method=method,
        )
        try:
            with urllib.request.urlopen(
                request, timeout=self.timeout_s, context=self.context
            ) as response:
                return response.status, response.headers.get("Content-Type", ""), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers.get("Content-Type", ""), exc.read()
        except (urllib.error.URLError, OSError) as exc:
            raise PrometheusError(_go_style_cause(method, url, exc)) from exc

    def health(self) -> tuple[int, dict[str, Any]]:
        """Grafana's Prometheus ``CheckHealth``: an instant ``1+1``, then buildinfo details."""
        try:
            self.call("/api/v1/query", {"query": "1+1"})
        except PrometheusError as exc:
            return 400, {"status": "ERROR", "message": f"{exc}{HEALTH_ERROR_SUFFIX}"}
        body: dict[str, Any] = {"status": "OK", "message": HEALTH_OK}
        try:
            info = self.call("/api/v1/status/buildinfo", {}, method="GET")
        except PrometheusError:
            return 200, body
        is_mimir = isinstance(info, dict) and "features" in info
        body["details"] = {
            "application": "Mimir" if is_mimir else "Prometheus",
            "features": {"rulerApiEnabled": is_mimir},
        }
        return 200, body


def _api_error(body: bytes) -> str | None:
    try:
        answer = json.loads(body)
    except ValueError:
        return None
    if isinstance(answer, dict) and answer.get("status") == "error":
        return str(answer.get("error", "unknown error"))
    return None
