"""F-FAIL-DATASOURCE → G-5 (G-8 for the mini-stack URL, G-5 "auth" for a 401): the default
datasource is prometheus-local with the contract uid and URL, and Grafana's own health
check of it reaches Prometheus."""

from typing import Any

from shadow_mvs.config.settings import Settings
from shadow_mvs.core.contract import Contract
from shadow_mvs.core.run import CheckContext, CheckFailed
from shadow_mvs.plugin.clients import GrafanaClient
from shadow_mvs.plugin.stack import Stack

CHECK = "datasource"
PERMANENT_HEALTH_ERRORS = ("x509:", "401 Unauthorized", "403 Forbidden")


def test_default_datasource_is_prometheus_local(
    shadow_mvs_check: CheckContext,
    shadow_mvs_stack: Stack,
    shadow_mvs_grafana: GrafanaClient,
    shadow_mvs_contract: Contract,
    shadow_mvs_settings: Settings,
) -> None:
    # The URL comes from the environment (a prod stack's datasource URL is its own).
    want = {**shadow_mvs_contract.datasource, "url": shadow_mvs_settings.datasource_url}

    def probe() -> dict[str, Any]:
        default = shadow_mvs_grafana.default_datasource()
        if default is None:
            names = [ds["name"] for ds in shadow_mvs_grafana.datasources()]
            raise CheckFailed(
                f"no default datasource (have {names})",
                cause="datasource_not_default",
                retryable=False,
            )
        if default["url"].rstrip("/") == want["mini_stack_url"]:
            raise CheckFailed(
                f"default datasource {default['name']} points at the mini-stack "
                f"{default['url']}, expected {want['url']}",
                cause="mini_stack_url",
                retryable=False,
            )
        found = {key: default.get(key) for key in ("name", "uid", "url", "type")}
        expected = {key: want[key] for key in found}
        if found != expected:
            diff = {k: f"{found[k]!r} != {expected[k]!r}" for k in found if found[k] != expected[k]}
            raise CheckFailed(
                f"default datasource differs from the contract: {diff}",
                cause="datasource_off_contract",
                retryable=False,
            )
        health = shadow_mvs_grafana.datasource_health(want["uid"])
        if health.get("status") != "OK":
            message = str(health.get("message"))
            raise CheckFailed(
                f"datasource health: {message}",
                cause="datasource_unhealthy",
                facts={"uid": want["uid"], "url": default["url"]},
                # A certificate or a refused credential does not heal with warm-up.
                retryable=not any(word in message for word in PERMANENT_HEALTH_ERRORS),
            )
        return default

    default = shadow_mvs_check.poll(probe)
    shadow_mvs_check.passed(
        f"{default['name']} uid={default['uid']} default url={default['url']} health=OK"
    )
    shadow_mvs_check.evidence(
        "datasource",
        f"name={default['name']} uid={default['uid']} url={default['url']} default=true",
    )
