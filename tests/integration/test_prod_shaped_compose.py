"""`shadow-mvs up --offline --env prod-shaped`: the agent → central (TLS + basic auth) → Grafana
(stand-in, HTTPS, service-account token) stack in compose, verified green, each auth and
TLS fault named on the right node, and `down` removes the stack and its generated PKI."""

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixtures.faults import VerifyOutcome, run_cli, run_verify
from shadow_mvs.stack.compose import EnvironmentProblem, require_docker
from shadow_mvs.stack.prod_shaped import PKI_DIR

pytestmark = [pytest.mark.docker, pytest.mark.slow]
ENV = ("--env=prod-shaped",)


shadow_mvs = run_cli


@pytest.fixture(scope="module")
def prod_shaped_up() -> Iterator[None]:
    try:
        require_docker()
    except EnvironmentProblem as problem:
        pytest.fail(f"integration tests need Docker: {problem}")
    up = shadow_mvs("up", "--offline", "--env", "prod-shaped")
    assert up.returncode == 0, up.stderr
    yield
    down = shadow_mvs("down", "--env", "prod-shaped")
    assert down.returncode == 0, down.stderr


def verify(tmp_path: Path, **env: str) -> VerifyOutcome:
    return run_verify(tmp_path / "verify.json", env=env, stack_args=ENV)


def fail_line(outcome: VerifyOutcome, f_code: str) -> str:
    lines = [line for line in outcome.output.splitlines() if line.startswith(f"FAIL|{f_code}|")]
    assert lines, outcome.output
    return lines[0]


def test_prod_shaped_verifies_green(prod_shaped_up, tmp_path):
    outcome = verify(tmp_path)
    assert outcome.exit_code == 0, outcome.output
    assert "EVIDENCE|targets=path=remote-write" in outcome.output
    assert outcome.report["stack"]["access"]["grafana"]["auth"] == "token"
    secrets = (PKI_DIR / "secrets.env").read_text()
    token = secrets.split("PROD_SHAPED_GRAFANA_TOKEN=")[1].splitlines()[0]
    assert token not in outcome.output


def test_faults_are_named_on_the_right_node(prod_shaped_up, tmp_path):
    wrong_token = verify(tmp_path, PROD_SHAPED_GRAFANA_TOKEN="glsa_wrong-token")
    assert "rejected the service-account token" in fail_line(wrong_token, "F-FAIL-DATASOURCE")
    assert wrong_token.node == "G-5"
    password = (PKI_DIR / "reader-password").read_text()
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(written) >= 3, written  # verify.json, junit.xml, forensics
    for path in written:  # terminal, JSON, JUnit and forensics hold no secret
        text = path.read_text(errors="replace")
        assert "glsa_wrong-token" not in text, path
        assert password not in text, path
    assert "glsa_wrong-token" not in wrong_token.output
    wrong_password = verify(tmp_path, PROD_SHAPED_PROMETHEUS_AUTH="reader:not-the-password")
    assert "wrong user or password" in fail_line(wrong_password, "F-FAIL-PROMETHEUS")
    assert wrong_password.node == "G-2"
    mismatch = verify(tmp_path, SHADOW_MVS_PROMETHEUS_CA_FILE=str(PKI_DIR / "other-ca.pem"))
    assert "unknown authority" in fail_line(mismatch, "F-FAIL-PROMETHEUS")
    assert mismatch.node == "G-2"


def test_expired_certificate_is_named(prod_shaped_up, tmp_path):
    saved = tmp_path / "server.pem"
    shutil.copy(PKI_DIR / "server.pem", saved)
    shutil.copy(PKI_DIR / "server-key.pem", tmp_path / "server-key.pem")
    shutil.copy(PKI_DIR / "expired.pem", PKI_DIR / "server.pem")
    shutil.copy(PKI_DIR / "expired-key.pem", PKI_DIR / "server-key.pem")
    try:
        outcome = verify(tmp_path)
    finally:
        shutil.copy(saved, PKI_DIR / "server.pem")
        shutil.copy(tmp_path / "server-key.pem", PKI_DIR / "server-key.pem")
    assert "certificate expired" in fail_line(outcome, "F-FAIL-PROMETHEUS")


def test_down_removes_the_stack_and_its_secrets(prod_shaped_up):
    """Runs last in the module; the fixture's own `down` then finds nothing to remove."""
    down = shadow_mvs("down", "--env", "prod-shaped")
    assert down.returncode == 0, down.stderr
    assert not PKI_DIR.exists()
    ps = subprocess.run(
        ["docker", "compose", "-p", "peaktrade-shadow-mvs", "ps", "-aq"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ps.stdout.strip() == ""
