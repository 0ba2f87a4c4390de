"""Verdicts that agree with themselves however `pytest verify/` is run: partial runs (-k,
-m, node ids, --deselect, --lf, -x), collection and help, exit codes, the dead external
stack, malformed URLs and --budget-scale. Docker-free: real `pytest verify/` processes
against a real exporter (`python -m exporter`), a counting listener, or closed ports."""

import json
from pathlib import Path

import pytest

from fixtures.faults import run_cli, run_verify
from fixtures.local_prometheus import free_loopback_port
from fixtures.loopback import QuietHandler, serving
from shadow_mvs.core.contract import load_contract
from tests.exporter.conftest import Exporter, Launcher

CHECKS = [c.name for c in load_contract().checks]
N = len(CHECKS)
DEAD_STACK_LIMIT_S = 10.0


def dead_url() -> str:
    return f"http://127.0.0.1:{free_loopback_port()}"


def dead_stack_args() -> tuple[str, ...]:
    return (
        f"--exporter-url={dead_url()}",
        f"--prometheus-url={dead_url()}",
        f"--grafana-url={dead_url()}",
    )


@pytest.fixture(scope="module")
def exporter(tmp_path_factory: pytest.TempPathFactory):
    launcher = Launcher(tmp_path_factory.mktemp("exporter"))
    try:
        yield launcher.start(tick="0.01")
    finally:
        launcher.close()


def only_exporter_alive(exporter: Exporter) -> tuple[str, ...]:
    """The exporter answers; Prometheus and Grafana are closed ports."""
    return (
        f"--exporter-url={exporter.url}",
        f"--prometheus-url={dead_url()}",
        f"--grafana-url={dead_url()}",
    )


def result_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith("RESULT=")]
    assert len(lines) == 1, output
    return lines[0]


# --- partial runs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "selection",
    [
        ("-k", "exporter"),
        ("-m", "exporter"),
        ("verify/test_exporter.py",),
        tuple(f"--deselect=verify/test_{name}.py" for name in CHECKS if name != "exporter"),
    ],
    ids=["-k", "-m", "node-id", "--deselect"],
)
def test_one_selected_green_check_is_a_partial_pass(exporter, tmp_path, selection):
    report_file = tmp_path / "v.json"
    outcome = run_verify(report_file, extra_args=(*only_exporter_alive(exporter), *selection))
    assert outcome.exit_code == 0, outcome.output
    assert result_line(outcome.output) == f"RESULT=PASS (partial: 1 of {N} checks selected)"
    for name in CHECKS[1:]:
        assert f"SKIP|{name}|not selected" in outcome.output
    assert "FAIL|" not in outcome.output
    report = outcome.report
    assert report["result"] == "PASS"
    assert report["partial"] is True
    assert report["selection"] == {"selected": ["exporter"], "not_selected": CHECKS[1:], "of": N}
    statuses = {c["check"]: c["status"] for c in report["checks"]}
    assert statuses == {"exporter": "pass"} | {name: "not_selected" for name in CHECKS[1:]}
    assert "forensics" not in report


def test_selected_failing_check_fails_the_partial_run_with_exit_1(tmp_path):
    outcome = run_verify(tmp_path / "v.json", extra_args=(*dead_stack_args(), "-m", "exporter"))
    assert outcome.exit_code == 1, outcome.output
    assert result_line(outcome.output) == f"RESULT=FAIL (partial: 1 of {N} checks selected)"
    assert outcome.report["result"] == "FAIL"
    assert outcome.report["verify_code"] == "F-FAIL-EXPORTER"


def test_check_with_unselected_upstream_runs_anyway_and_says_so(exporter, tmp_path):
    # targets depends on exporter and prometheus: neither is selected, so targets is not
    # blocked; it runs (and fails on the closed Prometheus port on its own account).
    outcome = run_verify(
        tmp_path / "v.json", extra_args=(*only_exporter_alive(exporter), "-m", "targets")
    )
    assert outcome.exit_code == 1, outcome.output
    assert "FAIL|F-FAIL-TARGETS|GET " in outcome.output  # its own probe, not "blocked by"
    assert "INFO|targets_ran_without=exporter,prometheus (not selected)" in outcome.output
    targets = next(c for c in outcome.report["checks"] if c["check"] == "targets")
    assert targets["unselected_upstream"] == ["exporter", "prometheus"]
    assert targets["blocked_by"] is None


