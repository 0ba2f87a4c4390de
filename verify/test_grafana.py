"""F-FAIL-GRAFANA → G-4: Grafana's /api/health (no auth) answers 200 with database ok. The
version lands in the evidence, so a stand-in run says so on every report."""

from shadow_mvs.core.run import CheckContext, CheckFailed
from shadow_mvs.plugin.clients import GrafanaClient
from shadow_mvs.plugin.stack import Stack

CHECK = "grafana"


def test_grafana_healthy(
    shadow_mvs_check: CheckContext, shadow_mvs_stack: Stack, shadow_mvs_grafana: GrafanaClient
) -> None:
    def probe() -> dict[str, str]:
        response = shadow_mvs_grafana.health()
        body = response.json()
        if response.status_code != 200 or body.get("database") != "ok":
            raise CheckFailed(
                f"{shadow_mvs_grafana.base_url}/api/health answered HTTP "
                f"{response.status_code} database={body.get('database')}"
            )
        return body

    health = shadow_mvs_check.poll(probe)
    version = health.get("version", "unknown")
    shadow_mvs_check.version("grafana", version)
    shadow_mvs_check.passed(f"database=ok version={version}")
    shadow_mvs_check.evidence(
        "grafana", f"{shadow_mvs_grafana.base_url} version={version} database=ok"
    )
