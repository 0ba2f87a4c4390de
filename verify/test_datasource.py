"""F-FAIL-DATASOURCE → G-5 (G-8 for the mini-stack URL, G-5 "auth" for a 401): the default
datasource is prometheus-local with the contract uid and URL, and Grafana's own health
check of it reaches Prometheus."""

from typing import Any

from fixtures.clients import GrafanaClient
from fixtures.stack import Stack
from verify.contract import Contract
from verify.run import CheckContext, CheckFailed
from verify.settings import Settings

CHECK = "datasource"
PERMANENT_HEALTH_ERRORS = ("x509:", "401 Unauthorized", "403 Forbidden")


def test_default_datasource_is_prometheus_local(
    check: CheckContext,
    stack: Stack,
    grafana: GrafanaClient,
    contract: Contract,
    settings: Settings,
) -> None:
    # The URL comes from the environment (a prod stack's datasource URL is its own).
    want = {**contract.datasource, "url": settings.datasource_url}

    def probe() -> dict[str, Any]:
        default = grafana.default_datasource()
        if default is None:
            names = [ds["name"] for ds in grafana.datasources()]
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
        health = grafana.datasource_health(want["uid"])
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

    default = check.poll(probe)
    check.passed(f"{default['name']} uid={default['uid']} default url={default['url']} health=OK")
    check.evidence(
        "datasource",
        f"name={default['name']} uid={default['uid']} url={default['url']} default=true",
    )
