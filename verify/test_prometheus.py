"""F-FAIL-PROMETHEUS → G-2: Prometheus-local answers /-/ready with 200."""

import httpx

from fixtures.stack import Stack
from verify.run import CheckContext, CheckFailed
from verify.settings import Settings

CHECK = "prometheus"


def test_prometheus_ready(
    check: CheckContext, stack: Stack, http_client: httpx.Client, settings: Settings
) -> None:
    url = settings.prometheus_url

    def probe() -> str:
        ready = http_client.get(f"{url}/-/ready")
        if ready.status_code != 200:
            raise CheckFailed(f"{url}/-/ready answered HTTP {ready.status_code}")
        build = http_client.get(f"{url}/api/v1/status/buildinfo")
        build.raise_for_status()
        return str(build.json()["data"]["version"])

    version = check.poll(probe)
    check.version("prometheus", version)
    check.passed(f"ready, version {version}")
    check.evidence("prometheus", f"{url} ready version={version}")
