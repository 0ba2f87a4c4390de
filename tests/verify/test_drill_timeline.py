"""The drill's timeline logic, Docker-free: stages in order, the time to detect against the
rule's promise, the stage where a broken chain broke, the JSON CI reads, and the receiver's
records read back — with Alertmanager's webhook message shape (notify/webhook/webhook.go)."""

import json
import subprocess
import sys

import pytest

from shadow_mvs.core.contract import REPO_ROOT, load_contract
from shadow_mvs.evidence.drill_timeline import (
    Promise,
    Timeline,
    alert_state,
    duration_s,
    group_wait_s,
    notifications,
)

CONFIG = (REPO_ROOT / load_contract().alerting["config_file"]).read_text()
PROMISE = Promise(for_s=60, evaluation_s=5, scrape_s=5, group_wait_s=2)


def healthy_timeline(detect_at: float = 65.2) -> Timeline:
    timeline = Timeline("R-2", "PeakTradeNoPipelineEvents", "stalled", PROMISE)
    for stage, offset in [
        ("fault", 0),
        ("pending", 3.3),
        ("firing", 63.4),
        ("sent", 63.4),
        ("notified", detect_at),
        ("restored", detect_at + 0.3),
        ("resolved", detect_at + 10),
    ]:
        timeline.see(stage, 1000.0 + offset)
    return timeline


def test_a_whole_chain_passes_with_its_time_to_detect_within_the_promise():
    timeline = healthy_timeline()
    assert timeline.passed
    assert timeline.time_to_detect_s == 65.2
    assert PROMISE.total_s == 72
    assert timeline.within_promise is True
    lines = timeline.lines()
    assert lines[1] == "TIMELINE|fault|+0.0s"
    assert lines[-3] == "TIMELINE|resolved|+75.2s"
    assert lines[-2].startswith("TIME_TO_DETECT|65.2s|within the rule's promise for 60s")
    assert lines[-1] == "RESULT=PASS"


def test_a_slow_notification_is_over_the_promise_but_the_chain_held():
    timeline = healthy_timeline(detect_at=80)
    assert timeline.within_promise is False
    assert "|OVER the rule's promise" in timeline.lines()[-2]


@pytest.mark.parametrize(
    ("seen", "words"),
    [
        (["fault"], "rule never pending"),
        (["fault", "pending"], "rule never firing"),
        (["fault", "pending", "firing"], "not sent"),
        (["fault", "pending", "firing", "sent"], "not routed or receiver error"),
    ],
)
def test_a_broken_chain_names_the_first_stage_that_never_came(seen, words):
    timeline = Timeline("R-3", "PeakTradeErrorRateHigh", "error_spike", PROMISE)
    for n, stage in enumerate(seen):
        timeline.see(stage, 100.0 + n)
    timeline.break_at()
    assert not timeline.passed
    assert timeline.broken is not None
    assert timeline.broken.startswith(words)
    assert timeline.lines()[-2] == f"FAIL|drill|R-3|{timeline.broken}"
    assert timeline.lines()[-1] == "RESULT=FAIL"
    assert timeline.time_to_detect_s is None


def test_the_first_sighting_counts_and_unknown_stages_are_refused():
    timeline = healthy_timeline()
    timeline.see("firing", 5000.0)
    assert timeline.offset("firing") == 63.4
    with pytest.raises(ValueError, match="unknown drill stage"):
        timeline.see("paged", 1.0)


def test_json_for_ci_carries_every_stage_and_the_verdict():
    data = json.loads(json.dumps(healthy_timeline().as_json()))
    assert data["result"] == "PASS"
    assert [s["stage"] for s in data["stages"]][:2] == ["fault", "pending"]
    assert data["time_to_detect_s"] == 65.2
    assert data["promise_s"] == 72
    assert data["within_promise"] is True


def test_durations_and_group_wait_come_from_the_loaded_config():
    assert duration_s("1m30s") == 90
    assert duration_s("500ms") == 0.5
    with pytest.raises(ValueError, match="not a duration"):
        duration_s("soon")
    assert group_wait_s(CONFIG, {"r_node": "R-2", "severity": "warning"}) == 2
    assert group_wait_s(CONFIG, {"r_node": "R-3", "severity": "critical"}) == 0
    assert group_wait_s("route: {receiver: x}", {}) == 30  # Alertmanager's default


def test_alert_state_prefers_firing_and_matches_the_r_node():
    alerts = [
        {"state": "pending", "labels": {"alertname": "A", "r_node": "R-2"}},
        {"state": "firing", "labels": {"alertname": "A", "r_node": "R-2", "mode": "live"}},
        {"state": "firing", "labels": {"alertname": "A", "r_node": "R-3"}},
    ]
    assert alert_state(alerts, "A", "R-2") == "firing"
    assert alert_state(alerts[:1], "A", "R-2") == "pending"
    assert alert_state(alerts, "A", "R-4") is None


def test_receiver_records_are_read_as_notifications_of_the_drills_alert():
    def record(at: float, status: str, alertname: str) -> str:
        alert = {
            "status": status,
            "labels": {"alertname": alertname, "r_node": "R-2"},
            "annotations": {"r_node": "R-2", "runbook": "docs/RUNBOOK.md (R-2: …)"},
        }
        payload = {"version": "4", "status": status, "receiver": "runbook-r2", "alerts": [alert]}
        return json.dumps({"received_at": at, "payload": payload})

    text = "\n".join(
        [
            record(1.0, "firing", "Other"),
            record(2.0, "firing", "A"),
            "",
            record(3.0, "resolved", "A"),
        ]
    )
    found = notifications(text, "A")
    assert [(n.received_at, n.status, n.receiver, n.r_node) for n in found] == [
        (2.0, "firing", "runbook-r2", "R-2"),
        (3.0, "resolved", "runbook-r2", "R-2"),
    ]
    assert found[0].runbook.startswith("docs/RUNBOOK.md (R-2")


@pytest.mark.parametrize(
    "args",
    [("--env", "prod-shaped"), ("--stack", "external")],
    ids=["prod-shaped", "external"],
)
def test_a_drill_against_an_external_stack_is_refused_in_one_line(args):
    done = subprocess.run(
        [sys.executable, "-m", "shadow_mvs.cli", "drill", "R-2", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    [line] = done.stderr.strip().splitlines()
    assert "drill refused" in line
    assert "must never page a real stack" in line
