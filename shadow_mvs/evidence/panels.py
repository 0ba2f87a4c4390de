"""Dashboard panel queries: filled from fixed values (the offline PromQL checks), and as
Grafana's frontend renders them — the dashboard's own variables resolved through its
datasource, every panel query run through Grafana over the dashboard's time range (the
panels check). The variable semantics, with their Grafana sources, are in
``dashboard_vars.py``."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from string import Template
from typing import Any, Protocol

import httpx

from shadow_mvs.core.run import CheckFailed
from shadow_mvs.evidence import dashboard_vars as dv
from shadow_mvs.evidence.grafana_rules.macros import backend_interpolate


@dataclass(frozen=True)
class PanelQuery:
    panel: str
    ref_id: str
    expr: str
    datasource_uids: tuple[str | None, ...]  # the panel's and the target's


def walk_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every panel, rows and the panels they hold alike."""
    for panel in panels:
        yield panel
        yield from walk_panels(panel.get("panels") or [])  # collapsed rows nest their panels


def _uid(ref: Any) -> str | None:
    return ref.get("uid") if isinstance(ref, dict) else ref


def panel_queries(dashboard: dict[str, Any], variables: dict[str, str]) -> list[PanelQuery]:
    """Every Prometheus target of every panel, with $variables substituted."""
    queries = []
    for panel in walk_panels(dashboard.get("panels", [])):
        for target in panel.get("targets", []):
            if not target.get("expr"):
                continue
            expr = Template(target["expr"]).safe_substitute(variables)
            queries.append(
                PanelQuery(
                    panel=panel.get("title", f"panel {panel.get('id')}"),
                    ref_id=target.get("refId", "A"),
                    expr=expr,
                    datasource_uids=(_uid(panel.get("datasource")), _uid(target.get("datasource"))),
                )
            )
    return queries


def leftover_inputs(dashboard: dict[str, Any]) -> list[str]:
    """Import placeholders (``${DS_…}``, ``__inputs``) that a provisioned file must not keep."""
    text = json.dumps(dashboard)
    found = []
    if "${DS_" in text:
        found.append("${DS_…} datasource placeholder")
    if "__inputs" in dashboard:
        found.append("__inputs section")
    return found


# --- the dashboard as Grafana's frontend renders it ---------------------------------


class GrafanaReader(Protocol):
    """What rendering needs of a Grafana client (``plugin/clients.py`` GrafanaClient)."""

    def get_json(self, path: str, **params: Any) -> Any: ...

    def post_json(self, path: str, body: dict[str, Any]) -> httpx.Response: ...


@dataclass(frozen=True)
class RenderedTarget:
    """One panel query as Grafana runs it: dashboard variables filled by the frontend,
    built-ins (``$__rate_interval`` …) left for the backend, and ``shown`` as Prometheus
    receives it."""

    panel: str
    ref_id: str
    raw_expr: str
    expr: str
    shown: str
    datasource_uids: tuple[str | None, ...]
    uses: tuple[str, ...]  # dashboard variables the query names
    undefined: tuple[str, ...]  # names the dashboard does not define
    request: dict[str, Any]  # the /api/ds/query entry (refId set by the caller)


