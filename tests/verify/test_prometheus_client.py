"""prometheus-api-client's requests go through the suite's access adapter: Prometheus gets
its credentials, headers and TLS (CA and client certificate), nothing else does — a
redirect is never followed, it is a final failure — and a refusal is named in operator words. Real loopback
servers, Docker-free."""

from __future__ import annotations

import base64
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from fixtures.loopback import QuietHandler, serving
from shadow_mvs.config.access import TLS, EndpointAccess
from shadow_mvs.config.transport import requests_session
from shadow_mvs.core.run import CheckFailed
from shadow_mvs.plugin.clients import prometheus_client
from shadow_mvs.stack.certs import Pki, make_pki

EMPTY_VECTOR = {"status": "success", "data": {"resultType": "vector", "result": []}}
PASSWORD = "prom-pw-314"
HEADERS = (("X-Scope-OrgID", "tenant-a"), ("X-Api-Key", "k3y-secret"))
SECRET_HEADERS = ("authorization", "x-scope-orgid", "x-api-key")


class PrometheusLike(QuietHandler):
    """Answers every query with an empty vector; ``/redirect`` sends the client elsewhere;
    a configured status (401, …) refuses every request."""

    seen: list[dict[str, Any]]
    elsewhere: str = ""
    status: int = 200

    def do_GET(self) -> None:
        self.seen.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
        if self.path.startswith("/redirect") and self.elsewhere:
            self.send_response(302)
            self.send_header("Location", f"{self.elsewhere}/api/v1/query?query=up")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.status != 200:
            self.reply(self.status, b"Unauthorized\n", "text/plain")
            return
        self.reply_json(200, EMPTY_VECTOR)


@contextmanager
def prometheus_like(
    scheme: str = "http", tls: ssl.SSLContext | None = None, **attributes: Any
) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []
    handler = type("Handler", (PrometheusLike,), {"seen": seen, **attributes})
    with serving(handler, tls=tls) as port:
        yield f"{scheme}://127.0.0.1:{port}", seen


def prometheus_access(url: str, tls: TLS | None = None) -> EndpointAccess:
    return EndpointAccess(
        "prometheus",
        url,
        basic=("reader", PASSWORD),
        source="PROMETHEUS_AUTH",
        headers=HEADERS,
        tls=tls or TLS(),
    )


def test_credentials_and_headers_reach_prometheus_and_no_redirect_target():
    with (
        prometheus_like() as (elsewhere, elsewhere_seen),
        prometheus_like(elsewhere=elsewhere) as (url, prometheus_seen),
    ):
        assert prometheus_client(prometheus_access(url), 5.0).custom_query("up") == []
        # A Prometheus behind a path that redirects to another origin (another port).
        redirected = prometheus_client(prometheus_access(f"{url}/redirect"), 5.0)
        with pytest.raises(CheckFailed) as failed:
            redirected.custom_query("up")
    assert failed.value.cause == "redirect"
    assert failed.value.retryable is False
    assert f"answered 302 to {elsewhere}/api/v1/query?" not in failed.value.message
    assert f"answered 302 to {elsewhere}/…: a login proxy in front of Prometheus?" in (
        failed.value.message
    )
    basic = "Basic " + base64.b64encode(f"reader:{PASSWORD}".encode()).decode()
    assert len(prometheus_seen) == 2
    for request in prometheus_seen:
        assert request["authorization"] == basic
        assert request["x-scope-orgid"] == "tenant-a"
        assert request["x-api-key"] == "k3y-secret"
    assert elsewhere_seen == [], "the redirect was followed"


def test_a_refused_credential_is_named_not_a_client_library_error():
    with prometheus_like(status=401) as (url, _):
        client = prometheus_client(prometheus_access(url), 5.0)
        with pytest.raises(CheckFailed) as failed:
            client.custom_query("up")
    assert failed.value.cause == "endpoint_auth"
    assert failed.value.retryable is False
    assert f"Prometheus auth failed: {url}/api/v1/query answered HTTP 401" in failed.value.message
    assert "basic auth as user 'reader' (from PROMETHEUS_AUTH)" in failed.value.message


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def mutual_tls(pki: Pki) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki.ca))
    context.load_cert_chain(pki.server.cert, pki.server.key)
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def with_client_cert(pki: Pki) -> TLS:
    return TLS(ca_file=str(pki.ca), cert_file=str(pki.client.cert), key_file=str(pki.client.key))


def test_ca_and_client_certificate_reach_prometheus(pki: Pki):
    with prometheus_like("https", mutual_tls(pki)) as (url, seen):
        client = prometheus_client(prometheus_access(url, with_client_cert(pki)), 5.0)
        assert client.custom_query("up") == []
    assert len(seen) == 1


@pytest.mark.parametrize(
    ("tls", "named"),
    [
        # Whether the server's TLS 1.3 "certificate required" alert or its hang-up reaches
        # the client first is a race: either way it is a named TLS failure.
        (lambda pki: TLS(ca_file=str(pki.ca)), ""),
        (lambda pki: TLS(), "certificate signed by unknown authority"),
    ],
    ids=["no-client-certificate", "ca-not-trusted"],
)
def test_tls_refusals_are_named(pki: Pki, tls: Any, named: str):
    with prometheus_like("https", mutual_tls(pki)) as (url, _):
        client = prometheus_client(prometheus_access(url, tls(pki)), 5.0)
        with pytest.raises(CheckFailed) as failed:
            client.custom_query("up")
    assert failed.value.cause == "tls"
    assert "Prometheus TLS: " in failed.value.message
    assert named in failed.value.message


def test_the_session_sends_nothing_to_another_origin():
    with prometheus_like() as (elsewhere, seen):
        requests_session(prometheus_access("http://127.0.0.1:9")).get(f"{elsewhere}/x", timeout=5)
    assert len(seen) == 1
    assert not [h for h in SECRET_HEADERS if h in seen[0]], seen[0]
