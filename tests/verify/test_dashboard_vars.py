"""Dashboard variables resolved and interpolated as Grafana's frontend does — table-driven,
with the expectations of Grafana's own tests where they exist (grafana-prometheus
datasource.test.ts ``Prometheus regular escaping``/``regexes escaping``/``When interpolating
variables``/``metricFindQuery``; promlib models/query_test.go for the backend macros).
Docker-free."""

from __future__ import annotations

import pytest

from shadow_mvs.evidence import dashboard_vars as dv
from shadow_mvs.evidence.grafana_rules.macros import (
    backend_interpolate,
    format_interval,
    go_duration,
    rate_interval_ms,
)


def var(name: str = "v", **fields: object) -> dv.Variable:
    return dv.Variable(name=name, type=str(fields.pop("type", "query")), query="", **fields)  # type: ignore[arg-type]


def resolved(variable: dv.Variable, values: list[str], value: object = None) -> dv.Resolved:
    options = tuple(dv.Option(v, v) for v in values)
    chosen = dv.select(variable, list(options)) if value is None else value
    return dv.Resolved(variable, options, chosen)  # type: ignore[arg-type]


# --- escaping: grafana-prometheus datasource.test.ts (classic behaviour) --------------


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("cryptodepression", "cryptodepression"),
        ("looking'glass", "looking\\\\'glass"),
        ("looking\\glass", "looking\\\\glass"),
        ("'looking'glass'", "\\\\'looking\\\\'glass\\\\'"),
        ("'loo\\king'glass'", "\\\\'loo\\\\king\\\\'glass\\\\'"),
    ],
)
def test_prometheus_regular_escape(raw: str, escaped: str) -> None:
    assert dv.prometheus_regular_escape(raw) == escaped


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("cryptodepression", "cryptodepression"),
        ("looking{glass", "looking\\\\{glass"),
        ("looking]glass", "looking\\\\]glass"),
        ("looking$glass", "looking\\\\$glass"),
        ("looking.glass", "looking\\\\.glass"),
        ("looking|glass", "looking\\\\|glass"),
        ("looking\\glass", "looking\\\\\\\\glass"),
        ("+looking$glass?", "\\\\+looking\\\\$glass\\\\?"),
    ],
)
def test_prometheus_special_regex_escape(raw: str, escaped: str) -> None:
    assert dv.prometheus_special_regex_escape(raw) == escaped


@pytest.mark.parametrize(
    ("value", "multi", "include_all", "expected"),
    [
        ("abc'$^*{}[]+?.()|", False, False, "abc\\\\'$^*{}[]+?.()|"),
        ("looking*glass", True, False, "looking\\\\*glass"),
        (["a|bc", "de|f"], True, False, "(a\\\\|bc|de\\\\|f)"),
        (["looking*glass"], True, False, "looking\\\\*glass"),
        ("looking*glass", False, True, "looking\\\\*glass"),
        (["a|bc", "de|f"], False, True, "(a\\\\|bc|de\\\\|f)"),
    ],
)
def test_interpolate_query_expr(
    value: str | list[str], multi: bool, include_all: bool, expected: str
) -> None:
    assert dv.prometheus_format(value, var(multi=multi, include_all=include_all)) == expected


# --- interpolation: scenes sceneInterpolator + formatRegistry ------------------------

