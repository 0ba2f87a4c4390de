"""Bad input never crashes the verifier: each case is one FAIL line with the right F-code,
the triage block, and no traceback — malformed exposition, Grafana answering 500 or HTML,
a hung endpoint, missing credentials."""

import pytest

from fixtures.faults import FaultBench, hung_port, occupy_port, run_verify

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def assert_named(outcome, f_code, node, fragment):
    assert outcome.exit_code == 1, outcome.output
    assert outcome.verify_code == f_code, outcome.output
    assert outcome.node == node
    assert f"FAIL|{f_code}|" in outcome.output
    assert fragment in outcome.output
    assert "Traceback" not in outcome.output


def test_malformed_exposition(tmp_path):
    with occupy_port(
        "127.0.0.1",
        0,
        body=b"peak_trade_pipeline_events_total{ garbage\n",
        content_type="text/plain",
    ) as port:
        outcome = run_verify(
            tmp_path / "v.json",
            extra_args=(f"--exporter-url=http://127.0.0.1:{port}", "-k", "exporter"),
        )
    assert_named(outcome, "F-FAIL-EXPORTER", "G-1", "ValueError")


def test_hung_exporter_times_out_within_its_budget(tmp_path):
    with hung_port() as port:
        outcome = run_verify(
            tmp_path / "v.json",
            extra_args=(f"--exporter-url=http://127.0.0.1:{port}", "-k", "exporter"),
        )
    assert_named(outcome, "F-FAIL-EXPORTER", "G-1", "timed out")


@pytest.mark.parametrize(
    ("status", "body", "fragment"),
    [
        (500, b"<html>Internal Server Error</html>", "JSONDecodeError"),
        (200, b"<html>login</html>", "JSONDecodeError"),
        (503, b'{"database":"failing","version":"x"}', "database=failing"),
    ],
    ids=["500-html", "200-html", "503-db-failing"],
)
def test_grafana_bad_answers(fault_bench: FaultBench, tmp_path, status, body, fragment):
    with occupy_port(
        "127.0.0.1", 0, status=status, body=body, content_type="application/json"
    ) as port:
        outcome = run_verify(
            tmp_path / "v.json", extra_args=(f"--grafana-url=http://127.0.0.1:{port}",)
        )
    assert_named(outcome, "F-FAIL-GRAFANA", "G-4", fragment)


def test_missing_credentials_say_so(fault_bench: FaultBench, tmp_path):
    outcome = run_verify(
        tmp_path / "v.json",
        env={
            "SHADOW_MVS_ENV_FILE": str(tmp_path / "absent.env"),
            "GRAFANA_AUTH": "",
            "GF_SECURITY_ADMIN_USER": "",
            "GF_SECURITY_ADMIN_PASSWORD": "",
        },
    )
    assert_named(
        outcome,
        "F-FAIL-DATASOURCE",
        "G-5",
        "no Grafana credentials to verify with (set GRAFANA_TOKEN",
    )


def test_password_appears_in_no_output_or_file_on_failure(fault_bench: FaultBench, tmp_path):
    from shadow_mvs.config.env_file import grafana_credentials

    credentials = grafana_credentials(fault_bench.compose.env_file)
    assert credentials, "bootstrap writes .env with the admin password"
    password = credentials[1]
    report_file = tmp_path / "verify.json"
    outcome = run_verify(
        report_file,
        env={"GRAFANA_AUTH": f"admin:{password}"},
        extra_args=("--exporter-url=http://127.0.0.1:9",),
    )
    assert outcome.verify_code == "F-FAIL-EXPORTER", outcome.output
    assert outcome.report["forensics"], "a FAIL writes the forensics bundle"
    assert password not in outcome.output
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(written) >= 2
    for path in written:
        assert password not in path.read_text(errors="replace"), path
