"""Datasource health and /api/ds/query forwarded to a REAL Prometheus."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from fixtures.local_prometheus import LocalPrometheus
from fixtures.prometheus_tools import needs_prometheus_tools

from .conftest import NotYet, Standin, poll, provisioning_with_datasources, running_standin

pytestmark = needs_prometheus_tools

OK_HEALTH = {
    "status": "OK",
    "message": "Successfully queried the Prometheus API.",
    "details": {"application": "Prometheus", "features": {"rulerApiEnabled": False}},
}
ERROR_SUFFIX = " - There was an error returned querying the Prometheus API."
DEAD_PORT = 1  # nothing listens on tcpmux


@pytest.fixture(scope="module")
def standin(
    prometheus: LocalPrometheus, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Standin]:
    prov = provisioning_with_datasources(
        tmp_path_factory.mktemp("promds"),
        [
            {"name": "prom-post", "uid": "prom-post", "type": "prometheus", "isDefault": True,
             "url": prometheus.url, "jsonData": {"httpMethod": "POST", "timeInterval": "1s"}},
            {"name": "prom-get", "uid": "prom-get", "type": "prometheus",
             "url": f"{prometheus.url}/", "jsonData": {"httpMethod": "GET"}},
            {"name": "prom-dead", "uid": "prom-dead", "type": "prometheus",
             "url": f"http://127.0.0.1:{DEAD_PORT}"},
            {"name": "prom-wrong-path", "uid": "prom-wrong-path", "type": "prometheus",
             "url": f"{prometheus.url}/no/such/prefix"},
        ],
    )  # fmt: skip
    with running_standin(prov) as standin:
        yield standin


@pytest.mark.parametrize("uid", ["prom-post", "prom-get"])
def test_health_ok_against_real_prometheus(standin: Standin, uid: str) -> None:
    response = standin.get(f"/api/datasources/uid/{uid}/health")
    assert (response.status_code, response.json()) == (200, OK_HEALTH)


def test_health_against_a_dead_url(standin: Standin) -> None:
    response = standin.get("/api/datasources/uid/prom-dead/health")
    assert response.status_code == 400
    assert response.json() == {
        "status": "ERROR",
        "message": f'Post "http://127.0.0.1:{DEAD_PORT}/api/v1/query": dial tcp '
        f"127.0.0.1:{DEAD_PORT}: connect: connection refused{ERROR_SUFFIX}",
    }


def test_health_against_a_wrong_path(standin: Standin) -> None:
    response = standin.get("/api/datasources/uid/prom-wrong-path/health")
    assert response.status_code == 400
    assert response.json()["message"] == f"404 Not Found{ERROR_SUFFIX}"


def query(standin: Standin, *queries: dict[str, Any], uid: str = "prom-post") -> Any:
    body = {
        "from": "now-5m",
        "to": "now",
        "queries": [{"datasource": {"type": "prometheus", "uid": uid}} | q for q in queries],
    }
    return standin.post("/api/ds/query", json=body)


def test_instant_scalar(standin: Standin) -> None:
    response = query(standin, {"refId": "A", "expr": "1+1", "instant": True, "range": False})
    assert response.status_code == 200
    result = response.json()["results"]["A"]
    assert result["status"] == 200
    [frame] = result["frames"]
    assert frame["schema"]["meta"]["type"] == "numeric-multi"
    assert frame["schema"]["meta"]["custom"] == {"resultType": "scalar"}
    assert [f["name"] for f in frame["schema"]["fields"]] == ["Time", "Value"]
    assert frame["data"]["values"][1] == [2]


@pytest.mark.parametrize("uid", ["prom-post", "prom-get"])
def test_range_query_with_legend_format(standin: Standin, uid: str) -> None:
    expr = 'label_replace(vector(1), "job", "demo", "", "")'
    response = query(
        standin,
        {"refId": "B", "expr": expr, "range": True, "legendFormat": "job={{ job }}",
         "intervalMs": 15000, "maxDataPoints": 100},
        uid=uid,
    )  # fmt: skip
    assert response.status_code == 200, response.text
    [frame] = response.json()["results"]["B"]["frames"]
    schema = frame["schema"]
    assert schema["refId"] == "B"
    assert schema["meta"]["type"] == "timeseries-multi"
    assert schema["meta"]["custom"] == {"resultType": "matrix"}
    assert schema["meta"]["executedQueryString"] == f"Expr: {expr}\nStep: 15s"
    time_field, value_field = schema["fields"]
    assert time_field == {
        "name": "Time", "type": "time", "typeInfo": {"frame": "time.Time"},
        "config": {"interval": 15000},
    }  # fmt: skip
    assert value_field["name"] == "Value"
    assert value_field["labels"] == {"job": "demo"}
    assert value_field["config"] == {"displayNameFromDS": "job=demo"}
    times, values = frame["data"]["values"]
    assert len(times) == len(values) >= 20
    assert set(values) == {1}
    assert all(later - earlier == 15000 for earlier, later in itertools.pairwise(times))


def test_display_name_without_legend_format(standin: Standin) -> None:
    expr = 'label_replace(label_replace(vector(3), "b", "2", "", ""), "a", "1", "", "")'
    response = query(standin, {"refId": "A", "expr": expr, "instant": True})
    frames = response.json()["results"]["A"]["frames"]
    assert frames[0]["schema"]["fields"][1]["config"] == {"displayNameFromDS": '{a="1", b="2"}'}


def test_non_finite_values_become_null_with_entities(standin: Standin) -> None:
    response = query(standin, {"refId": "A", "expr": "vector(0) / 0", "instant": True})
    [frame] = response.json()["results"]["A"]["frames"]
    assert frame["data"]["values"][1] == [None]
    assert frame["data"]["entities"] == [None, {"NaN": [0]}]


def test_scraped_series_named_after_the_metric(
    standin: Standin, prometheus: LocalPrometheus
) -> None:
    def scraped() -> dict[str, Any]:
        response = query(standin, {"refId": "A", "expr": 'up{job="prometheus"}', "instant": True})
        frames = response.json()["results"]["A"]["frames"]
        if not frames[0]["schema"]["fields"]:
            raise NotYet("Prometheus has not scraped itself yet")
        return frames[0]

    frame = poll(scraped, 30.0, "first self-scrape")
    value_field = frame["schema"]["fields"][1]
    instance = f"127.0.0.1:{prometheus.port}"
    assert value_field["name"] == "up"
    assert value_field["labels"] == {"__name__": "up", "instance": instance, "job": "prometheus"}
    assert value_field["config"] == {
        "displayNameFromDS": f'up{{instance="{instance}", job="prometheus"}}'
    }
    assert frame["data"]["values"][1] == [1]


def test_empty_result(standin: Standin) -> None:
    response = query(
        standin, {"refId": "A", "expr": "absent_metric_for_standin_test", "range": True}
    )
    assert response.status_code == 200
    [frame] = response.json()["results"]["A"]["frames"]
    assert (frame["schema"]["fields"], frame["data"]["values"]) == ([], [])


def test_bad_promql_is_a_downstream_error_and_http_400(standin: Standin) -> None:
    response = query(
        standin,
        {"refId": "A", "expr": "sum(", "range": True},
        {"refId": "B", "expr": "vector(1)", "instant": True},
    )
    assert response.status_code == 400
    results = response.json()["results"]
    assert set(results["A"]) == {"error", "errorSource", "status"}
    assert "parse error" in results["A"]["error"]
    assert (results["A"]["errorSource"], results["A"]["status"]) == ("downstream", 400)
    assert results["B"]["status"] == 200


def test_epoch_millisecond_time_range(standin: Standin) -> None:
    body = {
        "from": "1700000000000",
        "to": "1700000060000",
        "queries": [{"refId": "A", "expr": "vector(5)", "datasource": {"uid": "prom-post"},
                     "intervalMs": 10000, "maxDataPoints": 100}],
    }  # fmt: skip
    response = standin.post("/api/ds/query", json=body)
    [frame] = response.json()["results"]["A"]["frames"]
    times, values = frame["data"]["values"]
    assert times == list(range(1700000000000, 1700000060001, 10000))
    assert set(values) == {5}


def test_interval_macros_are_expanded(standin: Standin) -> None:
    # prom-post has timeInterval 1s: $__interval = 15s, $__rate_interval = max(15s + 1s, 4 * 1s).
    expr = 'label_replace(vector(1), "w", "$__interval/${__rate_interval}/$__range_s", "", "")'
    response = query(standin, {"refId": "A", "expr": expr, "instant": True, "intervalMs": 15000})
    [frame] = response.json()["results"]["A"]["frames"]
    assert frame["schema"]["fields"][1]["labels"] == {"w": "15s/16s/300"}