SHADOW = var("mode", current_value="shadow")
VENUES = var("exchange", multi=True, include_all=True, current_value=["kraken", "bit.stamp"])
ALL_RAW = var("ex", include_all=True, all_value=".*", current_value="$__all")
ALL_LIST = var("ex2", include_all=True, current_value="$__all")
VARIABLES = {
    "mode": resolved(SHADOW, ["live", "shadow"]),
    "exchange": resolved(VENUES, ["kraken", "bit.stamp", "x"]),
    "ex": resolved(ALL_RAW, ["kraken", "bit.stamp"]),
    "ex2": resolved(ALL_LIST, ["kraken", "bit.stamp"]),
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('up{mode="$mode"}', 'up{mode="shadow"}'),
        ('up{mode="${mode}"}', 'up{mode="shadow"}'),
        ('up{mode="[[mode]]"}', 'up{mode="shadow"}'),
        ('up{exchange=~"$exchange"}', 'up{exchange=~"(kraken|bit\\\\.stamp)"}'),
        ('up{exchange=~"${exchange:regex}"}', 'up{exchange=~"(kraken|bit\\.stamp)"}'),
        ('up{exchange=~"${exchange:pipe}"}', 'up{exchange=~"kraken|bit.stamp"}'),
        ("${exchange:csv}", "kraken,bit.stamp"),
        ("${exchange:json}", '["kraken","bit.stamp"]'),
        ("${exchange:singlequote}", "'kraken','bit.stamp'"),
        ("${exchange:doublequote}", '"kraken","bit.stamp"'),
        ("${exchange:distributed}", "kraken,exchange=bit.stamp"),
        ("${exchange:queryparam}", "var-exchange=kraken&var-exchange=bit.stamp"),
        ("${exchange}", "(kraken|bit\\\\.stamp)"),
        ("${exchange:glob}", "{kraken,bit.stamp}"),
        ("${exchange:text}", "kraken + bit.stamp"),
        ("[[exchange:csv]]", "kraken,bit.stamp"),
        # All with allValue: the value as written, not escaped (CustomAllValue)
        ('up{exchange=~"$ex"}', 'up{exchange=~".*"}'),
        ("${ex:text}", "All"),
        # All without allValue: every option, escaped as an alternation
        ('up{exchange=~"$ex2"}', 'up{exchange=~"(kraken|bit\\\\.stamp)"}'),
        # built-ins are left for the backend; $1 is a regex back-reference
        ("rate(x[$__rate_interval])", "rate(x[$__rate_interval])"),
        ('label_replace(up, "a", "$1", "b", "(.*)")', 'label_replace(up, "a", "$1", "b", "(.*)")'),
    ],
)
def test_interpolate_table(text: str, expected: str) -> None:
    done = dv.interpolate(text, VARIABLES)
    assert done.text == expected
    assert done.undefined == []


def test_undefined_names_stay_as_written_and_are_reported() -> None:
    done = dv.interpolate('up{exchange=~"$venue", mode="$mode"}', VARIABLES)
    assert done.text == 'up{exchange=~"$venue", mode="shadow"}'
    assert done.undefined == ["venue"]
    assert done.used == ["mode"]


def test_scoped_built_ins_for_variable_queries() -> None:
    """datasource.test.ts metricFindQuery: a 21031 ms range gives $__range 21s, and the
    default interval 15s (PrometheusVariableSupport scopes the datasource's interval)."""
    scoped = dv.range_scoped(21031, "15s")
    assert scoped == {
        "__interval": "15s",
        "__interval_ms": "15000",
        "__range_ms": "21031",
        "__range_s": "21",
        "__range": "21s",
    }
    text = "query_result(topk(5,rate(x[$__interval])))"
    assert dv.interpolate(text, {}, scoped).text == "query_result(topk(5,rate(x[15s])))"


# --- variable queries: metric_find_query.ts -----------------------------------------


@pytest.mark.parametrize(
    ("query", "kind", "path", "match"),
    [
        ("label_values(job)", "label_values", "/api/v1/label/job/values", None),
        ("label_values(up, job)", "label_values", "/api/v1/label/job/values", "up"),
        ('label_values(up{a="b"},job)', "label_values", "/api/v1/label/job/values", 'up{a="b"}'),
        ("label_values({}, job)", "label_values", "/api/v1/label/job/values", None),
        ("label_names()", "label_names", "/api/v1/labels", None),
        ("label_names(up)", "label_names", "/api/v1/labels", '{__name__=~".*up.*"}'),
        ("metrics(up.*)", "metrics", "/api/v1/label/__name__/values", None),
        ("query_result(count(up))", "query_result", "/api/v1/query", None),
        ('up{job="x"}', "series", "/api/v1/series", 'up{job="x"}'),
    ],
)
def test_variable_request(query: str, kind: str, path: str, match: str | None) -> None:
    call = dv.variable_request(query, 100, 200)
    assert call is not None
    assert (call.kind, call.path, call.params.get("match[]")) == (kind, path, match)
    if kind != "query_result":
        assert (call.params["start"], call.params["end"]) == ("100", "200")


def test_query_result_texts_as_grafana_writes_them() -> None:
    call = dv.variable_request("query_result(up)", 0, 1)
    assert call is not None
    data = {
        "resultType": "vector",
        "result": [
            {"metric": {"__name__": "up", "job": "p", "instance": "h:1"}, "value": [17.5, "1"]}
        ],
    }
    assert dv.found_values(call, data) == ['up{job="p",instance="h:1"} 1 17500']
    scalar = {"resultType": "scalar", "result": [17, "42"]}
    assert dv.found_values(call, scalar) == ["42"]


