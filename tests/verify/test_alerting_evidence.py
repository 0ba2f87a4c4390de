"""The alerting check's evidence, Docker-free: each fault it exists for turns into its cause
with the right words — routes read from the repo's own Alertmanager config, self-metrics in
the exposition format Prometheus and Alertmanager serve, the preflight's amtool run on a
broken copy, and the recording receiver over real HTTP."""

import json
import shutil
import threading
from pathlib import Path

import httpx
import pytest
import yaml

from alert_receiver.server import serve
from fixtures.prometheus_tools import AMTOOL_BIN, needs_prometheus_tools
from shadow_mvs.core.causes import sentence
from shadow_mvs.core.contract import REPO_ROOT, load_contract
from shadow_mvs.evidence import alerting
from shadow_mvs.evidence.alertmanager_preflight import alertmanager_findings
from shadow_mvs.evidence.preflight import Mounts
from shadow_mvs.evidence.rulebook import prometheus_config

CONFIG = REPO_ROOT / load_contract().alerting["config_file"]
RULES = REPO_ROOT / "compose/prometheus/rules/shadow_mvs_alerts.yml"


def loaded_rules() -> list[dict]:
    """The rules as /api/v1/rules lists them: name, labels."""
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [{"name": r["alert"], "labels": r["labels"]} for g in groups for r in g["rules"]]


def test_the_repo_config_routes_every_r_node_the_rules_name():
    rules = loaded_rules()
    assert alerting.rule_values(rules, "r_node") == ["R-2", "R-3", "R-4"]
    assert alerting.unrouted(CONFIG.read_text(), rules, "r_node") == []


def test_a_dropped_route_is_named_with_its_alerts_and_where_they_land():
    config = yaml.safe_load(CONFIG.read_text())
    config["route"]["routes"] = [
        r for r in config["route"]["routes"] if 'r_node="R-3"' not in r["matchers"]
    ]
    gaps = alerting.unrouted(yaml.safe_dump(config), loaded_rules(), "r_node")
    assert gaps == [
        alerting.Unrouted("R-3", ("PeakTradeAckLatencyHigh", "PeakTradeErrorRateHigh"), "unrouted")
    ]
    words = str(
        sentence(
            "alertmanager_route_missing",
            {"label": "r_node", "value": "R-3", "alerts": "…", "receiver": "unrouted"},
        )
    )
    assert "no route for r_node=R-3" in words
    assert "default receiver unrouted" in words


def test_routing_follows_alertmanager_matchers_children_and_continue():
    tree = {
        "receiver": "root",
        "routes": [
            {"match_re": {"r_node": "R-[23]"}, "receiver": "a", "continue": True},
            {"matchers": ['severity!="critical"', 'r_node=~"R-.*"'], "receiver": "b"},
            {"matchers": ['r_node="R-4"'], "routes": [{"match": {"severity": "critical"}}]},
        ],
    }
    assert alerting.receivers_for(tree, {"r_node": "R-2", "severity": "warning"}) == ["a", "b"]
    assert alerting.receivers_for(tree, {"r_node": "R-4", "severity": "critical"}) == ["root"]
    assert alerting.receivers_for(tree, {"r_node": "R-9", "severity": "critical"}) == []
    with pytest.raises(ValueError, match="not an Alertmanager matcher"):
        alerting.parse_matcher("r_node")


def test_the_preflight_reads_where_prometheus_yml_sends_alerts():
    config = yaml.safe_load((REPO_ROOT / "compose/prometheus/prometheus.yml").read_text())
    contract = load_contract()
    assert prometheus_config.alerting_findings(config, contract) == []
    config["alerting"]["alertmanagers"][0]["static_configs"] = [{"targets": ["am:9393"]}]
    [finding] = prometheus_config.alerting_findings(config, contract)
    assert finding.check == "alerting"
    assert finding.text == (
        "Prometheus sends alerts to am:9393, not to the Alertmanager at host.docker.internal:9093"
    )
    del config["alerting"]
    [finding] = prometheus_config.alerting_findings(config, contract)
    assert finding.text.startswith("Prometheus sends alerts to no Alertmanager, not to")


def test_prometheus_sending_to_another_alertmanager_is_seen_in_its_list():
    answer = {"activeAlertmanagers": [{"url": "http://host.docker.internal:9393/api/v2/alerts"}]}
    assert alerting.active_targets(answer) == ["host.docker.internal:9393"]
    assert alerting.active_targets({"activeAlertmanagers": []}) == []