def test_last_failed_reruns_only_the_red_checks(exporter, tmp_path):
    cache = ("-o", f"cache_dir={tmp_path / 'cache'}")
    first = run_verify(tmp_path / "a.json", extra_args=(*only_exporter_alive(exporter), *cache))
    assert first.exit_code == 1, first.output
    assert result_line(first.output) == "RESULT=FAIL"  # a whole run: no partial note
    assert first.report["partial"] is False
    rerun = run_verify(
        tmp_path / "b.json", extra_args=(*only_exporter_alive(exporter), *cache, "--lf")
    )
    assert rerun.exit_code == 1, rerun.output
    # pytest's standard outcomes: the failed checks are rerun; blocked ones were skipped.
    failed = [c["check"] for c in first.report["checks"] if c["status"] == "fail"]
    assert failed == ["prometheus", "grafana"], first.output
    assert first.report["summary"]["failed"] == len(failed)
    partial = f"partial: {len(failed)} of {N} checks selected"
    assert result_line(rerun.output) == f"RESULT=FAIL ({partial})"
    assert sorted(rerun.report["selection"]["selected"]) == sorted(failed)


def test_exitfirst_leaves_the_rest_not_run_and_fails(exporter, tmp_path):
    outcome = run_verify(
        tmp_path / "v.json",
        extra_args=(*only_exporter_alive(exporter), "-m", "exporter or rules or grafana", "-x"),
    )
    assert outcome.exit_code == 1, outcome.output
    assert "PASS|exporter|" in outcome.output
    assert "SKIP|grafana|not run" in outcome.output
    assert result_line(outcome.output) == f"RESULT=FAIL (partial: 3 of {N} checks selected)"


def test_selecting_nothing_is_not_a_pass(tmp_path):
    outcome = run_verify(
        tmp_path / "v.json", extra_args=(*dead_stack_args(), "-k", "no_such_check")
    )
    assert outcome.exit_code == 1, outcome.output
    assert result_line(outcome.output) == f"RESULT=FAIL (partial: 0 of {N} checks selected)"


