"""The prod-shaped stack from real processes, no Docker (fixtures/prod_shaped.py): an agent
remote-writes to a central Prometheus behind TLS + basic auth, Grafana (stand-in) over
HTTPS with a service-account token. Verify passes through all of it, and each auth or TLS
fault is one FAIL line that names it, routed to the right node, with no secret leaked."""

import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from fixtures.faults import VerifyOutcome, run_cli, run_verify
from fixtures.prod_shaped import ProdShaped, prod_shaped
from fixtures.prometheus_tools import needs_prometheus_tools
from shadow_mvs.config.access import TLS, EndpointAccess
from shadow_mvs.core.run import CheckFailed
from shadow_mvs.evidence.remote_write import prove_remote_written_scrape, stale_after_s
from shadow_mvs.plugin.clients import prometheus_client

pytestmark = needs_prometheus_tools


@pytest.fixture(scope="module")
def shaped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProdShaped]:
    with prod_shaped(tmp_path_factory.mktemp("prod-shaped")) as stack:
        yield stack


def verify(shaped: ProdShaped, tmp_path: Path, **env: str) -> VerifyOutcome:
    return run_verify(tmp_path / "verify.json", env={**shaped.verify_env(), **env})


def fail_line(outcome: VerifyOutcome, f_code: str) -> str:
    lines = [line for line in outcome.output.splitlines() if line.startswith(f"FAIL|{f_code}|")]
    assert lines, outcome.output
    return lines[0]


def assert_no_secret(shaped: ProdShaped, outcome: VerifyOutcome, tmp_path: Path) -> None:
    for secret in (shaped.token, shaped.reader_password):
        assert secret not in outcome.output
        for path in tmp_path.rglob("*"):
            if path.is_file():
                assert secret not in path.read_text(errors="replace"), path


def test_verify_passes_through_tls_tokens_and_remote_write(shaped: ProdShaped, tmp_path: Path):
    outcome = verify(shaped, tmp_path)
    assert outcome.exit_code == 0, outcome.output
    assert "RESULT=PASS" in outcome.output
    assert "EVIDENCE|targets=path=remote-write job=shadow_mvs" in outcome.output
    assert "EVIDENCE|rules=path=ruler" in outcome.output
    # The slo check cannot fail a run without the gate, so it never waits for the window to
    # fill (a fresh stack holds few events): it says what it saw instead.
    assert "WAIT|slo|" not in outcome.output
    window = next(line for line in outcome.output.splitlines() if "EVIDENCE|slo_window=" in line)
    assert "events=" in window, window
    assert "gate=off" in window, window
    access = outcome.report["stack"]["access"]
    assert access["grafana"]["auth"] == "token"
    assert access["prometheus"]["auth"] == "basic"
    assert access["prometheus"]["tls"]["ca_file"] == str(shaped.pki.ca)
    assert_no_secret(shaped, outcome, tmp_path)


def test_wrong_grafana_token_is_named(shaped: ProdShaped, tmp_path: Path):
    outcome = verify(shaped, tmp_path, GRAFANA_TOKEN="glsa_wrong-token-000")
    line = fail_line(outcome, "F-FAIL-DATASOURCE")
    assert "Grafana rejected the service-account token from GRAFANA_TOKEN" in line
    assert "api-key.invalid" in line
    assert outcome.node == "G-5"
    assert "glsa_wrong-token-000" not in outcome.output


def test_wrong_prometheus_password_is_named(shaped: ProdShaped, tmp_path: Path):
    outcome = verify(shaped, tmp_path, PROMETHEUS_AUTH="reader:wrong-password-1")
    line = fail_line(outcome, "F-FAIL-PROMETHEUS")
    assert "Prometheus auth failed" in line
    assert "HTTP 401 to basic auth as user 'reader' (from PROMETHEUS_AUTH)" in line
    assert "wrong user or password" in line
    assert outcome.node == "G-2"
    assert_no_secret(shaped, outcome, tmp_path)
    assert "wrong-password-1" not in outcome.output


def test_prometheus_without_credentials_says_which_variables(shaped: ProdShaped, tmp_path):
    outcome = verify(shaped, tmp_path, PROMETHEUS_AUTH="")
    assert "no credentials: set PROMETHEUS_AUTH=user:pass or PROMETHEUS_TOKEN" in fail_line(
        outcome, "F-FAIL-PROMETHEUS"
    )