@dataclass
class DashboardRender:
    """The dashboard's variables resolved through its datasource and its panel queries
    interpolated, over the dashboard's own default time range. ``cache`` keeps the
    datasource's answers to variable queries for the run (only non-empty ones, so a
    warming-up datasource is asked again)."""

    dashboard: dict[str, Any]
    grafana: GrafanaReader
    now_ms: int
    cache: dict[str, Any] = field(default_factory=dict)
    variables: dict[str, dv.Resolved] = field(default_factory=dict)

    @property
    def time_range(self) -> tuple[int, int]:
        time = self.dashboard.get("time") or {}
        start = dv.time_ms(str(time.get("from", "now-6h")), self.now_ms, round_up=False)
        end = dv.time_ms(str(time.get("to", "now")), self.now_ms, round_up=True)
        return start, end

    def datasource_interval(self, uid: str) -> str:
        """The datasource's ``timeInterval`` (the frontend's ``ds.interval``), else 15s."""
        key = f"interval:{uid}"
        if key not in self.cache:
            try:
                json_data = self.grafana.get_json(f"/api/datasources/uid/{uid}").get("jsonData")
                interval = (json_data or {}).get("timeInterval")
            except (httpx.HTTPError, ValueError, AttributeError):
                interval = None  # a Viewer may not read datasources: Grafana's default
            self.cache[key] = interval or dv.PROMETHEUS_DEFAULT_INTERVAL
        return str(self.cache[key])

    def resolve(self, default_uid: str) -> dict[str, dv.Resolved]:
        """Every variable, in dependency order (a query may name earlier variables)."""
        models = {v.name: v for v in dv.variables_of(self.dashboard)}
        self.variables = {}

        def visit(name: str, seen: tuple[str, ...]) -> None:
            if name in self.variables or name not in models or name in seen:
                return
            variable = models[name]
            for needed in dv.references(variable.query) + dv.references(variable.regex):
                visit(needed, (*seen, name))
            self.variables[name] = self._resolve_one(variable, default_uid)

        for name in models:
            visit(name, ())
        return self.variables

    def _resolve_one(self, variable: dv.Variable, default_uid: str) -> dv.Resolved:
        if variable.type != "query":
            return dv.resolve_static(variable)
        uid = variable.datasource_uid or default_uid
        start, end = self.time_range
        scoped = dv.range_scoped(end - start, self.datasource_interval(uid))
        query = dv.interpolate(variable.query, self.variables, scoped).text
        call = dv.variable_request(query, dv.prometheus_time_s(start), dv.prometheus_time_s(end))
        if call is None:
            return dv.Resolved(variable, (), dv.select(variable, []), query)
        url = call.url(uid)
        regex = dv.interpolate(variable.regex, self.variables, formatter=_regex_var).text
        shown = dv.Variable(**{**variable.__dict__, "regex": regex})
        found: list[str] = []
        try:
            data = self.cache.get(url)
            if data is None:
                data = self._resource(url)
                if data:
                    self.cache[url] = data
            found = dv.found_values(call, data)
            options = dv.make_options(found, regex, variable.sort)
        except dv.VariableError as exc:  # the frontend shows no option, and says why
            return dv.Resolved(shown, (), dv.select(variable, []), query, tuple(found), str(exc))
        return dv.Resolved(shown, tuple(options), dv.select(variable, options), query, tuple(found))

    def _resource(self, url: str) -> Any:
        """One datasource resource call; a 4xx (Prometheus refused the query) is final."""
        path, _, query = url.partition("?")
        params = dict(urllib.parse.parse_qsl(query))
        try:
            answer = self.grafana.get_json(path, **params)
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code >= 500:
                raise
            try:
                said = exc.response.json().get("error") or exc.response.json().get("message")
            except ValueError:
                said = exc.response.text[:200]
            raise dv.VariableError(f"HTTP {exc.response.status_code}: {said}") from exc
        return answer.get("data") if isinstance(answer, dict) else None

    def targets(self, default_uid: str) -> list[RenderedTarget]:
        start, end = self.time_range
        span = end - start
        rendered = []
        for panel in walk_panels(self.dashboard.get("panels") or []):
            panel_uid = _uid(panel.get("datasource"))
            for target in panel.get("targets") or []:
                if not target.get("expr") or target.get("hide"):
                    continue
                uid = _uid(target.get("datasource")) or panel_uid or default_uid
                done = dv.interpolate(str(target["expr"]), self.variables)
                min_interval = str(target.get("interval") or panel.get("interval") or "")
                ds_interval = self.datasource_interval(str(uid))
                max_points = int(panel.get("maxDataPoints") or dv.SCENES_DEFAULT_MAX_DATA_POINTS)
                interval_ms = dv.panel_interval_ms(span, max_points, min_interval or ds_interval)
                step = max(interval_ms, dv.round_interval(span / 11_000))  # promlib safe step
                shown = backend_interpolate(
                    done.text, interval_ms, step, span, min_interval or ds_interval
                )
                request = {
                    "datasource": {"type": "prometheus", "uid": uid},
                    "expr": done.text,
                    "range": bool(target.get("range")) or not target.get("instant"),
                    "instant": bool(target.get("instant")),
                    "interval": min_interval,
                    "intervalMs": interval_ms,
                    "maxDataPoints": max_points,
                    "legendFormat": str(target.get("legendFormat") or ""),
                    "format": str(target.get("format") or "time_series"),
                }
                rendered.append(
                    RenderedTarget(
                        panel=panel.get("title") or f"panel {panel.get('id')}",
                        ref_id=str(target.get("refId") or "A"),
                        raw_expr=str(target["expr"]),
                        expr=done.text,
                        shown=shown,
                        datasource_uids=(panel_uid, _uid(target.get("datasource"))),
                        uses=tuple(dict.fromkeys(done.used)),
                        undefined=tuple(dict.fromkeys(done.undefined)),
                        request=request,
                    )
                )
        return rendered

    def without(self, target: RenderedTarget, names: set[str]) -> str:
        """The target's query with the label matchers of ``names`` removed, interpolated."""
        return dv.interpolate(dv.without_matchers(target.raw_expr, names), self.variables).text

    def run(self, requests: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
        """One POST /api/ds/query over the dashboard's time range, as the frontend sends
        it (``from``/``to`` as epoch-millisecond strings)."""
        start, end = self.time_range
        body = {"from": str(start), "to": str(end), "queries": requests}
        response = self.grafana.post_json("/api/ds/query", body)
        results = response.json().get("results", {}) if response.content else {}
        return response.status_code, results


def _regex_var(value: str | list[str], variable: dv.Variable | None) -> str:
    """A variable in a variable's regex: sceneGraph.interpolate(…, 'regex')."""
    return dv.named_format("regex", value, variable)


def has_data(result: dict[str, Any]) -> bool:
    """A DataResponse whose frames carry at least one value (not only empty frames).

    A NaN or ±Inf point is a value too: Grafana's frame JSON writes it as null and lists
    its index under ``entities`` (data.FrameJSON's "entities": NaN, Inf, NegInf). A stalled
    session's latency quantile is NaN — the chain delivers it, the session is what is
    wrong, and the slo check (R-2) is the one to say so."""
    for frame in result.get("frames") or []:
        data = frame.get("data") or {}
        columns = data.get("values") or []
        if any(value is not None for column in columns[1:] for value in column):
            return True
        entities = data.get("entities") or []
        if any(column and any(column.values()) for column in entities[1:]):
            return True
    return False


def render_panels(
    grafana: GrafanaReader,
    dashboard_uid: str,
    ds_uid: str,
    expected: Mapping[str, str],
    cache: dict[str, Any],
    now_ms: int,
) -> tuple[DashboardRender, list[RenderedTarget]]:
    """One look at the dashboard as Grafana renders it; CheckFailed names what the operator
    would see wrong: a variable with no option or without an expected value, an undefined
    variable, a panel empty only because of the variables' values, or an empty panel."""
    dashboard = grafana.get_json(f"/api/dashboards/uid/{dashboard_uid}")["dashboard"]
    if leftovers := leftover_inputs(dashboard):
        raise CheckFailed(
            f"dashboard keeps import leftovers: {leftovers}",
            cause="panel_datasource",
            retryable=False,
        )
    render = DashboardRender(dashboard, grafana, now_ms, cache)
    # Bindings first: they need no request, and a variable bound elsewhere cannot resolve.
    for target in render.targets(ds_uid):
        if any(uid != ds_uid for uid in target.datasource_uids):
            raise CheckFailed(
                f"panel {target.panel!r} uses datasource "
                f"{target.datasource_uids}, not the provisioned uid {ds_uid}",
                cause="panel_datasource",
                retryable=False,
            )
    for variable in dv.variables_of(dashboard):
        if variable.type == "query" and variable.datasource_uid not in (None, ds_uid):
            raise CheckFailed(
                f"dashboard variable ${variable.name} uses datasource "
                f"{variable.datasource_uid!r}, not the provisioned uid {ds_uid}",
                cause="panel_datasource",
                retryable=False,
            )
    variables = render.resolve(ds_uid)
    targets = render.targets(ds_uid)
    for target in targets:
        if target.undefined:
            raise CheckFailed(
                "",
                cause="variable_undefined",
                retryable=False,
                facts={"variable": target.undefined[0], "panel": target.panel,
                       "expr": target.shown},
            )  # fmt: skip
    for name, resolved in variables.items():
        if resolved.variable.type == "query" and not resolved.options:
            user = next((t for t in targets if name in t.uses), None)
            found = ", ".join(resolved.found[:5])
            reason = resolved.error or (
                f"regex {resolved.variable.regex} keeps none of [{found}]"
                if resolved.found
                else "the datasource has no values for it"
            )
            raise CheckFailed(
                "",
                cause="variable_no_options",
                retryable=False,
                facts={"variable": name, "query": resolved.query, "reason": reason,
                       "panel": user.panel if user else "(none)",
                       "expr": user.shown if user else "(no panel uses it)"},
            )  # fmt: skip
    for name, value in expected.items():
        defined = variables.get(name)
        offered = [o.value for o in defined.options] if defined else []
        if value not in offered:
            user = next((t for t in targets if name in t.uses), None)
            raise CheckFailed(
                "",
                cause="variable_missing_expected",
                retryable=False,
                facts={"variable": name, "expected": value, "options": offered,
                       "query": defined.query if defined else "(not defined)",
                       "panel": user.panel if user else "(none)"},
            )  # fmt: skip
    requests = [t.request | {"refId": f"{t.ref_id}{i}"} for i, t in enumerate(targets)]
    status, results = render.run(requests)
    for i, target in enumerate(targets):
        result = results.get(f"{target.ref_id}{i}", {})
        if result.get("error") or status not in (200, 400):
            raise CheckFailed(
                f"panel {target.panel!r} via Grafana /api/ds/query: "
                f"{result.get('error') or f'HTTP {status}'} ({target.shown})",
                cause="panel_empty",
            )
        if not has_data(result):
            raise empty_panel(render, target)
    return render, targets


def empty_panel(render: DashboardRender, target: RenderedTarget) -> CheckFailed:
    """An empty panel: is it the variables' values? Ask once, all variants in one request:
    the query without each variable's label matchers, and without all of them."""
    variants = [{name} for name in target.uses] + ([set(target.uses)] if target.uses else [])
    if variants:
        requests = [
            target.request | {"refId": f"W{i}", "expr": render.without(target, names)}
            for i, names in enumerate(variants)
        ]
        _, results = render.run(requests)
        for i, names in enumerate(variants):
            if has_data(results.get(f"W{i}", {})):
                values = ", ".join(f"${n}={render.variables[n].shown()}" for n in sorted(names))
                return CheckFailed(
                    "",
                    cause="panel_empty_by_variable",
                    retryable=False,
                    facts={"panel": target.panel, "values": values, "expr": target.shown},
                )
    return CheckFailed(
        f"panel {target.panel!r} ({target.ref_id}) has no data through Grafana over the "
        f"dashboard's time range: {target.shown}",
        cause="panel_empty",
        retry_in_s=next_point_in_s(target, render.now_ms),
    )


# How long after a step boundary to look: the query's "to" must be past it.
AFTER_BOUNDARY_S = 0.05


def next_point_in_s(target: RenderedTarget, now_ms: int) -> float | None:
    """Seconds until an empty range panel can first show something new. Grafana aligns a
    range query's end down to a multiple of its step (promlib ``AlignTimeRange``), so a
    sample scraped after the last aligned point appears only at the next one; polling
    before it asks again for the same points. The step is a multiple of the request's
    ``intervalMs`` (it is the larger of that and the rounded range/maxDataPoints), so the
    next multiple of ``intervalMs`` is the earliest such point. None for an instant query:
    its point is "now", which any later look moves."""
    interval_ms = int(target.request.get("intervalMs") or 0)
    if interval_ms <= 0 or (target.request.get("instant") and not target.request.get("range")):
        return None
    return (interval_ms - now_ms % interval_ms) / 1000 + AFTER_BOUNDARY_S
