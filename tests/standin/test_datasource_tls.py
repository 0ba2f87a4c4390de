"""The stand-in's TLS to a datasource's Prometheus: Grafana's datasource TLS fields, and one
context per TLS configuration (Grafana keeps one HTTP client per datasource instance until
its settings change), so no proxied call rebuilds the system CA store."""

from __future__ import annotations

from pathlib import Path

from grafana_standin.prometheus import tls_context
from shadow_mvs.evidence.grafana_rules.datasources import Datasource
from shadow_mvs.stack.certs import make_pki


def datasource(url: str, json_data: dict[str, object], secure: dict[str, str]) -> Datasource:
    return Datasource(
        id=1, uid="p", org_id=1, name="p", type="prometheus", access="proxy", url=url,
        user="", database="", basic_auth=False, basic_auth_user="", with_credentials=False,
        is_default=False, json_data=json_data, secure_json_data=secure, editable=False,
    )  # fmt: skip


def test_one_context_per_tls_configuration_trusting_only_the_given_ca(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    with_ca: dict[str, object] = {"tlsAuthWithCACert": True, "tlsAuth": True}
    secure = {
        "tlsCACert": pki.ca.read_text(),
        "tlsClientCert": pki.client.cert.read_text(),
        "tlsClientKey": pki.client.key.read_text(),
    }
    first = tls_context(datasource("https://central:9092", with_ca, secure))
    again = tls_context(datasource("https://central:9092", dict(with_ca), dict(secure)))
    assert first is not None
    assert first is again  # the second call built nothing
    assert first.cert_store_stats()["x509_ca"] == 1  # the datasource's CA, not the system's

    other = {**secure, "tlsCACert": pki.other_ca.read_text()}
    assert tls_context(datasource("https://central:9092", with_ca, other)) is not first
    system = tls_context(datasource("https://central:9092", {}, {}))
    assert system is not None
    assert system is not first
    assert system.cert_store_stats()["x509_ca"] > 1  # no CA given: the system store
    assert tls_context(datasource("http://central:9092", with_ca, secure)) is None
