"""Exporter profiles: each unhealthy profile shifts exactly the numbers it names, the
healthy one stays inside every shadow SLO, the seed fixes all of it, and NO-LIVE holds in
every profile. The SLO values are computed from simulated ticks (tests/exporter/slo_math.py)
and compared with the thresholds in shadow_mvs/data/contract.toml."""

from __future__ import annotations

import math

import pytest

from exporter.simulation import HEALTHY, PROFILES, simulate_tick
from fixtures.local_prometheus import free_loopback_port
from shadow_mvs.core.contract import load_contract

from .conftest import Launcher, run_exporter
from .slo_math import slo_values

WINDOW_TICKS = 240  # one minute at the default 0.25 s tick: the contract's SLO window
WINDOWS = 15
# The objective(s) each profile breaches on purpose; every other one must stay met.
BREACHES = {
    "healthy": set(),
    "error_spike": {"error_rate"},
    "degraded_latency": {"intent_to_ack_p95"},
    "feed_gaps": {"feed_gaps"},
    "risk_block_spike": {"risk_block_rate"},
    "stalled": {"event_rate"},
}
OBJECTIVES = {o.name: o for o in load_contract().slo_objectives}


def test_every_profile_is_listed_with_its_breach():
    assert set(BREACHES) == set(PROFILES)
    assert set().union(*BREACHES.values()) == set(OBJECTIVES)


@pytest.mark.parametrize("name", list(PROFILES))
def test_profile_breaches_exactly_its_slo_in_every_window(name: str):
    """Fifteen consecutive one-minute windows of seed 42, judged like the slo check does."""
    profile = PROFILES[name]
    for window in range(WINDOWS):
        values = slo_values(profile, window * WINDOW_TICKS, WINDOW_TICKS)
        breached = {
            slo
            for slo, value in values.items()
            if not math.isnan(value) and not OBJECTIVES[slo].healthy(value, "shadow")
        }
        assert breached == BREACHES[name], (name, window, values)


@pytest.mark.parametrize("name", [n for n in PROFILES if n != "healthy"])
def test_profile_moves_its_number_far_from_healthy(name: str):
    healthy = slo_values(HEALTHY, 0, 10 * WINDOW_TICKS)
    sick = slo_values(PROFILES[name], 0, 10 * WINDOW_TICKS)
    (slo,) = BREACHES[name]
    factor = sick[slo] / healthy[slo] if healthy[slo] else math.inf
    if OBJECTIVES[slo].ok == "above":
        assert sick[slo] == 0, sick
        assert healthy[slo] > 10, healthy
    else:
        assert factor > 5, (slo, healthy[slo], sick[slo])


@pytest.mark.parametrize("name", list(PROFILES))
def test_same_seed_same_profile_same_events(name: str):
    profile = PROFILES[name]
    first = [simulate_tick(7, tick, "run-p", profile) for tick in range(200)]
    assert first == [simulate_tick(7, tick, "run-p", profile) for tick in range(200)]
    assert first != [simulate_tick(8, tick, "run-p", profile) for tick in range(200)] or (
        name == "stalled"
    )


def test_default_profile_is_the_healthy_simulation():
    assert [simulate_tick(42, t, "r") for t in range(100)] == [
        simulate_tick(42, t, "r", PROFILES["healthy"]) for t in range(100)
    ]


@pytest.mark.parametrize("name", list(PROFILES))
def test_no_live_holds_in_every_profile(name: str):
    port = f"127.0.0.1:{free_loopback_port()}"
    for args, env in (
        (["--mode", "live", "--profile", name], {}),
        (["--mode", "live"], {"SHADOW_MVS_PROFILE": name}),
    ):
        result = run_exporter(*args, "--listen", port, env=env)
        assert result.returncode == 2, result.stderr
        assert "LIVE_TRADING_ENABLED" in result.stderr


def test_unknown_profile_is_a_usage_error():
    result = run_exporter("--profile", "on_fire")
    assert result.returncode == 2
    assert "healthy" in result.stderr
    assert "Traceback" not in result.stderr


def test_profile_from_env_runs_and_reconciles(launcher: Launcher):
    """The env var selects the profile; the ledger still equals the counters and fees."""
    exporter = launcher.start(env={"SHADOW_MVS_PROFILE": "error_spike"})
    assert exporter.get("/healthz").json()["profile"] == "error_spike"
    snap = exporter.wait_for(lambda s: s["counters"]["error"] >= 20, "errors counted")
    assert snap["profile"] == "error_spike"
    assert snap["counters"]["error"] > 0.2 * snap["counters"]["submit"]
    stopped = exporter.wait_for(lambda s: s["counters"]["fill"] > 0, "a fill")
    exporter.stop()
    records = exporter.ledger_records()
    assert stopped["ledger_fees"] == stopped["fees"] > 0
    assert round(sum(r["fee"] for r in records), 6) >= stopped["fees"]


def test_tick_from_env_is_checked_like_the_flag():
    result = run_exporter(env={"SHADOW_MVS_TICK": "soon"})
    assert result.returncode == 2
    assert "soon" in result.stderr
