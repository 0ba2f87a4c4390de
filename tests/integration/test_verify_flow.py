"""The whole product, as an operator runs it: `pytest verify/ --offline` brings the stack
up with pytest-docker, verifies every link, writes reports/verify.json and tears down.
Also the bring-up failures: each gives one FAIL line naming the component, no traceback."""

import json
import re
import secrets

import pytest

from fixtures.faults import occupy_port, run_cli, run_verify
from shadow_mvs.config.settings import host_network_default
from shadow_mvs.core.contract import REPO_ROOT, load_contract
from shadow_mvs.stack.compose import ComposeProject

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def run_compose_verify(report, env=None, *args):
    """`pytest verify/ --offline` in compose mode: this run owns the stack's lifecycle."""
    outcome = run_verify(report, env, args, stack_args=("--offline",))
    return outcome.exit_code, outcome.output


def project_containers() -> str:
    compose = ComposeProject(offline=True, host_network=host_network_default())
    return compose.run("ps -a -q", check=False).stdout.strip()


def project_services() -> list[str]:
    """The default (online) project's services, as compose itself lists them."""
    compose = ComposeProject(offline=False, host_network=host_network_default())
    return compose.run("config --services", check=False).stdout.split()


def test_offline_verify_passes_end_to_end_without_leaking_the_password(tmp_path):
    password = f"Recognisable-{secrets.token_hex(6)}"
    report_file = tmp_path / "verify.json"
    code, output = run_compose_verify(report_file, {"GF_SECURITY_ADMIN_PASSWORD": password})
    assert code == 0, output
    assert "RESULT=PASS" in output
    assert "INFO|stack=compose-offline up:" in output
    for key in ("exporter", "prometheus", "grafana", "dashboard_uid"):
        assert f"EVIDENCE|{key}=" in output
    assert "standin" in output  # the evidence says which Grafana was checked
    report = json.loads(report_file.read_text())
    assert report["result"] == "PASS"
    assert report["verify_code"] == "F-OK"
    assert report["triage"] is None
    assert report["stack"]["mode"] == "compose-offline"
    assert report["contract_version"] == load_contract().version
    assert set(report["versions"]) >= {"prometheus", "grafana"}
    checks = [t["metadata"] for t in report["tests"]]
    assert [c["check"] for c in checks] == [c.name for c in load_contract().checks]
    for meta in checks:
        assert meta["status"] == "pass"
        assert meta["f_code"].startswith("F-FAIL-")
        assert meta["attempts"] >= 1
        assert meta["elapsed_s"] >= 0
    assert "targets_retry" not in checks[2]  # the retry count is an INFO line, not metadata
    assert project_containers() == "", "pytest-docker must tear the stack down"
    assert password not in output
    assert password not in report_file.read_text()
    for path in (REPO_ROOT / "reports").rglob("*"):
        if path.is_file():
            assert password not in path.read_text(errors="replace"), path


def test_busy_exporter_port_at_bring_up_names_the_exporter(tmp_path):
    report_file = tmp_path / "verify.json"
    with occupy_port("127.0.0.1", 9109):
        code, output = run_compose_verify(report_file)
    assert code == 1, output
    assert "FAIL|F-FAIL-EXPORTER|port 9109 is already in use" in output
    assert "TRIAGE|G-1|" in output
    assert "Traceback" not in output
    report = json.loads(report_file.read_text())
    assert report["verify_code"] == "F-FAIL-EXPORTER"
    assert report["stack"]["start_error"]
    assert project_containers() == ""


