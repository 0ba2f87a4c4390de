"""F-FAIL-ALERTING → G-10: a firing rule would reach a receiver. Read-only, every mode:

1. Alertmanager answers ``/-/ready``;
2. its loaded config (``/api/v2/status``) routes every ``r_node`` the loaded rules name;
3. Prometheus lists it among its active Alertmanagers and its notifier has not dropped or
   failed to send alerts (its own ``/metrics``);
4. Alertmanager has not failed to notify (``alertmanager_notifications_failed_total``), and
   on the local stack (the contract's Alertmanager URL) its recording receiver answers;
5. every alert firing in Prometheus is held by Alertmanager.

Nothing is posted anywhere: the drills (``shadow-mvs drill``) are what fire an alert."""

from typing import Any

import httpx
import yaml

from shadow_mvs.config.settings import Settings
from shadow_mvs.core.contract import Contract
from shadow_mvs.core.run import CheckContext, CheckFailed
from shadow_mvs.evidence import alerting
from shadow_mvs.plugin.stack import Stack

CHECK = "alerting"


def test_alerts_reach_a_receiver(
    shadow_mvs_check: CheckContext,
    shadow_mvs_stack: Stack,
    shadow_mvs_http: httpx.Client,
    shadow_mvs_settings: Settings,
    shadow_mvs_contract: Contract,
) -> None:
    am = shadow_mvs_settings.alertmanager_url
    prom = shadow_mvs_settings.prometheus_url
    label = shadow_mvs_contract.alerting["route_label"]
    expected = shadow_mvs_settings.alertmanager_target

    def get(url: str) -> Any:
        response = shadow_mvs_http.get(url)
        response.raise_for_status()
        return response

    def probe() -> dict[str, Any]:
        ready = shadow_mvs_http.get(f"{am}/-/ready")
        if ready.status_code != 200:
            facts = {"url": am, "status": ready.status_code}
            raise CheckFailed("", cause="alertmanager_not_ready", facts=facts)
        version = get(f"{am}/api/v2/status").json()
        rules = [
            rule
            for group in get(f"{prom}/api/v1/rules").json()["data"]["groups"]
            for rule in group["rules"]
            if rule["type"] == "alerting"
        ]
        for gap in alerting.unrouted(version["config"]["original"], rules, label):
            facts = {
                "label": label,
                "value": gap.value,
                "alerts": ", ".join(gap.alerts),
                "receiver": gap.receiver,
            }
            raise CheckFailed("", cause="alertmanager_route_missing", facts=facts, retryable=False)
        targets = alerting.active_targets(get(f"{prom}/api/v1/alertmanagers").json()["data"])
        if not targets:
            raise CheckFailed("", cause="prometheus_no_alertmanager")
        if expected not in targets:
            facts = {"active": ", ".join(targets), "expected": expected}
            raise CheckFailed(
                "", cause="prometheus_wrong_alertmanager", facts=facts, retryable=False
            )
        problems = alerting.prometheus_send_problems(get(f"{prom}/metrics").text)
        problems += alerting.notify_failures(get(f"{am}/metrics").text)
        if problems:
            first = problems[0]
            raise CheckFailed("", cause=first.cause, facts=first.facts, retryable=False)
        if am == shadow_mvs_contract.endpoints["alertmanager_url"]:
            receiver_problem()  # the local stack: its receiver is the contract's
        firing = get(f"{prom}/api/v1/alerts").json()["data"]["alerts"]
        held = get(f"{am}/api/v2/alerts").json()
        missing = alerting.missing_in_alertmanager(firing, held, external_labels())
        if missing:
            facts = {"alerts": ", ".join(missing)}
            raise CheckFailed("", cause="alert_not_in_alertmanager", facts=facts)
        return {
            "version": version.get("versionInfo", {}).get("version", "?"),
            "routes": alerting.rule_values(rules, label),
            "targets": targets,
            "firing": sorted({a["labels"]["alertname"] for a in firing if a["state"] == "firing"}),
        }

    def receiver_problem() -> None:
        """The local receiver stands for the operator's: it must take notifications."""
        url = shadow_mvs_contract.alerting["receiver_url"]
        answer = httpx.get(f"{url}/-/ready", timeout=shadow_mvs_contract.request_timeout_s)
        if answer.status_code != 200:
            facts = {"url": url, "status": answer.status_code}
            raise CheckFailed(
                f"GET {url}/-/ready", cause="alert_receiver_error", facts=facts, retryable=False
            )

    def external_labels() -> dict[str, str]:
        config = get(f"{prom}/api/v1/status/config").json()["data"]["yaml"]
        return dict((yaml.safe_load(config).get("global") or {}).get("external_labels") or {})

    seen = shadow_mvs_check.poll(probe)
    shadow_mvs_check.version("alertmanager", seen["version"])
    routes = ",".join(seen["routes"]) or "none"
    firing = ",".join(seen["firing"]) or "none"
    shadow_mvs_check.passed(
        f"Alertmanager {seen['version']} ready, routes {label} {routes}, "
        f"Prometheus sends to {', '.join(seen['targets'])}, firing {firing}"
    )
    shadow_mvs_check.evidence(
        "alertmanager",
        f"{am} ready version={seen['version']} routes={routes} "
        f"prometheus_sends_to={','.join(seen['targets'])} firing={firing}",
    )
