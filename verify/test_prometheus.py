"""F-FAIL-PROMETHEUS → G-2: Prometheus-local answers /-/ready with 200."""

import httpx

from shadow_mvs.config.settings import Settings
from shadow_mvs.core.run import CheckContext, CheckFailed
from shadow_mvs.plugin.stack import Stack

CHECK = "prometheus"


def test_prometheus_ready(
    shadow_mvs_check: CheckContext,
    shadow_mvs_stack: Stack,
    shadow_mvs_http: httpx.Client,
    shadow_mvs_settings: Settings,
) -> None:
    url = shadow_mvs_settings.prometheus_url

    def probe() -> str:
        ready = shadow_mvs_http.get(f"{url}/-/ready")
        if ready.status_code != 200:
            raise CheckFailed(f"{url}/-/ready answered HTTP {ready.status_code}")
        build = shadow_mvs_http.get(f"{url}/api/v1/status/buildinfo")
        build.raise_for_status()
        return str(build.json()["data"]["version"])

    version = shadow_mvs_check.poll(probe)
    shadow_mvs_check.version("prometheus", version)
    shadow_mvs_check.passed(f"ready, version {version}")
    shadow_mvs_check.evidence("prometheus", f"{url} ready version={version}")
