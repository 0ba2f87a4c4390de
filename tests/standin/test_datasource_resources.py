"""``/api/datasources/uid/<uid>/resources/…``: the datasource resource API the panels check
resolves dashboard variables through, forwarded to a REAL Prometheus. Grafana passes the
Prometheus answer through (pkg/api/plugin_resource.go ``flushStream``), so each body and
status here must equal what Prometheus itself says."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from fixtures.local_prometheus import LocalPrometheus
from fixtures.prometheus_tools import needs_prometheus_tools

from .conftest import NotYet, Standin, poll, provisioning_with_datasources, running_standin

pytestmark = needs_prometheus_tools

DEAD_PORT = 1


@pytest.fixture(scope="module")
def standin(
    prometheus: LocalPrometheus, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Standin]:
    prov = provisioning_with_datasources(
        tmp_path_factory.mktemp("resources"),
        [
            {"name": "prom-post", "uid": "prom-post", "type": "prometheus", "isDefault": True,
             "url": prometheus.url, "jsonData": {"httpMethod": "POST"}},
            {"name": "prom-get", "uid": "prom-get", "type": "prometheus",
             "url": prometheus.url, "jsonData": {"httpMethod": "GET"}},
            {"name": "prom-dead", "uid": "prom-dead", "type": "prometheus",
             "url": f"http://127.0.0.1:{DEAD_PORT}"},
            {"name": "loki", "uid": "loki", "type": "loki", "url": "http://127.0.0.1:3100"},
        ],
    )  # fmt: skip
    with running_standin(prov) as standin:

        def scraped() -> None:
            answer = httpx.get(f"{prometheus.url}/api/v1/query", params={"query": "up"}).json()
            if not answer["data"]["result"]:
                raise NotYet("Prometheus has not scraped itself yet")

        poll(scraped, 15.0, "first self-scrape")
        yield standin


def window() -> dict[str, str]:
    now = int(time.time())
    return {"start": str(now - 300), "end": str(now + 1)}


@pytest.mark.parametrize("uid", ["prom-post", "prom-get"])
def test_label_values_with_match_pass_through(
    standin: Standin, prometheus: LocalPrometheus, uid: str
) -> None:
    """label_values(up, job): the call Grafana's PrometheusMetricFindQuery makes."""
    params = {"match[]": "up", **window()}
    path = f"/api/datasources/uid/{uid}/resources/api/v1/label/job/values"
    through = standin.get(path, params=params)
    direct = httpx.get(f"{prometheus.url}/api/v1/label/job/values", params=params)
    assert through.status_code == direct.status_code == 200
    assert through.json() == direct.json() == {"status": "success", "data": ["prometheus"]}
    assert through.headers["content-type"] == direct.headers["content-type"]


def test_label_values_of_a_label_nobody_has_are_empty(standin: Standin) -> None:
    path = "/api/datasources/uid/prom-post/resources/api/v1/label/no_such_label/values"
    response = standin.get(path, params={"match[]": "up", **window()})
    assert (response.status_code, response.json()) == (200, {"status": "success", "data": []})


def test_series_and_query_by_post_form(standin: Standin, prometheus: LocalPrometheus) -> None:
    """The POST form body goes to Prometheus as it came (metadataRequest with httpMethod POST)."""
    base = "/api/datasources/uid/prom-post/resources/api/v1"
    series = standin.post(f"{base}/series", data={"match[]": 'up{job="prometheus"}', **window()})
    assert series.status_code == 200
    assert [s["job"] for s in series.json()["data"]] == ["prometheus"]
    query = standin.post(f"{base}/query", data={"query": "count(up)"})
    assert query.status_code == 200
    assert query.json()["data"]["resultType"] == "vector"
    assert query.json()["data"]["result"][0]["value"][1] == "1"


def test_prometheus_errors_keep_their_status_and_body(
    standin: Standin, prometheus: LocalPrometheus
) -> None:
    params = {"match[]": "up{", **window()}
    path = "/api/datasources/uid/prom-post/resources/api/v1/label/job/values"
    through = standin.get(path, params=params)
    direct = httpx.get(f"{prometheus.url}/api/v1/label/job/values", params=params)
    assert through.status_code == direct.status_code == 400
    assert through.json() == direct.json()
    assert through.json()["errorType"] == "bad_data"


def test_unknown_uid_and_invalid_uid(standin: Standin) -> None:
    unknown = standin.get("/api/datasources/uid/nope/resources/api/v1/labels")
    assert (unknown.status_code, unknown.json()) == (
        500,
        {"message": "Unable to load datasource meta data", "traceID": ""},
    )
    invalid = standin.get("/api/datasources/uid/bad%20uid!/resources/api/v1/labels")
    assert (invalid.status_code, invalid.json()) == (400, {"message": "UID is invalid"})


def test_unreachable_prometheus_and_other_plugins(standin: Standin) -> None:
    dead = standin.get("/api/datasources/uid/prom-dead/resources/api/v1/labels")
    assert (dead.status_code, dead.json()) == (
        500,
        {"message": "Failed to call resource", "traceID": ""},
    )
    assert "Failed to call resource" in standin.log_text()
    other = standin.get("/api/datasources/uid/loki/resources/api/v1/labels")
    assert other.status_code == 404


def test_resources_need_credentials(standin: Standin) -> None:
    response = standin.get("/api/datasources/uid/prom-post/resources/api/v1/labels", auth=None)
    assert response.status_code == 401