def test_metrics_filter_is_an_unanchored_regex() -> None:
    call = dv.variable_request("metrics(events)", 0, 1)
    assert call is not None
    names = ["peak_trade_pipeline_events_total", "up", "events"]
    assert dv.found_values(call, names) == ["peak_trade_pipeline_events_total", "events"]


# --- options: scenes metricNamesToVariableValues / sortVariableValues ----------------


@pytest.mark.parametrize(
    ("found", "regex", "sort", "expected"),
    [
        (["b", "a", "c"], "", 0, [("b", "b"), ("a", "a"), ("c", "c")]),
        (["b", "a", "c"], "", 1, [("a", "a"), ("b", "b"), ("c", "c")]),
        (["b", "a", "c"], "", 2, [("c", "c"), ("b", "b"), ("a", "a")]),
        (["v10", "v9", "v100"], "", 3, [("v9", "v9"), ("v10", "v10"), ("v100", "v100")]),
        (["B", "a", "C"], "", 5, [("a", "a"), ("B", "B"), ("C", "C")]),
        (["x10", "x9", "X1"], "", 7, [("X1", "X1"), ("x9", "x9"), ("x10", "x10")]),
        (["shadow", "live"], "/^live$/", 0, [("live", "live")]),
        (["shadow", "live"], "sha.*", 0, [("shadow", "shadow")]),  # no slashes: ^…$
        (["shadow", "live"], "/^other$/", 0, []),
        (["h:9090", "h:9091"], "/(.*):.*/", 0, [("h", "h")]),  # first group, unique by value
        (["SHADOW"], "/shadow/i", 0, [("SHADOW", "SHADOW")]),
        (
            ['up{job="p",instance="h:1"} 1 17'],
            '/job="(?<value>[^"]*)",instance="(?<text>[^"]*)"/',
            0,
            [("h:1", "p")],
        ),
        (["a-1 b-2"], "/(\\w)-\\d/g", 0, [("a", "a"), ("b", "b")]),  # global: every match
    ],
)
def test_make_options(
    found: list[str], regex: str, sort: int, expected: list[tuple[str, str]]
) -> None:
    assert [(o.text, o.value) for o in dv.make_options(found, regex, sort)] == expected


def test_a_regex_javascript_rejects_is_said() -> None:
    with pytest.raises(dv.VariableError, match="not a valid regular expression"):
        dv.make_options(["a"], "/(/", 0)


# --- selection: scenes MultiValueVariable.getStateUpdateGivenNewOptions --------------

OPTIONS = [dv.Option("live", "live"), dv.Option("shadow", "shadow")]


@pytest.mark.parametrize(
    ("variable", "options", "value"),
    [
        (var(current_value="shadow"), OPTIONS, "shadow"),  # saved current kept
        (var(current_value="paper"), OPTIONS, "live"),  # gone: the first option
        (var(current_value="x", current_text="shadow"), OPTIONS, "shadow"),  # by text
        (var(current_value="shadow"), [], ""),  # no options
        (var(multi=True, current_value=["shadow"]), [], ()),
        (var(include_all=True, current_value="shadow"), [], "$__all"),
        (var(include_all=True, current_value="$__all"), OPTIONS, "$__all"),
        (var(current_value="$__all"), OPTIONS, "live"),  # All without includeAll
        (var(multi=True, current_value=["shadow", "paper"]), OPTIONS, ("shadow",)),
        (var(multi=True, current_value=["paper"]), OPTIONS, ("live",)),
        (var(multi=True, current_value=["$__all"]), OPTIONS, ("live",)),
    ],
)
def test_select(variable: dv.Variable, options: list[dv.Option], value: object) -> None:
    assert dv.select(variable, options) == value


def test_the_dashboards_own_variables_parse_as_grafana_reads_them() -> None:
    model = {
        "name": "mode",
        "type": "query",
        "datasource": {"type": "prometheus", "uid": "ds"},
        "query": {"query": "label_values(m, mode)", "refId": "X", "qryType": 1},
        "current": {"text": "shadow", "value": "shadow"},
        "regex": "",
        "sort": 1,
        "includeAll": True,
        "allValue": ".*",
    }
    variable = dv.Variable.from_model(model)
    assert (variable.query, variable.datasource_uid, variable.all_value) == (
        "label_values(m, mode)",
        "ds",
        ".*",
    )