def test_an_image_that_cannot_be_pulled_is_named_with_the_way_out(tmp_path):
    """Default (online) mode where no registry answers: images under the reserved
    ``.invalid`` domain never resolve. No verdict (exit 2), never a Prometheus fault."""
    report_file = tmp_path / "verify.json"
    unpullable = {
        "PROMETHEUS_IMAGE": "registry.invalid/shadow-mvs/prometheus:0",
        "GRAFANA_IMAGE": "registry.invalid/shadow-mvs/grafana:0",
    }
    outcome = run_verify(report_file, unpullable, stack_args=())
    output = outcome.output
    assert outcome.exit_code == 2, output
    errors = [line for line in output.splitlines() if line.startswith("ERROR|stack|")]
    assert len(errors) == 1, output
    # Compose pulls every service's image at once, so which unpullable one it reports
    # first varies (ours under .invalid, or an official one: none is reachable here).
    named = re.search(r"image (\S+) \(service ([a-z-]+)\) cannot be pulled: ", errors[0])
    assert named, errors[0]
    assert named.group(2) in project_services(), errors[0]
    assert "no such host" in errors[0] or "registry.invalid" in errors[0].split("pulled: ")[1]
    assert "run with --offline" in errors[0]  # the offline images exist on this machine
    assert "F-FAIL-PROMETHEUS" not in output
    assert "TRIAGE|" not in output
    assert "RESULT=" not in output
    assert "Traceback" not in output
    report = json.loads(report_file.read_text())
    assert report["result"] == "NONE"
    assert report["stack"]["start_error"] == errors[0].removeprefix("ERROR|stack|")
    assert project_containers() == ""


def test_a_missing_offline_image_is_no_verdict_with_how_to_build_it(tmp_path):
    report_file = tmp_path / "verify.json"
    absent = "registry.invalid/shadow-mvs/obs-base:absent"
    code, output = run_compose_verify(report_file, {"OFFLINE_IMAGE": absent})
    assert code == 2, output
    assert (
        f"ERROR|stack|offline image {absent} is not on this machine (`docker image inspect` "
        "finds none): build it with bash compose/images/build-offline-images.sh"
    ) in output
    assert "FAIL|" not in output
    assert "RESULT=" not in output
    assert "Traceback" not in output


def test_unreachable_docker_daemon_is_one_clear_line(tmp_path):
    report_file = tmp_path / "verify.json"
    code, output = run_compose_verify(report_file, {"DOCKER_HOST": f"unix://{tmp_path}/no.sock"})
    assert code == 1, output
    assert "FAIL|F-FAIL-PROMETHEUS|Docker daemon unreachable" in output
    assert "TRIAGE|G-2|" in output
    assert "Traceback" not in output
    assert json.loads(report_file.read_text())["verify_code"] == "F-FAIL-PROMETHEUS"


def test_missing_credentials_stop_before_bring_up(tmp_path):
    report_file = tmp_path / "verify.json"
    env = {
        "SHADOW_MVS_ENV_FILE": str(tmp_path / "absent.env"),
        "GRAFANA_AUTH": "",
        "GF_SECURITY_ADMIN_PASSWORD": "",
    }
    code, output = run_compose_verify(report_file, env)
    assert code == 1, output
    assert (
        "FAIL|F-FAIL-DATASOURCE|no Grafana credentials to verify with: copy .env.example" in output
    )
    assert "TRIAGE|G-5|" in output
    assert "Traceback" not in output
    assert project_containers() == ""


def test_keep_stack_leaves_the_stack_up_for_a_look(tmp_path):
    report_file = tmp_path / "verify.json"
    try:
        code, output = run_compose_verify(report_file, None, "--keep-stack")
        assert code == 0, output
        assert "INFO|stack kept:" in output
        assert project_containers() != "", "--keep-stack must not tear the stack down"
    finally:
        ComposeProject(offline=True, host_network=host_network_default()).run(
            "down -v --remove-orphans", check=False
        )
    assert project_containers() == ""


def test_operator_cli_flow_up_verify_explain_down(tmp_path):
    def shadow_mvs(*args):
        result = run_cli(*args)
        return result.returncode, result.stdout + result.stderr

    try:
        code, output = shadow_mvs("up", "--offline")
        assert code == 0, output
        code, output = shadow_mvs(
            "verify", "--stack=external", "--", f"--json-report-file={tmp_path / 'verify.json'}"
        )
        assert code == 0, output
        assert "RESULT=PASS" in output
    finally:
        code, output = shadow_mvs("down", "--offline")
    assert code == 0, output
    assert project_containers() == ""
    code, output = shadow_mvs("explain", "G-1")
    assert code == 0
    assert "next commands" in output