def test_ca_mismatch_is_unknown_authority(shaped: ProdShaped, tmp_path: Path):
    outcome = verify(shaped, tmp_path, SHADOW_MVS_PROMETHEUS_CA_FILE=str(shaped.pki.other_ca))
    line = fail_line(outcome, "F-FAIL-PROMETHEUS")
    assert "Prometheus TLS:" in line
    assert "certificate signed by unknown authority" in line
    assert "gave up" not in line  # not retried: warm-up cannot fix a certificate
    assert outcome.node == "G-2"
    grafana = verify(shaped, tmp_path, SHADOW_MVS_GRAFANA_CA_FILE=str(shaped.pki.other_ca))
    assert "Grafana TLS:" in fail_line(grafana, "F-FAIL-GRAFANA")
    assert grafana.node == "G-4"


def test_auto_topology_finds_the_remote_write_path(shaped: ProdShaped, tmp_path: Path):
    outcome = verify(shaped, tmp_path, SHADOW_MVS_TOPOLOGY="auto")
    assert outcome.exit_code == 0, outcome.output
    assert "EVIDENCE|targets=path=remote-write" in outcome.output


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        ("ca", "tls: failed to verify certificate: x509: certificate signed by unknown authority"),
        ("password", "401 Unauthorized"),
    ],
)
def test_grafana_datasource_tls_and_basic_auth_are_honoured(
    shaped: ProdShaped, tmp_path: Path, fault: str, words: str
):
    """The stand-in's health and /api/ds/query use the datasource's tlsCACert and
    basicAuth: a datasource trusting another CA or sending a wrong password is G-5."""
    kwargs = (
        {"datasource_ca": shaped.pki.other_ca} if fault == "ca" else {"password": "wrong-ds-pw"}
    )
    with shaped.another_standin(tmp_path / "standin", **kwargs) as grafana_url:
        outcome = verify(shaped, tmp_path, SHADOW_MVS_GRAFANA_URL=grafana_url)
    line = fail_line(outcome, "F-FAIL-DATASOURCE")
    assert words in line
    assert outcome.node == "G-5"


def test_insecure_switch_warns_and_is_recorded(shaped: ProdShaped, tmp_path: Path):
    outcome = verify(
        shaped,
        tmp_path,
        SHADOW_MVS_PROMETHEUS_CA_FILE=str(shaped.pki.other_ca),
        SHADOW_MVS_PROMETHEUS_INSECURE="true",
    )
    assert "WARN|prometheus_tls=insecure|" in outcome.output
    assert "PASS|prometheus|" in outcome.output
    assert outcome.report["stack"]["access"]["prometheus"]["tls"]["insecure"] is True
    assert outcome.report["stack"]["warnings"]


@contextmanager
def central_serves(shaped: ProdShaped, cert: Path, key: Path) -> Iterator[None]:
    """Prometheus reads its web config's certificate per handshake: swap it in place."""
    saved = shaped.root / "saved"
    saved.mkdir(exist_ok=True)
    shutil.copy(shaped.pki.server.cert, saved / "cert.pem")
    shutil.copy(shaped.pki.server.key, saved / "key.pem")
    shutil.copy(cert, shaped.pki.server.cert)
    shutil.copy(key, shaped.pki.server.key)
    try:
        yield
    finally:
        shutil.copy(saved / "cert.pem", shaped.pki.server.cert)
        shutil.copy(saved / "key.pem", shaped.pki.server.key)


def test_expired_certificate_is_named(shaped: ProdShaped, tmp_path: Path):
    with central_serves(shaped, shaped.pki.expired.cert, shaped.pki.expired.key):
        outcome = verify(shaped, tmp_path)
    line = fail_line(outcome, "F-FAIL-PROMETHEUS")
    assert "Prometheus TLS:" in line
    assert "certificate expired" in line


def test_wrong_host_name_is_named(shaped: ProdShaped, tmp_path: Path):
    with central_serves(shaped, shaped.pki.wrong_host.cert, shaped.pki.wrong_host.key):
        outcome = verify(shaped, tmp_path)
    line = fail_line(outcome, "F-FAIL-PROMETHEUS")
    assert "wrong host name" in line
    assert "127.0.0.1" in line