@pytest.mark.parametrize(
    ("variable", "options", "value"),
    [
        (dv.Variable("c", "custom", "a, b,c\\,d", current_value="b"), ["a", "b", "c,d"], "b"),
        (dv.Variable("k", "custom", "One : 1,Two : 2"), ["1", "2"], "1"),
        (dv.Variable("k", "constant", "shadow"), ["shadow"], "shadow"),
        (dv.Variable("i", "interval", "1m,5m,1h", current_value="5m"), ["1m", "5m", "1h"], "5m"),
        (dv.Variable("t", "textbox", "default"), ["default"], "default"),
    ],
)
def test_static_variables(variable: dv.Variable, options: list[str], value: str) -> None:
    done = dv.resolve_static(variable)
    assert ([o.value for o in done.options], done.value) == (options, value)


# --- time range, intervals and the backend macros ------------------------------------


def test_time_range_and_prometheus_seconds() -> None:
    now = 1_700_000_000_500
    assert dv.time_ms("now-1h", now, round_up=False) == now - 3_600_000
    assert dv.time_ms("now", now, round_up=True) == now
    assert dv.prometheus_time_s(now) == 1_700_000_001  # Math.ceil, both ends
    with pytest.raises(dv.VariableError):
        dv.time_ms("yesterday", now, round_up=False)


@pytest.mark.parametrize(
    ("range_ms", "points", "low", "expected"),
    [
        (3_600_000, 500, "5s", 5_000),  # the shadow dashboard: 1h, 500 points, timeInterval 5s
        (3_600_000, 500, "1s", 5_000),  # 7.2 s rounds to 5 s
        (21_600_000, 500, "15s", 30_000),  # 6h: 43.2 s rounds to 30 s
        (300_000, 1000, "15s", 15_000),  # the low limit wins
    ],
)
def test_panel_interval(range_ms: int, points: int, low: str, expected: int) -> None:
    assert dv.panel_interval_ms(range_ms, points, low) == expected


def test_rate_interval_is_max_of_interval_plus_scrape_and_four_scrapes() -> None:
    assert rate_interval_ms(5_000, "5s") == 20_000
    assert rate_interval_ms(60_000, "15s") == 75_000
    assert rate_interval_ms(15_000, "") == 60_000  # no scrape interval configured: 15s


@pytest.mark.parametrize(
    ("ms", "go", "grafana"),
    [(20_000, "20s", "20s"), (75_000, "1m15s", "1m"), (3_600_000, "1h0m0s", "1h"), (500, "500ms", "500ms")],
)  # fmt: skip
def test_duration_texts(ms: int, go: str, grafana: str) -> None:
    assert (go_duration(ms), format_interval(ms)) == (go, grafana)


def test_backend_interpolation_like_promlib() -> None:
    expr = "rate(x[$__rate_interval]) / $__interval_ms / ${__range_s} / $__range / $__interval"
    shown = backend_interpolate(expr, 5_000, 5_000, 3_600_000, "5s")
    assert shown == "rate(x[20s]) / 5000 / 3600 / 3600s / 5s"


def test_without_matchers_drops_only_the_variables_matchers() -> None:
    expr = 'sum(rate(m{mode="$mode", exchange=~"$exchange", stage="error"}[5m]))'
    assert dv.without_matchers(expr, {"exchange"}) == (
        'sum(rate(m{mode="$mode", stage="error"}[5m]))'
    )
    assert dv.without_matchers(expr, {"mode", "exchange"}) == 'sum(rate(m{stage="error"}[5m]))'
    assert dv.without_matchers('up{mode="$mode"}', {"mode"}) == "up{}"


def test_a_nan_point_is_data_and_a_null_one_is_not():
    """Grafana's frame JSON writes NaN as null plus an ``entities`` index: a stalled
    session's quantile is NaN, delivered by the chain, so the panel has data."""
    from shadow_mvs.evidence.panels import has_data

    def frame(values: list, entities: list | None = None) -> dict:
        data: dict = {"values": [[1000], values]}
        if entities is not None:
            data["entities"] = entities
        return {"frames": [{"data": data}]}

    assert has_data(frame([None], [None, {"NaN": [0]}]))
    assert has_data(frame([0.25]))
    assert not has_data(frame([None]))
    assert not has_data(frame([None], [None, None]))
    assert not has_data({"frames": []})
