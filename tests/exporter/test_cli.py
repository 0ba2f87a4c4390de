"""The exporter process: NO-LIVE gate, flag errors, port clashes, signals, /snapshot."""

from __future__ import annotations

import json
import signal
import socket
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from exporter.labels import STAGES
from fixtures.local_prometheus import free_loopback_port

from .conftest import Exporter, Launcher, run_exporter


def assert_clean_error(stderr: str, *needles: str) -> None:
    assert "Traceback" not in stderr, stderr
    assert "error:" in stderr, stderr
    for needle in needles:
        assert needle in stderr, stderr


def stage_counts(records: list[dict]) -> dict[str, int]:
    counts = Counter(record["stage"] for record in records)
    return {stage: counts[stage] for stage in STAGES}


# --- NO-LIVE gate -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--mode", "live"], {}),
        (["--mode", "live"], {"LIVE_TRADING_ENABLED": "false"}),
        ([], {"SHADOW_MVS_MODE": "live"}),
    ],
    ids=["flag-unset", "flag-false", "env-unset"],
)
def test_live_mode_is_refused_without_the_gate(args: list[str], env: dict[str, str]):
    result = run_exporter(*args, "--listen", f"127.0.0.1:{free_loopback_port()}", env=env)
    assert result.returncode == 2
    assert_clean_error(result.stderr, "LIVE_TRADING_ENABLED")
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.parametrize("value", ["yes", "TRUE", "1", "", " true"])
def test_live_gate_value_is_parsed_strictly(value: str):
    result = run_exporter(env={"LIVE_TRADING_ENABLED": value})
    assert result.returncode == 2
    assert_clean_error(result.stderr, "LIVE_TRADING_ENABLED", "'true' or 'false'")


def test_live_mode_with_the_gate_only_labels_the_simulation(launcher: Launcher):
    exporter = launcher.start("--mode", "live", env={"LIVE_TRADING_ENABLED": "true"})
    exporter.wait_for(lambda snap: snap["counters"]["fill"] > 0, "a fill")
    modes = {
        sample.labels["mode"]
        for family in text_string_to_metric_families(exporter.metrics_text())
        for sample in family.samples
    }
    assert modes == {"live"}
    assert exporter.snapshot()["mode"] == "live"
    assert {record["mode"] for record in exporter.ledger_records()} == {"live"}
    assert "nothing trades" in exporter.stderr


# --- flag errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        (["--listen", "nonsense"], {}, "--listen"),
        (["--listen", "127.0.0.1:99999"], {}, "--listen"),
        (["--listen", "127.0.0.1:http"], {}, "--listen"),
        (["--listen", "999.1.1.1:9109"], {}, "--listen"),
        ([], {"SHADOW_MVS_LISTEN": "somewhere"}, "--listen"),
        (["--exchange", "binance"], {}, "--exchange"),
        ([], {"SHADOW_MVS_EXCHANGE": "binance"}, "--exchange"),
        (["--mode", "paper"], {}, "--mode"),
        (["--tick", "-1"], {}, "--tick"),
        (["--tick", "0"], {}, "--tick"),
        (["--tick", "nan"], {}, "--tick"),
        (["--seed", "forty-two"], {}, "--seed"),
        (["--no-such-flag"], {}, "unrecognized"),
        ([], {"SHADOW_MVS_FAULT_EXPOSITION": "gzip"}, "SHADOW_MVS_FAULT_EXPOSITION must be one of"),
    ],
)
def test_bad_flags_exit_2_with_an_argparse_error(args: list[str], env: dict[str, str], needle: str):
    result = run_exporter(*args, env=env)
    assert result.returncode == 2
    assert_clean_error(result.stderr, "usage:", needle)


def test_help_names_every_environment_fallback():
    result = run_exporter("--help")
    assert result.returncode == 0
    for name in (
        "SHADOW_MVS_LISTEN",
        "SHADOW_MVS_MODE",
        "SHADOW_MVS_EXCHANGE",
        "SHADOW_MVS_SEED",
        "SHADOW_MVS_LEDGER",
        "SHADOW_MVS_PROFILE",
        "SHADOW_MVS_TICK",
        "LIVE_TRADING_ENABLED",
    ):
        assert name in result.stdout