def test_remote_write_from_another_instance_is_named(shaped: ProdShaped, tmp_path: Path):
    outcome = verify(shaped, tmp_path, SHADOW_MVS_SCRAPE_TARGET="host.docker.internal:9109")
    line = fail_line(outcome, "F-FAIL-TARGETS")
    assert "arrives by remote-write for instances" in line
    assert "expected host.docker.internal:9109" in line
    assert outcome.node == "G-3"


def test_many_environments_at_once_one_report_each_and_a_combined_verdict(
    shaped: ProdShaped, tmp_path: Path
):
    """shadow-mvs verify --env a --env b --env c: concurrent sessions, a verify.json and a
    JUnit file per environment, summary.json, exit 1 because one environment fails."""
    names = ["site-a", "site-b", "site-c"]
    environments = tmp_path / "environments.toml"
    environments.write_text(shaped.environments_toml(names))
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SHADOW_MVS_") and k not in ("GRAFANA_AUTH", "PROMETHEUS_AUTH")
    }
    env |= shaped.secret_env(names)
    env["ENV_SITE_C_GRAFANA_TOKEN"] = "glsa_wrong-for-site-c"
    env["SHADOW_MVS_ENVIRONMENTS_FILE"] = str(environments)
    env["SHADOW_MVS_REPORTS_DIR"] = str(tmp_path / "reports")
    env_flags = [flag for name in names for flag in ("--env", name)]
    result = run_cli("verify", *env_flags, env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "ENV|site-a|RESULT=PASS|F-OK|" in output
    assert "ENV|site-b|RESULT=PASS|F-OK|" in output
    assert "ENV|site-c|RESULT=FAIL|F-FAIL-DATASOURCE|" in output
    assert "ENV|site-c|FAIL|F-FAIL-DATASOURCE|G-5|" in output
    assert output.rstrip().endswith("RESULT=FAIL")
    summary = json.loads((tmp_path / "reports" / "summary.json").read_text())
    assert [e["result"] for e in summary["environments"]] == ["PASS", "PASS", "FAIL"]
    for name in names:
        assert (tmp_path / "reports" / f"env-{name}" / "verify.json").is_file()
        assert (tmp_path / "reports" / f"env-{name}" / "junit.xml").is_file()
        # Each session is forked from the CLI after it imported the engine (many.py); pytest
        # still imports the plugin and the checks itself, so it can rewrite their asserts.
        log = (tmp_path / "reports" / f"env-{name}" / "verify.log").read_text()
        assert "PytestAssertRewriteWarning" not in log, log
    for path in (tmp_path / "reports").rglob("*"):
        if path.is_file():
            assert shaped.token not in path.read_text(errors="replace"), path


def test_a_stopped_agent_is_named_not_data_empty(shaped: ProdShaped):
    """Last in the module: it stops the agent. Queries are evaluated at a later instant
    (the backend's own evaluation time), so no test waits for the data to age."""
    access = EndpointAccess(
        "prometheus",
        shaped.central.url,
        basic=("reader", shaped.reader_password),
        tls=TLS(ca_file=str(shaped.pki.ca)),
    )
    client = prometheus_client(access, 5.0)
    fresh = prove_remote_written_scrape(client, "shadow_mvs", shaped.exporter_address, 5)
    assert fresh.age_s < stale_after_s(5)
    shaped.stop_agent()
    stopped_at = time.time()
    for later, words in ((60, "s old (fresh means under 30 s)"), (900, "s old: the agent")):
        with pytest.raises(CheckFailed) as failed:
            prove_remote_written_scrape(
                client, "shadow_mvs", shaped.exporter_address, 5, now=stopped_at + later
            )
        assert failed.value.message.startswith(
            'the agent stopped remote-writing job "shadow_mvs" — newest up{'
        )
        assert words in failed.value.message
        assert failed.value.cause == "remote_write_stale"
        assert "empty" not in failed.value.message
    with pytest.raises(CheckFailed) as never:
        prove_remote_written_scrape(client, "renamed_job", shaped.exporter_address, 5)
    assert never.value.cause == "remote_write_missing"
    assert 'nothing remote-writes job "renamed_job"' in never.value.message
