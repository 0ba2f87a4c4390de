"""Client certificates (mutual TLS) against Prometheus's own --web.config.file, no Docker:
with the client certificate and key the verifier gets in; without them the refusal is
named in one non-retryable failure."""

from collections.abc import Iterator

import pytest

from fixtures.local_prometheus import LocalPrometheus, local_prometheus
from fixtures.prometheus_tools import needs_prometheus_tools
from shadow_mvs.config.settings import Settings
from shadow_mvs.config.transport import access_client
from shadow_mvs.core.run import CheckFailed
from shadow_mvs.stack.certs import Pki, make_pki

pytestmark = needs_prometheus_tools


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def mtls_prometheus(
    pki: Pki, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalPrometheus]:
    web = {
        "tls_server_config": {
            "cert_file": str(pki.server.cert),
            "key_file": str(pki.server.key),
            "client_auth_type": "RequireAndVerifyClientCert",
            "client_ca_file": str(pki.ca),
        }
    }
    with local_prometheus(
        tmp_path_factory.mktemp("mtls"),
        {"global": {}},
        web_config=web,
        ready_client_cert=(pki.client.cert, pki.client.key),
    ) as server:
        yield server


def settings(server: LocalPrometheus, pki: Pki, with_cert: bool) -> Settings:
    values = {
        "stack": "external",
        "prometheus_url": server.url,
        "prometheus_ca_file": str(pki.ca),
    }
    if with_cert:
        values |= {
            "prometheus_cert_file": str(pki.client.cert),
            "prometheus_key_file": str(pki.client.key),
        }
    return Settings.from_values(values)


def test_client_certificate_gets_in(mtls_prometheus: LocalPrometheus, pki: Pki):
    access = settings(mtls_prometheus, pki, with_cert=True).access
    with access_client([access["prometheus"]], 5.0) as client:
        assert client.get(f"{mtls_prometheus.url}/-/ready").status_code == 200


def test_missing_client_certificate_is_named(mtls_prometheus: LocalPrometheus, pki: Pki):
    access = settings(mtls_prometheus, pki, with_cert=False).access
    with access_client([access["prometheus"]], 5.0) as client, pytest.raises(CheckFailed) as failed:
        client.get(f"{mtls_prometheus.url}/-/ready")
    assert failed.value.cause == "tls"
    assert failed.value.retryable is False
    assert "Prometheus TLS:" in failed.value.message
    assert "client certificate" in failed.value.message