def test_cli_verify_passes_the_selection_through_and_agrees(exporter, tmp_path):
    result = run_cli(
        "verify",
        "--stack=external",
        *only_exporter_alive(exporter),
        "--",
        "-k",
        "exporter",
        f"--json-report-file={tmp_path / 'v.json'}",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"RESULT=PASS (partial: 1 of {N} checks selected)" in result.stdout


# --- collection and help --------------------------------------------------------------------


class CountingHandler(QuietHandler):
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        self.reply(503, b"")


@pytest.fixture
def counting_listener():
    CountingHandler.hits = 0
    with serving(CountingHandler) as port:
        yield f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("flag", ["--collect-only", "--co", "--help", "--markers"])
def test_collection_and_help_give_no_verdict_no_files_no_requests(
    counting_listener, tmp_path, flag
):
    report_file = tmp_path / "reports" / "v.json"
    urls = [f"--{name}-url={counting_listener}" for name in ("exporter", "prometheus", "grafana")]
    outcome = run_verify(report_file, extra_args=(*urls, flag))
    assert outcome.exit_code == 0, outcome.output
    assert "RESULT=" not in outcome.output
    assert "= Shadow-MVS verify =" not in outcome.output
    assert not (tmp_path / "reports").exists(), "no report, no forensics"
    assert CountingHandler.hits == 0
    if flag == "--markers":
        for name in CHECKS:
            assert f"@pytest.mark.{name}:" in outcome.output


# --- the dead external stack, one block, forensics of one run -------------------------------


def test_dead_external_stack_fails_fast_once_root_first(tmp_path):
    report_file = tmp_path / "reports" / "verify.json"
    outcome = run_verify(report_file, extra_args=dead_stack_args())
    assert outcome.exit_code == 1, outcome.output
    # Time spent in the checks (the process start-up around it is bench/fail_fast's figure):
    # three roots, each ending after the contract's grace, not after 10 + 15 + 30 s budgets.
    in_checks = sum(c["elapsed_s"] for c in outcome.report["checks"])
    grace = load_contract().unreachable_grace_s
    assert in_checks <= 3 * (grace + 1), f"{in_checks:.1f} s:\n{outcome.output}"
    assert in_checks + 3 <= DEAD_STACK_LIMIT_S
    assert result_line(outcome.output) == "RESULT=FAIL"
    # Each check exactly once, the root failure first, then what it blocked.
    block = [
        line for line in outcome.output.splitlines() if line.startswith(("FAIL|", "PASS|", "SKIP|"))
    ]
    assert len(block) == len(CHECKS), outcome.output
    assert block[0].startswith("FAIL|F-FAIL-EXPORTER|GET ")
    assert block[1] == "FAIL|F-FAIL-TARGETS|blocked by F-FAIL-EXPORTER (exporter); not retried"
    assert "unreachable external stack" in block[0]
    # pytest's own failure section does not repeat the verdict.
    assert "= FAILURES =" not in outcome.output
    assert "short test summary" not in outcome.output
    assert outcome.output.count("F-FAIL-EXPORTER|GET") == 1
    # External mode speaks about the stack being verified: its URLs, no Docker.
    nexts = [line for line in outcome.output.splitlines() if "|next: " in line]
    assert nexts, outcome.output
    assert not any("docker" in line or "127.0.0.1:9109" in line for line in nexts)
    exporter_url = outcome.report["stack"]["urls"]["exporter_url"]
    assert any(exporter_url in line for line in nexts)
    assert outcome.report["triage"]["next_commands"] == [n.split("|next: ", 1)[1] for n in nexts]


def test_forensics_belong_to_one_run_and_are_json(tmp_path):
    report_file = tmp_path / "reports" / "verify.json"
    forensics_root = report_file.parent / "forensics"
    first = run_verify(report_file, extra_args=(*dead_stack_args(), "-m", "exporter"))
    second = run_verify(report_file, extra_args=(*dead_stack_args(), "-m", "exporter"))
    assert first.exit_code == second.exit_code == 1
    run_dir = Path(second.report["forensics_dir"])
    assert run_dir.parent == forensics_root
    assert list(forensics_root.iterdir()) == [run_dir], "the earlier run's bundle is gone"
    assert sorted(Path(f) for f in second.report["forensics"]) == sorted(run_dir.iterdir())
    for path in run_dir.glob("*.json"):
        document = json.loads(path.read_text())
        assert document["request"]["method"] == "GET"
        assert document["request"]["url"].startswith("http://127.0.0.1:")
        assert "error" in document  # nothing answered
    assert second.report["run_id"] != first.report["run_id"]


def test_a_passing_run_clears_an_earlier_failures_forensics(exporter, tmp_path):
    report_file = tmp_path / "reports" / "verify.json"
    failed = run_verify(report_file, extra_args=(*dead_stack_args(), "-m", "exporter"))
    assert Path(failed.report["forensics_dir"]).is_dir()
    passed = run_verify(report_file, extra_args=(*only_exporter_alive(exporter), "-m", "exporter"))
    assert passed.exit_code == 0, passed.output
    assert not (report_file.parent / "forensics").exists()


# --- usage errors and budgets ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (("--prometheus-url=127.0.0.1:9092",), {}),
        (("--grafana-url=http://",), {}),
        ((), {"SHADOW_MVS_EXPORTER_URL": "localhost"}),
        (("--budget-scale=0",), {}),
        ((), {"SHADOW_MVS_BUDGET_SCALE": "fast"}),
    ],
    ids=["no-scheme", "no-host", "env-no-scheme", "scale-zero", "env-scale-word"],
)
def test_malformed_value_is_a_usage_error_at_once(tmp_path, args, env):
    outcome = run_verify(tmp_path / "v.json", env=env, extra_args=args)
    assert outcome.exit_code == 2, outcome.output
    assert "RESULT=" not in outcome.output
    assert "Traceback" not in outcome.output
    assert "shadow-mvs:" in outcome.output
    assert not (tmp_path / "v.json").exists()


@pytest.mark.parametrize("bad", ["--prometheus-url=127.0.0.1:9092", "--budget-scale=-1"])
def test_cli_refuses_a_malformed_value_with_exit_2(bad):
    cli = run_cli("verify", "--stack=external", bad)
    assert cli.returncode == 2, cli.stdout + cli.stderr
    assert "RESULT=" not in cli.stdout


def test_budget_scale_multiplies_every_budget_and_is_recorded(exporter, tmp_path):
    outcome = run_verify(
        tmp_path / "v.json",
        env={"SHADOW_MVS_BUDGET_SCALE": "2.5"},
        extra_args=(*only_exporter_alive(exporter), "-m", "exporter"),
    )
    assert outcome.exit_code == 0, outcome.output
    assert outcome.report["budget_scale"] == 2.5
    budgets = {c["check"]: c["budget_s"] for c in outcome.report["checks"]}
    assert budgets == {c.name: c.budget_s * 2.5 for c in load_contract().checks}
    assert "INFO|budget_scale=2.5" in outcome.output
