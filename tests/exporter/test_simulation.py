"""The step function and the pipeline, driven tick by tick (no clock, no threads)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from exporter.labels import EDGES, RISK_REASONS, STAGES
from exporter.ledger import Ledger
from exporter.pipeline import Pipeline
from exporter.simulation import client_order_id, simulate_tick
from shadow_mvs.core.contract import REPO_ROOT

# The runbook's ledger fields (Phase 2.1 plus latency_ms), spelled out independently.
RUNBOOK_LEDGER_FIELDS = {
    "ts",
    "mode",
    "run_id",
    "stage",
    "strategy_id",
    "symbol",
    "intent_id",
    "client_order_id",
    "status",
    "qty",
    "price",
    "fee",
    "reason",
    "latency_ms",
}
TICKS = 400


@pytest.fixture
def make_pipeline(tmp_path: Path) -> Iterator:
    ledgers: list[Ledger] = []

    def make(seed: int = 42, run_id: str = "run-a", name: str = "ledger.jsonl") -> Pipeline:
        ledger = Ledger(tmp_path / "ledgers" / name)
        ledgers.append(ledger)
        return Pipeline(seed=seed, mode="shadow", exchange="kraken", run_id=run_id, ledger=ledger)

    yield make
    for ledger in ledgers:
        ledger.close()


def run(pipeline: Pipeline, ticks: int = TICKS) -> Pipeline:
    for _ in range(ticks):
        pipeline.advance()
    return pipeline


def read_ledger(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_same_seed_gives_the_same_events():
    first = [simulate_tick(42, tick, "run-a") for tick in range(TICKS)]
    second = [simulate_tick(42, tick, "run-a") for tick in range(TICKS)]
    assert first == second
    assert sum(len(outcome.events) for outcome in first) > TICKS


def test_a_different_seed_gives_different_events():
    first = [simulate_tick(42, tick, "run-a") for tick in range(TICKS)]
    other = [simulate_tick(43, tick, "run-a") for tick in range(TICKS)]
    assert first != other


def test_events_do_not_depend_on_the_process_hash_seed():
    code = (
        "from exporter.simulation import simulate_tick;"
        "print(repr([simulate_tick(42, t, 'run-a') for t in range(50)]))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            cwd=REPO_ROOT,
            env=os.environ | {"PYTHONHASHSEED": hash_seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for hash_seed in ("1", "2")
    }
    assert outputs == {repr([simulate_tick(42, t, "run-a") for t in range(50)]) + "\n"}


def test_same_seed_writes_the_same_ledger_apart_from_timestamps(make_pipeline):
    a = run(make_pipeline(name="a.jsonl"))
    b = run(make_pipeline(name="b.jsonl"))

    def without_ts(pipeline: Pipeline) -> list[dict]:
        return [
            {k: v for k, v in record.items() if k != "ts"}
            for record in read_ledger(pipeline.ledger_path)
        ]

    assert without_ts(a) == without_ts(b)


def test_stages_flow_with_plausible_rates(make_pipeline):
    counters = run(make_pipeline()).view().events
    assert counters["signal"] == counters["intent"] + counters["risk_block"]
    assert counters["submit"] == counters["intent"]
    assert counters["ack"] + counters["error"] == counters["submit"]
    assert counters["fill"] + counters["cancel"] == counters["ack"]
    assert 0 < counters["fill"] < counters["intent"]
    assert 0 < counters["risk_block"] < 0.2 * counters["signal"]
    assert 0 < counters["error"] < 0.1 * counters["submit"]


def test_risk_blocks_and_latency_observations_match_the_stages(make_pipeline):
    pipeline = run(make_pipeline())
    view = pipeline.view()
    ledger_reasons = Counter(
        r["reason"] for r in read_ledger(pipeline.ledger_path) if r["stage"] == "risk_block"
    )
    assert sum(view.risk_blocks.values()) == view.events["risk_block"]
    assert set(view.risk_blocks) == set(RISK_REASONS)
    assert view.risk_blocks == {reason: ledger_reasons[reason] for reason in RISK_REASONS}
    observed = {edge: view.latency[edge].cumulative[-1] for edge in EDGES}
    assert observed == {
        "intent_to_ack": view.events["ack"],
        "ack_to_fill": view.events["fill"],
        "intent_to_fill": view.events["fill"],
    }


def test_ledger_counts_equal_counters(make_pipeline):
    pipeline = run(make_pipeline())
    on_disk = Counter(record["stage"] for record in read_ledger(pipeline.ledger_path))
    counters = pipeline.view().events
    assert counters == {stage: on_disk[stage] for stage in STAGES}
    snapshot = pipeline.snapshot()
    assert snapshot["counters"] == snapshot["ledger_counts"] == counters
    assert snapshot["ledger_lines"] == sum(counters.values())


def test_snapshot_counts_only_this_runs_lines(make_pipeline, tmp_path: Path):
    path = tmp_path / "ledgers" / "shared.jsonl"
    path.parent.mkdir(parents=True)
    earlier = '{"stage":"fill","note":"an earlier run"}\n'
    path.write_text(earlier)
    pipeline = run(make_pipeline(name="shared.jsonl"), ticks=50)
    snapshot = pipeline.snapshot()
    assert snapshot["ledger_counts"] == snapshot["counters"]
    assert path.read_text().startswith(earlier), "ledger is not append-only"


def test_snapshot_ledger_counts_are_read_from_disk(make_pipeline):
    pipeline = run(make_pipeline(), ticks=50)
    before = pipeline.snapshot()
    with pipeline.ledger_path.open("a") as foreign_writer:
        foreign_writer.write('{"stage":"fill","note":"written behind the exporter\'s back"}\n')
    after = pipeline.snapshot()
    assert after["counters"] == before["counters"]
    assert after["ledger_counts"]["fill"] == before["ledger_counts"]["fill"] + 1
    assert after["ledger_lines"] == before["ledger_lines"] + 1


def test_every_ledger_line_is_whole_json_with_the_runbook_fields(make_pipeline):
    pipeline = run(make_pipeline())
    raw = pipeline.ledger_path.read_bytes()
    assert raw.endswith(b"\n")
    for line in raw.decode().splitlines():
        record = json.loads(line)
        assert set(record) == RUNBOOK_LEDGER_FIELDS, line
        assert record["mode"] == "shadow"
        assert record["run_id"] == "run-a"
        assert record["stage"] in STAGES
        assert record["ts"].endswith("Z")
        for number in ("qty", "price", "fee", "latency_ms"):
            assert isinstance(record[number], float), line
        assert record["qty"] > 0
        assert record["price"] > 0


def test_each_ledger_line_is_one_write_call(make_pipeline, monkeypatch: pytest.MonkeyPatch):
    writes: list[bytes] = []
    real_write = os.write

    def recording_write(fd: int, data: bytes) -> int:
        writes.append(bytes(data))
        return real_write(fd, data)

    monkeypatch.setattr("exporter.ledger.os.write", recording_write)
    pipeline = run(make_pipeline(), ticks=50)
    assert len(writes) == pipeline.snapshot()["ledger_lines"] > 0
    for data in writes:
        assert data.endswith(b"\n")
        assert data.count(b"\n") == 1
        json.loads(data)


def test_client_order_ids_are_deterministic_and_one_per_intent(make_pipeline):
    records = read_ledger(run(make_pipeline()).ledger_path)
    ids_by_intent: dict[str, set[str]] = {}
    for record in records:
        if record["stage"] in ("signal", "risk_block"):
            assert record["client_order_id"] == "", record
            continue
        expected = client_order_id("run-a", record["intent_id"])
        assert record["client_order_id"] == expected, record
        ids_by_intent.setdefault(record["intent_id"], set()).add(record["client_order_id"])
    assert all(len(ids) == 1 for ids in ids_by_intent.values())
    all_ids = [next(iter(ids)) for ids in ids_by_intent.values()]
    assert len(all_ids) == len(set(all_ids)), "two intents share a client_order_id"
    assert client_order_id("run-a", "i-1") != client_order_id("run-b", "i-1")
