"""Credentials, headers and their routing: from variables (or files) only, token before
basic auth, a malformed value is a usage error naming its variable, each endpoint's
credentials reach that endpoint only, and every secret is scrubbed from what is written."""

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from fixtures.loopback import QuietHandler, serving
from shadow_mvs.config.access import TLS, Access, EndpointAccess, resolve_endpoint
from shadow_mvs.config.settings import Settings, SettingsError
from shadow_mvs.report.forensics import write_bundle

SECRET_VARS = (
    "GRAFANA_TOKEN",
    "GRAFANA_TOKEN_FILE",
    "GRAFANA_AUTH",
    "GRAFANA_AUTH_FILE",
    "PROMETHEUS_TOKEN",
    "PROMETHEUS_TOKEN_FILE",
    "PROMETHEUS_AUTH",
    "PROMETHEUS_AUTH_FILE",
    "PROMETHEUS_HEADERS",
)


@pytest.fixture(autouse=True)
def clean_secret_env(monkeypatch, tmp_path):
    for var in SECRET_VARS:
        monkeypatch.delenv(var, raising=False)
    # No .env admin fallback unless a test asks for it.
    monkeypatch.setenv("SHADOW_MVS_ENV_FILE", str(tmp_path / "absent.env"))
    monkeypatch.delenv("GF_SECURITY_ADMIN_USER", raising=False)
    monkeypatch.delenv("GF_SECURITY_ADMIN_PASSWORD", raising=False)


def test_grafana_token_from_variable_is_preferred_over_basic_auth(monkeypatch):
    monkeypatch.setenv("GRAFANA_TOKEN", "glsa_token-value-1234")
    monkeypatch.setenv("GRAFANA_AUTH", "admin:pw-5678")
    grafana = Settings.from_values({}).access["grafana"]
    assert grafana.scheme == "token"
    assert grafana.source == "GRAFANA_TOKEN"
    assert grafana.request_headers()["Authorization"] == "Bearer glsa_token-value-1234"


