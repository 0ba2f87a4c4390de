"""The G-7 explanation's pure parts; the probes themselves run against a real stack in
the fault matrix (no-shadow-events, mode-label-renamed)."""

from shadow_mvs.evidence.empty_query import Probe, first_failure_detail, window_seconds


def test_window_is_read_from_the_query():
    assert window_seconds("rate(x[5m])") == 300
    assert window_seconds("rate(x[30s])") == 30
    assert window_seconds("rate(x[1h])") == 3600
    assert window_seconds("x") == 0


def test_first_failing_probe_is_the_detail():
    probes = [
        Probe("exporter_family", True, "present"),
        Probe("label_keys", False, "label keys ['mode'] missing"),
        Probe("label_values", False, 'no series with mode="shadow"'),
    ]
    assert first_failure_detail(probes) == "label_keys: label keys ['mode'] missing"


def test_all_probes_passing_points_at_rate_needing_two_samples():
    assert "two samples" in first_failure_detail([Probe("rate_window", True, "ok")])


def test_evidence_line_says_ok_or_fail():
    assert Probe("x", True, "fine").evidence == "ok: fine"
    assert Probe("x", False, "broken").evidence == "FAIL: broken"