PROMETHEUS_METRICS = """\
# HELP prometheus_notifications_dropped_total Total number of alerts dropped due to errors when sending to Alertmanager.
# TYPE prometheus_notifications_dropped_total counter
prometheus_notifications_dropped_total 3
# HELP prometheus_notifications_errors_total Total number of errors sending alert notifications.
# TYPE prometheus_notifications_errors_total counter
prometheus_notifications_errors_total{alertmanager="http://host.docker.internal:9093/api/v2/alerts"} 2
prometheus_notifications_errors_total{alertmanager="http://other:9093/api/v2/alerts"} 0
"""
ALERTMANAGER_METRICS = """\
# HELP alertmanager_notifications_failed_total The total number of failed notifications.
# TYPE alertmanager_notifications_failed_total counter
alertmanager_notifications_failed_total{integration="email"} 0
alertmanager_notifications_failed_total{integration="webhook"} 4
"""


def test_dropped_and_failed_sends_are_causes_with_their_counts():
    problems = alerting.prometheus_send_problems(PROMETHEUS_METRICS)
    assert [p.cause for p in problems] == ["prometheus_alerts_dropped", "prometheus_notify_errors"]
    assert problems[1].facts["alertmanager"].startswith("http://host.docker.internal:9093")
    failed = alerting.notify_failures(ALERTMANAGER_METRICS)
    assert failed == [
        alerting.Problem("alertmanager_notify_failed", {"failed": "4", "integration": "webhook"})
    ]
    assert "failed 4 notifications via webhook" in str(sentence(failed[0].cause, failed[0].facts))
    assert alerting.prometheus_send_problems("") == []


def test_counter_totals_reads_only_its_counter_among_other_families():
    """Only lines naming the counter reach the parser; a label value or a longer name that
    merely contains it is another family's sample and does not count."""
    page = (
        "# HELP go_goroutines Number of goroutines.\n# TYPE go_goroutines gauge\n"
        "go_goroutines 42\n"
        '# TYPE notes gauge\nnotes{about="prometheus_notifications_dropped_total"} 7\n'
        "# TYPE prometheus_notifications_dropped_total_extra counter\n"
        "prometheus_notifications_dropped_total_extra 5\n"
        + PROMETHEUS_METRICS
        + "".join(f'pad_{i}_total{{job="x"}} {i}\n' for i in range(50))
    )
    dropped = alerting.counter_totals(page, "prometheus_notifications_dropped_total")
    assert dropped == {"": 3.0}
    errors = alerting.counter_totals(page, "prometheus_notifications_errors_total", "alertmanager")
    assert sorted(errors.values()) == [0.0, 2.0]


def test_a_firing_alert_missing_from_alertmanager_is_named():
    firing = [
        {"state": "firing", "labels": {"alertname": "A", "r_node": "R-2"}},
        {"state": "pending", "labels": {"alertname": "B"}},
    ]
    held = [{"labels": {"alertname": "A", "r_node": "R-2", "stack": "s"}}]
    assert alerting.missing_in_alertmanager(firing, held, {"stack": "s"}) == []
    assert alerting.missing_in_alertmanager(firing, held, {}) == ["A"]
    assert alerting.missing_in_alertmanager(firing, [], {"stack": "s"}) == ["A"]


@needs_prometheus_tools
def test_preflight_names_amtools_reason_for_a_broken_config(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("AMTOOL", str(AMTOOL_BIN))
    copy = tmp_path / "alertmanager"
    shutil.copytree(CONFIG.parent, copy)
    mounts = Mounts(
        {
            "alertmanager": {
                "command": ["--config.file=/etc/alertmanager/alertmanager.yml"],
                "volumes": [{"type": "bind", "source": str(copy), "target": "/etc/alertmanager"}],
            }
        }
    )
    assert alertmanager_findings(mounts) == []
    config = yaml.safe_load((copy / "alertmanager.yml").read_text())
    config["route"]["routes"][0]["receiver"] = "nobody"
    (copy / "alertmanager.yml").write_text(yaml.safe_dump(config))
    [finding] = alertmanager_findings(mounts)
    assert finding.check == "alerting"
    assert finding.cause == "alertmanager_config_rejected"
    assert 'undefined receiver "nobody"' in finding.text


def test_the_receiver_records_each_notification_and_serves_them_read_only(tmp_path: Path):
    record = tmp_path / "notifications.jsonl"
    server = serve("127.0.0.1:0", record)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with httpx.Client(timeout=2.0) as client:
            assert client.get(f"{url}/-/ready").status_code == 200
            message = {"version": "4", "status": "firing", "receiver": "runbook-r2", "alerts": []}
            assert client.post(f"{url}/alerts", json=message).status_code == 200
            assert client.post(f"{url}/alerts", content=b"{not json").status_code == 400
            assert client.post(f"{url}/notifications", json=message).status_code == 404
            lines = client.get(f"{url}/notifications").text.splitlines()
    finally:
        server.shutdown()
        server.server_close()
    assert len(lines) == 1
    assert json.loads(lines[0])["payload"] == message