def test_grafana_token_from_file(monkeypatch, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("glsa_from-file-0000\n")
    monkeypatch.setenv("GRAFANA_TOKEN_FILE", str(token_file))
    grafana = Settings.from_values({}).access["grafana"]
    assert grafana.token == "glsa_from-file-0000"
    assert grafana.source == "GRAFANA_TOKEN_FILE"


def test_unreadable_secret_file_is_a_usage_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PROMETHEUS_AUTH_FILE", str(tmp_path / "missing"))
    with pytest.raises(SettingsError, match="PROMETHEUS_AUTH_FILE"):
        Settings.from_values({})


def test_grafana_auth_without_colon_names_the_variable(monkeypatch):
    monkeypatch.setenv("GRAFANA_AUTH", "glsa_looks-like-a-token")
    with pytest.raises(SettingsError, match=r"GRAFANA_AUTH has no ':'.*GRAFANA_TOKEN"):
        Settings.from_values({})


def test_prometheus_basic_auth_token_and_tenant_header(monkeypatch):
    monkeypatch.setenv("PROMETHEUS_AUTH", "reader:prom-pass-1")
    monkeypatch.setenv("PROMETHEUS_HEADERS", "X-Scope-OrgID=tenant-a, X-Api-Key=k3y-secret")
    prometheus = Settings.from_values({}).access["prometheus"]
    headers = prometheus.request_headers()
    assert headers["X-Scope-OrgID"] == "tenant-a"
    expected = base64.b64encode(b"reader:prom-pass-1").decode()
    assert headers["Authorization"] == f"Basic {expected}"
    redact = Access((prometheus,)).redactor()
    assert redact.text("prom-pass-1") == "***"
    assert redact.text(expected) == "***"
    assert redact.text("k3y-secret") == "***"
    # A tenant id under the built-in PROMETHEUS_HEADERS is not a secret: it stays in
    # evidence (an environment that names its headers under `secrets` makes it one).
    assert redact.text("tenant-a") == "tenant-a"
    monkeypatch.setenv("PROMETHEUS_TOKEN", "prom-token-9")
    prometheus = Settings.from_values({}).access["prometheus"]
    assert prometheus.request_headers()["Authorization"] == "Bearer prom-token-9"


def test_malformed_headers_are_a_usage_error(monkeypatch):
    monkeypatch.setenv("PROMETHEUS_HEADERS", "X-Scope-OrgID")
    with pytest.raises(SettingsError, match="PROMETHEUS_HEADERS"):
        Settings.from_values({})


def test_environment_can_name_other_variables():
    from shadow_mvs.config.access import SecretNames

    env = {"PROD_GRAFANA_SA": "glsa_prod-1234"}
    grafana = resolve_endpoint(
        "grafana", "https://g", TLS(), SecretNames(token="PROD_GRAFANA_SA"), env
    )
    assert grafana.token == "glsa_prod-1234"
    assert grafana.source == "PROD_GRAFANA_SA"


def test_insecure_switch_is_a_warn_line_and_recorded(monkeypatch):
    monkeypatch.setenv("SHADOW_MVS_PROMETHEUS_INSECURE", "true")
    access = Settings.from_values({}).access
    [warning] = access.warnings()
    assert warning.startswith("WARN|prometheus_tls=insecure|")
    assert access.summary()["prometheus"]["tls"]["insecure"] is True
    assert access.summary()["grafana"]["tls"]["insecure"] is False


def test_summary_names_sources_but_holds_no_secret(monkeypatch):
    monkeypatch.setenv("GRAFANA_TOKEN", "glsa_summary-secret")
    summary = Settings.from_values({}).access.summary()
    assert summary["grafana"]["auth"] == "token"
    assert summary["grafana"]["auth_source"] == "GRAFANA_TOKEN"
    assert "glsa_summary-secret" not in str(summary)


# --- forensics: each endpoint's credentials go to that endpoint only -------------------------


class Recorder(QuietHandler):
    seen: list[dict[str, Any]]

    def do_GET(self) -> None:
        self.seen.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
        self.reply(200, b'{"status":"success","data":{}}')


@contextmanager
def recording_server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []
    handler = type("Handler", (Recorder,), {"seen": seen})
    with serving(handler) as port:
        yield f"http://127.0.0.1:{port}", seen


def test_forensics_sends_each_credential_to_its_own_endpoint_only(monkeypatch, tmp_path: Path):
    token, prom_password = "glsa_forensics-token-77", "prom-forensics-pw"
    monkeypatch.setenv("GRAFANA_TOKEN", token)
    monkeypatch.setenv("PROMETHEUS_AUTH", f"reader:{prom_password}")
    monkeypatch.setenv("PROMETHEUS_HEADERS", "X-Scope-OrgID=tenant-a")
    with (
        recording_server() as (exporter_url, exporter_seen),
        recording_server() as (prom_url, prom_seen),
        recording_server() as (grafana_url, grafana_seen),
    ):
        settings = Settings.from_values(
            {
                "stack": "external",
                "exporter_url": exporter_url,
                "prometheus_url": prom_url,
                "grafana_url": grafana_url,
            }
        )
        written = write_bundle(settings, tmp_path / "forensics", settings.redactor())
    prom_basic = "Basic " + base64.b64encode(f"reader:{prom_password}".encode()).decode()
    assert prom_seen
    assert grafana_seen
    assert exporter_seen
    assert all(r.get("authorization") == prom_basic for r in prom_seen)
    assert all(r.get("x-scope-orgid") == "tenant-a" for r in prom_seen)
    assert all(r.get("authorization") == f"Bearer {token}" for r in grafana_seen)
    assert all("x-scope-orgid" not in r for r in grafana_seen)
    assert all("authorization" not in r for r in exporter_seen)
    for path in written:
        text = path.read_text()
        assert token not in text
        assert prom_password not in text


def test_every_secret_of_a_run_is_scrubbed(monkeypatch):
    access = Access(
        (
            EndpointAccess("grafana", "http://g", token="glsa_scrub-me"),
            EndpointAccess("prometheus", "http://p", basic=("u", "pw-scrub-me")),
        )
    )
    report = {"failure": "token glsa_scrub-me and pw-scrub-me and Bearer glsa_scrub-me"}
    cleaned = access.redactor().data(report)
    assert "scrub-me" not in str(cleaned)


def test_mimir_no_org_id_is_named_a_missing_tenant_header():
    from shadow_mvs.config.access import denied_failure

    failed = denied_failure(
        EndpointAccess("prometheus", "https://mimir"),
        "https://mimir/api/v1/query",
        401,
        "no org id\n",
    )
    assert failed.cause == "tenant"
    assert "missing tenant header X-Scope-OrgID" in failed.message
    assert failed.retryable is False


@pytest.mark.parametrize(
    ("verify_message", "named"),
    [
        ("unable to get local issuer certificate", "certificate signed by unknown authority"),
        ("self-signed certificate in certificate chain", "unknown authority"),
        ("certificate has expired", "certificate expired"),
        ("Hostname mismatch, certificate is not valid for 'x'.", "wrong host name"),
    ],
)
def test_tls_problems_are_named_in_operator_words(verify_message, named):
    import ssl

    from shadow_mvs.config.access import tls_problem

    error = ssl.SSLCertVerificationError(
        1,
        f"[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: {verify_message} (_ssl.c:1006)",
    )
    error.verify_message = verify_message
    assert named in (tls_problem(error) or "")


def test_a_hang_up_after_the_handshake_is_named_only_without_a_client_certificate():
    from shadow_mvs.config.access import TLS, hung_up_after_handshake

    reset = ConnectionResetError(104, "Connection reset by peer")
    assert "requires a client certificate" in (
        hung_up_after_handshake(reset, "https://prom:9092", TLS()) or ""
    )
    assert hung_up_after_handshake(reset, "http://prom:9092", TLS()) is None
    with_cert = TLS(cert_file="/c.pem", key_file="/k.pem")
    assert hung_up_after_handshake(reset, "https://prom:9092", with_cert) is None
    assert hung_up_after_handshake(ValueError("other"), "https://prom:9092", TLS()) is None


def test_only_an_https_endpoint_loads_trust_anchors_and_a_plain_one_trusts_nothing(tmp_path):
    """An http:// endpoint's route never makes a TLS handshake, so the transport skips the
    CA store for it (~0.05 s of CPU per context, five per verify); the context it gets
    instead trusts nothing, so a handshake there could only fail, never pass unchecked."""
    import ssl

    from shadow_mvs.config.transport import _route_context

    plain = _route_context(EndpointAccess("prometheus", "http://127.0.0.1:9092"))
    assert plain.cert_store_stats()["x509_ca"] == 0
    assert (plain.verify_mode, plain.check_hostname) == (ssl.CERT_REQUIRED, True)
    # An https:// endpoint gets its own TLS settings (here: --insecure, visible on the context).
    insecure = TLS(insecure=True)
    secure = _route_context(EndpointAccess("prometheus", "https://prom.example:9090", tls=insecure))
    assert (secure.verify_mode, secure.check_hostname) == (ssl.CERT_NONE, False)
    plain_insecure = _route_context(EndpointAccess("prometheus", "http://x:9090", tls=insecure))
    assert plain_insecure.verify_mode == ssl.CERT_REQUIRED
