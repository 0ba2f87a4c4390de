"""F-FAIL-RULES → G-2: the runbook's Phase 7 alert rules are loaded in the live Prometheus,
their group has been evaluated, and every rule in it is healthy."""

from typing import Any

import httpx

from shadow_mvs.config.settings import Settings
from shadow_mvs.core.contract import Contract
from shadow_mvs.core.run import CheckContext, CheckFailed
from shadow_mvs.evidence.status_api import rules_not_loaded
from shadow_mvs.plugin.stack import Stack

CHECK = "rules"
NEVER = "0001-01-01T00:00:00Z"  # Prometheus's lastEvaluation before the first run


def test_alert_rules_loaded_and_healthy(
    shadow_mvs_check: CheckContext,
    shadow_mvs_stack: Stack,
    shadow_mvs_http: httpx.Client,
    shadow_mvs_settings: Settings,
    shadow_mvs_contract: Contract,
) -> None:
    group_name = shadow_mvs_contract.prometheus["rule_group"]
    wanted = set(shadow_mvs_contract.prometheus["alerts"])

    def probe() -> dict[str, Any]:
        response = shadow_mvs_http.get(f"{shadow_mvs_settings.prometheus_url}/api/v1/rules")
        response.raise_for_status()
        groups = response.json()["data"]["groups"]
        group = next((g for g in groups if g["name"] == group_name), None)
        if group is None:
            names = [g["name"] for g in groups]
            raise rules_not_loaded(
                shadow_mvs_http, shadow_mvs_settings.prometheus_url, group_name, names
            )
        alerts = {r["name"] for r in group["rules"] if r["type"] == "alerting"}
        if missing := sorted(wanted - alerts):
            raise CheckFailed(
                f"alert rules missing from group {group_name!r}: {missing}",
                cause="rules_not_loaded",
            )
        if group.get("lastEvaluation", NEVER).startswith("0001-"):
            raise CheckFailed(f"rule group {group_name!r} not evaluated yet")
        unhealthy = [
            f"{r['name']}: {r['health']} {r.get('lastError', '')}".strip()
            for r in group["rules"]
            if r["health"] != "ok"
        ]
        if unhealthy:
            raise CheckFailed(f"unhealthy rules: {unhealthy}")
        return group

    group = shadow_mvs_check.poll(probe)
    firing = sorted({r["name"] for r in group["rules"] if r.get("state") == "firing"})
    shadow_mvs_check.passed(
        f"group {group_name}: {len(group['rules'])} rules healthy, firing {firing or 'none'}"
    )
    # remote-write topology: the backend's Prometheus-compatible rules API is its ruler.
    api = "ruler" if shadow_mvs_settings.topology == "remote-write" else "rules-api"
    shadow_mvs_check.evidence(
        "rules",
        f"path={api} group={group_name} rules={len(group['rules'])} health=ok "
        f"firing={','.join(firing) or 'none'}",
    )
