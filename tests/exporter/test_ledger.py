"""The ledger stays whole: a torn last line is repaired on start, the audit reads the whole
file and names a line that is no record, run and order ids never repeat across restarts,
and a flush that fails on close is one line."""

from __future__ import annotations

import json
import logging
import signal
from pathlib import Path

import pytest

from exporter.ledger import Ledger
from exporter.pipeline import Pipeline
from fixtures.faults import run_verify
from fixtures.local_prometheus import free_loopback_port

from .conftest import Launcher

RECORD = {"stage": "fill", "run_id": "earlier", "fee": 1.5}
WHOLE = json.dumps(RECORD) + "\n"


def open_ledger(path: Path, caplog: pytest.LogCaptureFixture) -> Ledger:
    with caplog.at_level(logging.WARNING, logger="shadow_mvs.exporter"):
        return Ledger(path)


def test_a_torn_last_line_is_truncated_and_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    path = tmp_path / "ledger.jsonl"
    torn = WHOLE[: len(WHOLE) // 2]  # a full disk cut the write short
    path.write_text(WHOLE + torn)
    ledger = open_ledger(path, caplog)
    ledger.append({"stage": "signal", "fee": 0.0})
    ledger.close()
    lines = path.read_text().splitlines()
    assert [json.loads(line)["stage"] for line in lines] == ["fill", "signal"]
    assert f"truncated a torn last line of {len(torn)} bytes at byte {len(WHOLE)}" in caplog.text
    assert str(path) in caplog.text


def test_a_whole_record_without_its_newline_is_terminated(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    path = tmp_path / "ledger.jsonl"
    path.write_text(WHOLE + WHOLE.rstrip("\n"))
    ledger = open_ledger(path, caplog)
    ledger.append({"stage": "signal"})
    ledger.close()
    stages = [json.loads(line)["stage"] for line in path.read_text().splitlines()]
    assert stages == ["fill", "fill", "signal"]
    assert "terminated its last line" in caplog.text


def test_a_file_that_is_only_a_fragment_is_emptied(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    path = tmp_path / "ledger.jsonl"
    path.write_text('{"stage":"fi')
    ledger = open_ledger(path, caplog)
    ledger.close()
    assert path.read_bytes() == b""
    assert "truncated a torn last line of 12 bytes at byte 0" in caplog.text


def test_a_whole_ledger_is_left_alone(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    path = tmp_path / "ledger.jsonl"
    path.write_text(WHOLE * 3)
    ledger = open_ledger(path, caplog)
    ledger.close()
    assert path.read_text() == WHOLE * 3
    assert ledger.repair_note is None
    assert caplog.text == ""


def test_the_audit_reads_the_whole_file_and_names_a_corrupt_line(tmp_path: Path):
    path = tmp_path / "ledger.jsonl"
    path.write_text(WHOLE + "not json at all\n" + WHOLE)
    ledger = Ledger(path)
    ledger.append({"stage": "signal", "fee": 0.0})
    audit = ledger.audit()
    ledger.close()
    # Earlier runs' lines are checked, not counted: the counts are this run's alone.
    assert audit.counts == {"signal": 1}
    assert audit.lines == 1
    assert audit.unparseable == 1
    assert audit.first_unparseable == "line 2: 'not json at all'"


def test_a_line_written_after_start_is_audited_too(tmp_path: Path):
    ledger = Ledger(tmp_path / "ledger.jsonl")
    ledger.append({"stage": "signal"})
    assert ledger.audit().unparseable == 0
    with ledger.path.open("a") as foreign:
        foreign.write("[1, 2]\n")  # JSON, but not a record
    audit = ledger.audit()
    ledger.close()
    assert audit.unparseable == 1
    assert audit.first_unparseable == "line 2: '[1, 2]'"
    assert audit.lines == 2


def test_snapshot_carries_the_corrupt_line(tmp_path: Path):
    path = tmp_path / "ledger.jsonl"
    path.write_text("garbage\n")
    ledger = Ledger(path)
    pipeline = Pipeline(seed=1, mode="shadow", exchange="kraken", run_id="r", ledger=ledger)
    snapshot = pipeline.snapshot()
    ledger.close()
    assert snapshot["ledger_unparseable"] == 1
    assert snapshot["ledger_first_unparseable"] == "line 1: 'garbage'"


def test_a_failing_flush_on_close_is_one_line(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    from exporter.cli import close_ledger

    ledger = Ledger(tmp_path / "ledger.jsonl")

    def full_disk(_fd: int) -> None:
        raise OSError(28, "No space left on device")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("exporter.ledger.os.fsync", full_disk)
        with caplog.at_level(logging.ERROR, logger="shadow_mvs.exporter"):
            assert close_ledger(ledger) is False
    assert caplog.messages == [
        f"ledger {ledger.path}: flush on close failed: No space left on device"
    ]


# --- restarts: real exporter processes on one ledger ---------------------------------------


def test_restarts_on_one_ledger_never_share_run_intent_or_order_ids(
    launcher: Launcher, tmp_path: Path
):
    shared = tmp_path / "shared.jsonl"
    for _ in range(3):  # the same seed, started within the same second
        exporter = launcher.start("--ledger", str(shared), tick="0.005")
        exporter.wait_for(lambda snap: snap["counters"]["intent"] > 0, "an intent")
        assert exporter.stop(signal.SIGTERM) == 0
    records = [json.loads(line) for line in shared.read_text().splitlines()]
    run_ids = {record["run_id"] for record in records}
    assert len(run_ids) == 3, run_ids
    intents = {(r["run_id"], r["intent_id"]) for r in records if r["stage"] == "intent"}
    assert len({intent for _, intent in intents}) == len(intents)
    orders = [r["client_order_id"] for r in records if r["stage"] == "intent"]
    assert len(orders) == len(set(orders))


def test_a_torn_ledger_is_repaired_by_the_next_exporter(launcher: Launcher, tmp_path: Path):
    shared = tmp_path / "torn.jsonl"
    shared.write_text(WHOLE + WHOLE[:20])
    exporter = launcher.start("--ledger", str(shared), tick="0.005")
    snapshot = exporter.wait_for(lambda snap: snap["ledger_lines"] > 5, "5 ledger lines")
    assert snapshot["ledger_unparseable"] == 0
    assert "truncated a torn last line of 20 bytes" in exporter.stderr
    for line in shared.read_text().splitlines():
        json.loads(line)


def test_the_exporter_check_names_a_corrupt_ledger_line_as_r5(launcher: Launcher, tmp_path: Path):
    ledger = tmp_path / "corrupt.jsonl"
    ledger.write_text(WHOLE + '{"stage":"fill","fee":1.5{"ts":"2026-11-30T00:00:00Z"}\n')
    exporter = launcher.start("--ledger", str(ledger), tick="0.01")
    dead = f"http://127.0.0.1:{free_loopback_port()}"
    outcome = run_verify(
        tmp_path / "verify.json",
        extra_args=(
            f"--exporter-url={exporter.url}",
            f"--prometheus-url={dead}",
            f"--grafana-url={dead}",
            "-k",
            "exporter",
        ),
    )
    fail_lines = [line for line in outcome.output.splitlines() if line.startswith("FAIL|")]
    assert len(fail_lines) == 1, outcome.output
    assert fail_lines[0].startswith("FAIL|F-FAIL-EXPORTER|the exporter's ledger holds a line")
    assert 'line 2: \'{"stage":"fill","fee":1.5{' in fail_lines[0]
    assert "TRIAGE|R-5|" in outcome.output
    assert outcome.report["triage"]["cause"] == "ledger_corrupt"
    assert outcome.exit_code == 1
