"""The panels check's rendering (``render_panels``) through the Grafana stand-in against a
REAL Prometheus: the dashboard's own variables resolved through the datasource resource
API, panel queries through /api/ds/query. Each variable fault turns the check red with
the words of its cause, as a final (not retried) failure; an empty panel without a
variable to blame stays a warm-up failure."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fixtures.local_prometheus import LocalPrometheus
from fixtures.prometheus_tools import needs_prometheus_tools
from shadow_mvs.config.access import EndpointAccess
from shadow_mvs.core.run import CheckFailed
from shadow_mvs.evidence.panels import (
    AFTER_BOUNDARY_S,
    DashboardRender,
    RenderedTarget,
    next_point_in_s,
    render_panels,
)
from shadow_mvs.plugin.clients import GrafanaClient

from .conftest import NotYet, Provisioning, poll, running_standin

pytestmark = needs_prometheus_tools

DS = {"type": "prometheus", "uid": "prom"}


def query_var(name: str, query: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": "query", "datasource": DS, "query": {"query": query}} | extra


def panel(title: str, expr: str, **target: Any) -> dict[str, Any]:
    return {"id": hash(title) % 1000, "type": "timeseries", "title": title, "datasource": DS,
            "targets": [{"refId": "A", "datasource": DS, "expr": expr} | target]}  # fmt: skip


def dashboard(uid: str, variables: list[dict[str, Any]], *panels: dict[str, Any]) -> dict[str, Any]:
    return {"uid": uid, "title": uid, "time": {"from": "now-5m", "to": "now"},
            "templating": {"list": variables}, "panels": list(panels)}  # fmt: skip


JOB = query_var("job", "label_values(up, job)", current={"value": "prometheus"})
INSTANCE = query_var(
    "instance",
    'label_values(up{job="$job"}, instance)',
    includeAll=True,
    allValue=".*",
    current={"value": "$__all", "text": "All"},
)
DASHBOARDS = [
    dashboard(
        "green",
        [JOB, INSTANCE],
        panel("Up", 'up{job="$job", instance=~"$instance"}', range=True),
        panel("Count", 'count(up{job="$job"})', instant=True, range=False),
        panel("Rate", 'sum(rate(prometheus_http_requests_total{job="$job"}[$__rate_interval]))'),
    ),
    dashboard(
        "no-options",
        [query_var("job", "label_values(up, no_such_label)")],
        panel("Up", 'up{job="$job"}'),
    ),
    dashboard(
        "regex",
        [query_var("job", "label_values(up, job)", regex="/^shadow$/")],
        panel("Up", 'up{job="$job"}'),
    ),
    dashboard("undefined", [JOB], panel("Up", 'up{job="$job", exchange=~"$venue"}')),
    dashboard(
        "by-variable",
        [query_var("instance", "label_values(up, instance)", regex="/(.*):.*/")],
        panel("Up by host", 'up{job="prometheus", instance="$instance"}'),
    ),
    dashboard("empty", [JOB], panel("Nothing", 'no_such_metric_at_all{job="$job"}')),
    dashboard(
        "rejected", [query_var("job", "label_values(up{, job)")], panel("Up", 'up{job="$job"}')
    ),
    dashboard(
        "variable-elsewhere",
        [query_var("job", "label_values(up, job)", datasource={"uid": "other"})],
        panel("Up", 'up{job="$job"}'),
    ),
]


@pytest.fixture(scope="module")
def grafana(
    prometheus: LocalPrometheus, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GrafanaClient]:
    prov = Provisioning(tmp_path_factory.mktemp("render"))
    datasource = {"name": "prom", "uid": "prom", "type": "prometheus", "isDefault": True,
                  "url": prometheus.url, "jsonData": {"timeInterval": "1s"}}  # fmt: skip
    prov.datasource_file("ds.yaml", {"apiVersion": 1, "datasources": [datasource]})
    prov.default_provider()
    for model in DASHBOARDS:
        prov.dashboard(f"{model['uid']}.json", model)
    with running_standin(prov) as standin:
        wait_for_two_scrapes(prometheus)
        client = GrafanaClient(EndpointAccess("grafana", standin.url, basic=standin.auth), 10.0)
        yield client
        client.close()


def wait_for_two_scrapes(prometheus: LocalPrometheus) -> None:
    def scraped() -> None:
        query = {"query": "count_over_time(up[1m])"}
        result = httpx.get(f"{prometheus.url}/api/v1/query", params=query).json()["data"]
        if not result["result"] or float(result["result"][0]["value"][1]) < 3:
            raise NotYet("fewer than three self-scrapes")

    poll(scraped, 20.0, "three self-scrapes")


def render(
    grafana: GrafanaClient, uid: str, expected: dict[str, str] | None = None
) -> tuple[DashboardRender, list[RenderedTarget]]:
    return render_panels(grafana, uid, "prom", expected or {}, {}, int(time.time() * 1000))


def failure(grafana: GrafanaClient, uid: str, expected: dict[str, str] | None = None) -> str:
    with pytest.raises(CheckFailed) as caught:
        render(grafana, uid, expected)
    assert not caught.value.retryable, "a variable fault cannot heal: the check must not wait"
    return caught.value.message


def test_a_healthy_dashboard_renders_with_its_own_variables(grafana: GrafanaClient) -> None:
    rendered, targets = render(grafana, "green", {"job": "prometheus"})
    assert rendered.variables["job"].shown() == "prometheus"
    assert rendered.variables["instance"].shown() == "All"
    up = next(t for t in targets if t.panel == "Up")
    assert up.expr == 'up{job="prometheus", instance=~".*"}'  # allValue as written
    rate = next(t for t in targets if t.panel == "Rate")
    assert "[4s]" in rate.shown  # max(1s + 1s, 4 * 1s): intervalMs 1s, timeInterval 1s
    assert rate.request["intervalMs"] == 1000


def test_the_variable_answers_are_cached_for_the_run(grafana: GrafanaClient) -> None:
    cache: dict[str, Any] = {}
    # One run has one "now": the variables' time range, and so their request, is the same.
    run_now_ms = int(time.time() * 1000)
    render_panels(grafana, "green", "prom", {}, cache, run_now_ms)
    cached = {key for key in cache if "/resources/" in key}
    assert len(cached) == 2  # one call per variable
    render_panels(grafana, "green", "prom", {}, cache, run_now_ms)
    assert {key for key in cache if "/resources/" in key} == cached


def test_a_variable_without_options_is_named(grafana: GrafanaClient) -> None:
    message = failure(grafana, "no-options")
    assert "dashboard variable $job resolves to no option" in message
    assert "label_values(up, no_such_label): the datasource has no values for it" in message
    assert "panel 'Up' then queries up{job=\"\"}" in message


def test_a_regex_that_excludes_every_value_is_named(grafana: GrafanaClient) -> None:
    message = failure(grafana, "regex")
    assert "dashboard variable $job resolves to no option" in message
    assert "regex /^shadow$/ keeps none of [prometheus]" in message


def test_an_undefined_variable_is_named(grafana: GrafanaClient) -> None:
    message = failure(grafana, "undefined")
    assert "panel 'Up' names undefined variable $venue" in message
    assert 'up{job="prometheus", exchange=~"$venue"}' in message


def test_a_missing_expected_value_is_named(grafana: GrafanaClient) -> None:
    message = failure(grafana, "green", {"job": "shadow"})
    assert "dashboard variable $job does not offer 'shadow'" in message
    assert "options ['prometheus'] from label_values(up, job)" in message
    assert "panel 'Up'" in message


def test_a_panel_empty_only_because_of_the_variables_values(grafana: GrafanaClient) -> None:
    message = failure(grafana, "by-variable")
    assert "panel 'Up by host' is empty only because of $instance=127.0.0.1" in message
    assert 'up{job="prometheus", instance="127.0.0.1"} has no data' in message


def test_an_empty_panel_without_a_variable_to_blame_keeps_waiting(grafana: GrafanaClient) -> None:
    with pytest.raises(CheckFailed) as caught:
        render(grafana, "empty")
    assert caught.value.retryable
    assert caught.value.cause == "panel_empty"
    assert 'no_such_metric_at_all{job="prometheus"}' in caught.value.message
    # The next look is aimed at the panel's next step-aligned point (intervalMs 1 s here).
    assert caught.value.retry_in_s is not None
    assert AFTER_BOUNDARY_S < caught.value.retry_in_s <= 1 + AFTER_BOUNDARY_S


def target_with(**request: Any) -> RenderedTarget:
    return RenderedTarget(
        panel="Rate", ref_id="A", raw_expr="up", expr="up", shown="up",
        datasource_uids=("prom",), uses=(), undefined=(), request=request,
    )  # fmt: skip


def test_an_empty_range_panel_is_looked_at_again_at_its_next_aligned_point() -> None:
    # Grafana aligns the range's end down to the step: at 12.3 s into a 5 s grid, the next
    # point that can hold a new sample is at 15 s.
    assert next_point_in_s(target_with(intervalMs=5000, range=True), 12_300) == pytest.approx(
        2.7 + AFTER_BOUNDARY_S
    )
    assert next_point_in_s(target_with(intervalMs=5000), 15_000) == pytest.approx(
        5 + AFTER_BOUNDARY_S
    )
    # An instant query is evaluated at "now": any later look may see more.
    assert next_point_in_s(target_with(intervalMs=5000, instant=True), 12_300) is None
    assert next_point_in_s(target_with(), 12_300) is None


def test_a_variable_query_prometheus_refuses_is_named_with_its_error(
    grafana: GrafanaClient,
) -> None:
    message = failure(grafana, "rejected")
    assert (
        "dashboard variable $job resolves to no option (label_values(up{, job): HTTP 400" in message
    )
    assert "parse error" in message


def test_a_variable_bound_to_another_datasource_is_named_before_any_request(
    grafana: GrafanaClient,
) -> None:
    message = failure(grafana, "variable-elsewhere")
    assert "dashboard variable $job uses datasource 'other'" in message