def test_port_in_use_is_a_one_line_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_exporter("--listen", f"127.0.0.1:{port}")
    assert result.returncode != 0
    assert_clean_error(result.stderr, f"127.0.0.1:{port}", "in use")
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_unwritable_ledger_is_a_one_line_error(tmp_path: Path):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    result = run_exporter(
        "--listen", f"127.0.0.1:{free_loopback_port()}", "--ledger", str(not_a_dir / "ledger.jsonl")
    )
    assert result.returncode != 0
    assert_clean_error(result.stderr, "ledger")
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


# --- ledger and counters over HTTP --------------------------------------------------------


def test_snapshot_counters_equal_the_ledger_on_disk(busy_exporter: Exporter):
    snapshot = busy_exporter.snapshot()
    assert set(snapshot) == {
        "mode",
        "exchange",
        "run_id",
        "counters",
        "ledger_counts",
        "ledger_lines",
        "profile",
        "fees",
        "ledger_fees",
        "ledger_unparseable",
        "ledger_first_unparseable",
    }
    assert (snapshot["ledger_unparseable"], snapshot["ledger_first_unparseable"]) == (0, None)
    assert (snapshot["mode"], snapshot["exchange"]) == ("shadow", "kraken")
    assert snapshot["profile"] == "healthy"
    assert snapshot["counters"] == snapshot["ledger_counts"]
    assert snapshot["fees"] == snapshot["ledger_fees"]
    # Append-only and taken under the writer's lock: the first ledger_lines lines on disk
    # are exactly the events the counters had seen.
    records = busy_exporter.ledger_records()[: snapshot["ledger_lines"]]
    assert len(records) == snapshot["ledger_lines"] == sum(snapshot["counters"].values())
    assert stage_counts(records) == snapshot["counters"]
    assert {record["run_id"] for record in records} == {snapshot["run_id"]}
    assert round(sum(record["fee"] for record in records), 6) == snapshot["ledger_fees"]


def test_metrics_counters_equal_the_ledger_on_disk(busy_exporter: Exporter):
    (events,) = (
        family
        for family in text_string_to_metric_families(busy_exporter.metrics_text())
        if family.name == "peak_trade_pipeline_events"
    )
    counters = {sample.labels["stage"]: int(sample.value) for sample in events.samples}
    records = busy_exporter.ledger_records()[: sum(counters.values())]
    assert stage_counts(records) == counters


def test_unknown_path_is_404_and_healthz_is_json(busy_exporter: Exporter):
    assert httpx.get(busy_exporter.url + "/nope", timeout=2.0).status_code == 404
    assert busy_exporter.get("/healthz").json()["status"] == "ok"


# --- shutdown -----------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_shuts_down_cleanly_with_every_line_flushed(launcher: Launcher, signum: int):
    exporter = launcher.start(tick="0.005")
    seen = exporter.wait_for(lambda snap: snap["ledger_lines"] >= 50, "50 ledger lines")
    assert exporter.stop(signum) == 0
    assert "Traceback" not in exporter.stderr
    assert "stopped; ledger flushed" in exporter.stderr
    raw = exporter.ledger.read_text()
    assert raw.endswith("\n")
    records = [json.loads(line) for line in raw.splitlines()]
    assert len(records) >= seen["ledger_lines"]


def test_a_kill_never_leaves_a_torn_line(launcher: Launcher):
    exporter = launcher.start(tick="0.001")
    exporter.wait_for(lambda snap: snap["ledger_lines"] >= 500, "500 ledger lines")
    exporter.stop(signal.SIGKILL)
    raw = exporter.ledger.read_text()
    assert raw.endswith("\n")
    for line in raw.splitlines():
        json.loads(line)


def test_test_only_exposition_faults_break_what_prometheus_reads(launcher: Launcher):
    """The fault matrix's exporter knob: the bytes or the Content-Type, never the simulation."""
    from shadow_mvs.core.run import CheckFailed
    from shadow_mvs.evidence.hops import parse_exposition

    announced = launcher.start(env={"SHADOW_MVS_FAULT_EXPOSITION": "openmetrics-type"})
    response = announced.get("/metrics")
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    with pytest.raises(CheckFailed, match="makes it read OpenMetrics"):
        parse_exposition("u", response.text, response.headers["content-type"])
    stale = launcher.start(env={"SHADOW_MVS_FAULT_EXPOSITION": "stale-timestamps"})
    response = stale.get("/metrics")
    samples = parse_exposition("u", response.text, response.headers["content-type"]).samples
    assert samples
    assert all(s.timestamp is not None and float(s.timestamp) < time.time() - 7000 for s in samples)
