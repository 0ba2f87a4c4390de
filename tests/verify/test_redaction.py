"""The one redactor: every spelling of every secret, short ones too, and the sources of
secrets it is built from (URL userinfo, secret-listed headers, the .env admin). Also the
advice an endpoint without credential variables gives, and pytest's own report text."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from urllib.parse import quote, quote_plus
from xml.sax.saxutils import escape

import pytest

from shadow_mvs.config.access import EndpointAccess, SecretNames, denied_failure
from shadow_mvs.config.redaction import Credential, Redactor
from shadow_mvs.config.settings import Settings, SettingsError
from shadow_mvs.plugin import wiring
from shadow_mvs.report.session import REDACTOR_KEY

PASSWORD = "p&ss w<rd\"ä'\\x"


@pytest.fixture(autouse=True)
def no_secrets_around(monkeypatch, tmp_path):
    for var in ("GRAFANA_TOKEN", "GRAFANA_AUTH", "PROMETHEUS_AUTH", "PROMETHEUS_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    for var in ("PROMETHEUS_HEADERS", "SHADOW_MVS_PROMETHEUS_URL", "SHADOW_MVS_ENV"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SHADOW_MVS_ENV_FILE", str(tmp_path / "absent.env"))


@pytest.mark.parametrize(
    "spelled",
    [
        PASSWORD,
        quote(PASSWORD, safe=""),
        quote(PASSWORD, safe="").lower(),
        quote_plus(PASSWORD),
        base64.b64encode(f"reader:{PASSWORD}".encode()).decode(),
        f"reader:{PASSWORD}",
        json.dumps(PASSWORD)[1:-1],
        json.dumps(PASSWORD, ensure_ascii=False)[1:-1],
        escape(PASSWORD),
        escape(PASSWORD, {'"': "&quot;", "'": "&apos;"}),
        html.escape(PASSWORD),
        repr(PASSWORD)[1:-1],
        repr(PASSWORD.encode())[2:-1],
        json.dumps(repr(PASSWORD)[1:-1])[1:-1],  # a repr inside JSON
        f"{PASSWORD[:5]}\n{PASSWORD[5:]}",  # split at a newline
        json.dumps(f"{PASSWORD[:3]}\n{PASSWORD[3:]}")[1:-1],  # … inside JSON
    ],
    ids=lambda s: repr(s)[:24],
)
def test_every_spelling_of_a_credential_is_replaced(spelled: str) -> None:
    redact = Redactor([Credential("reader", PASSWORD)])
    assert redact.text(f"before {spelled} after") == "before *** after"


def test_short_secrets_are_replaced_where_they_stand_as_a_word() -> None:
    redact = Redactor(["Zq"])
    assert redact.text("key=Zq; 'Zq' \\nZq\\n") == "key=***; '***' \\n***\\n"
    assert redact.text("RESULT=PASS xZqx") == "RESULT=PASS xZqx"


def test_data_is_redacted_in_keys_and_values() -> None:
    redact = Redactor(["s3cret-value"])
    cleaned = redact.data({"s3cret-value": ["a s3cret-value", 1, None], "n": 2})
    assert cleaned == {"***": ["a ***", 1, None], "n": 2}


def test_url_credentials_are_the_endpoints_basic_auth_and_shown_masked(monkeypatch) -> None:
    monkeypatch.setenv("SHADOW_MVS_PROMETHEUS_URL", f"http://reader:{quote(PASSWORD)}@h:9092/")
    settings = Settings.from_values({})
    prometheus = settings.access["prometheus"]
    assert settings.prometheus_url == "http://h:9092"
    assert prometheus.basic == ("reader", PASSWORD)
    assert prometheus.source == "the user:password@ of SHADOW_MVS_PROMETHEUS_URL"
    assert prometheus.summary()["url"] == "http://***@h:9092"
    said = settings.redactor().text(f"GET http://reader:{quote(PASSWORD, safe='')}@h:9092/x")
    assert said == "GET http://***@h:9092/x"


def test_url_credentials_beside_a_token_name_both_sources(monkeypatch) -> None:
    monkeypatch.setenv("PROMETHEUS_TOKEN", "prom-token-1")
    with pytest.raises(SettingsError) as refused:
        Settings.from_values({"prometheus_url": "http://u:pw-in-url@h:9092"})
    assert str(refused.value) == (
        "--prometheus-url carries credentials (user:password@) and PROMETHEUS_TOKEN sets "
        "them too: keep one"
    )


def test_headers_an_environment_lists_under_secrets_are_secrets_tenant_too() -> None:
    listed = EndpointAccess(
        "prometheus",
        "http://p",
        headers=(("X-Scope-OrgID", "tenant-a"),),
        names=SecretNames(headers="P_HEADERS", headers_secret=True),
    )
    assert Redactor(listed.secrets()).text("tenant-a") == "***"
    builtin = EndpointAccess("prometheus", "http://p", headers=(("X-Scope-OrgID", "tenant-a"),))
    assert Redactor(builtin.secrets()).text("tenant-a") == "tenant-a"


def test_the_env_admin_password_is_redacted_even_when_a_token_is_used(monkeypatch, tmp_path):
    env_file = tmp_path / "admin.env"
    env_file.write_text("GF_SECURITY_ADMIN_USER=admin\nGF_SECURITY_ADMIN_PASSWORD=adm1n-pw\n")
    monkeypatch.setenv("SHADOW_MVS_ENV_FILE", str(env_file))
    monkeypatch.setenv("GRAFANA_TOKEN", "glsa_t0ken")
    assert Settings.from_values({}).redactor().text("adm1n-pw glsa_t0ken") == "*** ***"


def test_an_endpoint_without_credential_variables_gives_no_none_advice() -> None:
    failed = denied_failure(EndpointAccess("exporter", "http://e"), "http://e/metrics", 401, "")
    assert "None" not in failed.message
    assert "is reached without credentials here: is a proxy in front of it?" in failed.message
    named = EndpointAccess("prometheus", "http://p", names=SecretNames("P_TOKEN", "P_AUTH"))
    failed = denied_failure(named, "http://p/-/ready", 401, "")
    assert "set P_AUTH=user:pass or P_TOKEN (or their _FILE variables)" in failed.message


def test_pytests_own_report_text_passes_the_redactor(pytestconfig, tmp_path: Path) -> None:
    report = pytest.TestReport(
        "verify/test_x.py::test_x",
        ("verify/test_x.py", 1, "test_x"),
        {},
        "failed",
        "Traceback …\nh11.LocalProtocolError: Illegal header value b'Bearer glsa_leak\\n# x'",
        "call",
        [("Captured log call", "sent glsa_leak")],
        user_properties=[("last_error", "glsa_leak")],
    )
    pytestconfig.stash[REDACTOR_KEY] = Redactor(["glsa_leak"])
    try:
        wiring.redact_report(report, pytestconfig)
    finally:
        del pytestconfig.stash[REDACTOR_KEY]
    assert "glsa_leak" not in str(report.longrepr)
    assert report.sections == [("Captured log call", "sent ***")]
    assert report.user_properties == [("last_error", "***")]
