"""A dashboard's own template variables, resolved and interpolated as Grafana's frontend does.

Pure functions (no HTTP): ``variable_request`` says which datasource resource call a query
variable makes, ``found_values`` reads its answer, ``make_options``/``select`` turn that into
options and the selected value, ``interpolate`` fills a panel query. The panels check
(``evidence/panels.py``) does the requests through Grafana. Sources, all in Grafana's own
code (grafana/grafana, grafana/scenes):

* query variables: packages/grafana-prometheus/src/variables.ts (``PrometheusVariableSupport``:
  the query string is interpolated with ``$__interval`` = the datasource's ``timeInterval``
  and ``$__range*``), metric_find_query.ts (``label_values``, ``label_names``, ``metrics``,
  ``query_result``, else a series query), language_utils.ts ``getPrometheusTime``;
* options: scenes variables/variants/query/utils.ts ``metricNamesToVariableValues`` (regex via
  @grafana/data ``stringToJsRegex``, ``(?<text>)``/``(?<value>)`` groups, first group,
  global flag) and ``sortVariableValues``; CustomVariable.tsx for ``a, b, key : value``;
* selection: scenes MultiValueVariable.ts ``getStateUpdateGivenNewOptions`` (the saved
  ``current`` if still an option, else the first option; no options → ``''``/``[]``, or All
  with ``includeAll``), ``getValue`` (All → ``allValue`` as is, else every option's value);
* interpolation: scenes constants.ts ``VARIABLE_REGEX``, sceneInterpolator.ts (an explicit
  ``${var:format}`` wins over the datasource's formatter, unknown names stay as written),
  formatRegistry.ts, and the Prometheus formatter grafana-prometheus/src/escaping.ts
  ``interpolateQueryExpr``/``prometheusRegularEscape``/``prometheusSpecialRegexEscape``
  (classic behaviour: the ``prometheusSpecialCharsInLabelValues`` toggle is off by default).
"""

from __future__ import annotations

import json
import math
import re
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

ALL_VALUE = "$__all"
ALL_TEXT = "All"
# scenes constants.ts VARIABLE_REGEX: $var, [[var]] / [[var:fmt]], ${var}, ${var.path}, ${var:fmt}
VARIABLE_REGEX = re.compile(
    r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)"
    r"((?:\.[^:^{}\[\]]+|\[\"[^\"]*\"\]|\['[^']*'\]|\[[^\]\"']*\])*)(?::([^}]+))?\}",
    re.ASCII,
)
# metric_find_query.ts / migrations/variableMigration.ts
_LABEL_NAMES = re.compile(r"^label_names\(\)\s*$")
_LABEL_NAMES_MATCH = re.compile(r"^label_names\((.+)\)\s*$")
_LABEL_VALUES = re.compile(r"^label_values\((?:(.+),\s*)?([a-zA-Z_][a-zA-Z0-9_]*)\)\s*$")
_METRICS = re.compile(r"^metrics\((.+)\)\s*$")
_QUERY_RESULT = re.compile(r"^query_result\((.+)\)\s*$", re.DOTALL)
# A label matcher whose value names a variable: what "without the variable" removes.
_MATCHER = re.compile(r'([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')
_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_UNITS_MS |= {"M": 2_592_000_000, "y": 31_536_000_000}
_RELATIVE = re.compile(r"^now(?:([+-])(\d+)(ms|s|m|h|d|w|M|y))?(?:/([smhdwMy]))?$")
SCENES_DEFAULT_MAX_DATA_POINTS = 500  # SceneQueryRunner.getMaxDataPoints without a width
PROMETHEUS_DEFAULT_INTERVAL = "15s"  # datasource.ts: jsonData.timeInterval || '15s'


class VariableError(ValueError):
    """A variable the frontend cannot resolve (a regex JavaScript would reject, say)."""


@dataclass(frozen=True)
class Option:
    text: str
    value: str


@dataclass(frozen=True)
class Variable:
    """One entry of ``templating.list`` in the dashboard JSON."""

    name: str
    type: str
    query: str
    datasource_uid: str | None = None
    regex: str = ""
    sort: int = 0
    multi: bool = False
    include_all: bool = False
    all_value: str | None = None
    current_value: str | list[str] | None = None
    current_text: str | list[str] | None = None

    @classmethod
    def from_model(cls, model: Mapping[str, Any]) -> Variable:
        query = model.get("query", "")
        if isinstance(query, Mapping):  # PromVariableQuery: the string rides in .query
            query = query.get("query", "") or ""
        datasource = model.get("datasource")
        current = model.get("current") or {}
        return cls(
            name=str(model.get("name", "")),
            type=str(model.get("type", "query")),
            query=str(query),
            datasource_uid=datasource.get("uid") if isinstance(datasource, Mapping) else datasource,
            regex=str(model.get("regex") or ""),
            sort=int(model.get("sort") or 0),
            multi=bool(model.get("multi")),
            include_all=bool(model.get("includeAll")),
            all_value=model.get("allValue") or None,
            current_value=current.get("value"),
            current_text=current.get("text"),
        )


@dataclass(frozen=True)
class Resolved:
    """A variable as the dashboard shows it: its options and the selected value."""

    variable: Variable
    options: tuple[Option, ...]
    value: str | tuple[str, ...]
    query: str = ""  # the query as sent, variables filled
    found: tuple[str, ...] = ()  # what the datasource answered, before the regex
    error: str = ""  # why the query or its regex could not run (a 4xx, a bad regex)

    @property
    def is_all(self) -> bool:
        value = self.value
        return value == ALL_VALUE or (isinstance(value, tuple) and value[:1] == (ALL_VALUE,))

    def interpolation_value(self) -> str | list[str]:
        """scenes ``getValue``: All → every option's value (``allValue`` is handled by the
        interpolator, as ``CustomAllValue``)."""
        if self.is_all:
            return [o.value for o in self.options]
        return list(self.value) if isinstance(self.value, tuple) else self.value

    def shown(self) -> str:
        """What the variable picker shows (``getValueText``)."""
        if self.is_all:
            return ALL_TEXT
        return " + ".join(self.value) if isinstance(self.value, tuple) else self.value


def variables_of(dashboard: Mapping[str, Any]) -> list[Variable]:
    templating = dashboard.get("templating") or {}
    return [Variable.from_model(v) for v in templating.get("list") or [] if v.get("name")]


# --- time range ---------------------------------------------------------------------


def time_ms(text: str, now_ms: int, round_up: bool) -> int:
    """@grafana/data dateMath for ``now``, ``now-6h``, ``now/d`` and epoch milliseconds."""
    if text.isdigit():
        return int(text)
    match = _RELATIVE.match(text.strip())
    if not match:
        raise VariableError(f"time {text!r} is not a relative time Grafana understands")
    sign, amount, unit, rounding = match.groups()
    moment = now_ms
    if unit:
        moment += (-1 if sign == "-" else 1) * int(amount) * _UNITS_MS[unit]
    if rounding:  # approximate /unit rounding in UTC (start of the unit, or its end)
        size = _UNITS_MS[rounding]
        moment = moment - moment % size + (size - 1 if round_up else 0)
    return moment


def prometheus_time_s(ms: int) -> int:
    """language_utils.ts ``getPrometheusTime``: ``Math.ceil`` of the seconds, both ends."""
    return math.ceil(ms / 1000)


def range_scoped(range_ms: int, ds_interval: str) -> dict[str, str]:
    """The built-ins a variable query sees (variables.ts, datasource.ts
    ``getRangeScopedVars``): ``$__interval`` is the datasource's interval."""
    seconds = round(range_ms / 1000)
    return {
        "__interval": ds_interval,
        "__interval_ms": str(interval_to_ms(ds_interval)),
        "__range_ms": str(range_ms),
        "__range_s": str(seconds),
        "__range": f"{seconds}s",
    }


def interval_to_ms(text: str) -> int:
    """rangeutil.ts ``intervalToMs`` (a bare number is seconds)."""
    match = re.match(r"^(-?\d+(?:\.\d+)?)(ms|[Mwdhmsy])", text)
    if match:
        return int(float(match.group(1))) * _UNITS_MS[match.group(2)]
    try:
        return int(float(text) * 1000)
    except ValueError as exc:
        raise VariableError(f"invalid interval {text!r}") from exc


def round_interval(ms: float) -> int:
    """rangeutil.ts ``roundInterval``."""
    steps = [
        (10, 1), (15, 10), (35, 20), (75, 50), (150, 100), (350, 200), (750, 500),
        (1_500, 1_000), (3_500, 2_000), (7_500, 5_000), (12_500, 10_000), (17_500, 15_000),
        (25_000, 20_000), (45_000, 30_000), (90_000, 60_000), (210_000, 120_000),
        (450_000, 300_000), (750_000, 600_000), (1_050_000, 900_000), (1_500_000, 1_200_000),
        (2_700_000, 1_800_000), (5_400_000, 3_600_000), (9_000_000, 7_200_000),
        (16_200_000, 10_800_000), (32_400_000, 21_600_000), (86_400_000, 43_200_000),
        (604_800_000, 86_400_000), (1_814_400_000, 604_800_000),
        (3_628_800_000, 2_592_000_000),
    ]  # fmt: skip
    return next((rounded for bound, rounded in steps if ms < bound), 31_536_000_000)


def panel_interval_ms(range_ms: int, max_data_points: int, low_limit: str) -> int:
    """rangeutil.ts ``calculateInterval``: the ``intervalMs`` the frontend sends with every
    panel query (low limit: the panel's min interval, else the datasource's)."""
    interval = round_interval(range_ms / max_data_points)
    return max(interval, interval_to_ms(low_limit) if low_limit else 1)


# --- query variables through the datasource -----------------------------------------


@dataclass(frozen=True)
class ResourceCall:
    """One call of the datasource resource API (``/resources`` + path)."""

    kind: str  # label_values, label_names, metrics, query_result, series
    path: str
    params: dict[str, str] = field(default_factory=dict)
    label: str = ""
    pattern: str = ""  # metrics(<regex>)

    def url(self, datasource_uid: str) -> str:
        query = urllib.parse.urlencode(self.params)
        base = f"/api/datasources/uid/{datasource_uid}/resources{self.path}"
        return f"{base}?{query}" if query else base


def variable_request(query: str, start_s: int, end_s: int) -> ResourceCall | None:
    """metric_find_query.ts ``process``: which call the (interpolated) query makes."""
    window = {"start": str(start_s), "end": str(end_s)}
    if match := _LABEL_NAMES_MATCH.match(query):
        selector = f'{{__name__=~".*{match.group(1)}.*"}}'
        return ResourceCall("label_names", "/api/v1/labels", {"match[]": selector, **window})
    if _LABEL_NAMES.match(query):
        return ResourceCall("label_names", "/api/v1/labels", window)
    if match := _LABEL_VALUES.match(query):
        metric, label = match.group(1), match.group(2)
        params = dict(window)
        if metric and metric.replace(" ", "") != "{}":
            params = {"match[]": metric, **window}
        return ResourceCall("label_values", f"/api/v1/label/{label}/values", params, label=label)
    if match := _METRICS.match(query):
        call = ResourceCall("metrics", "/api/v1/label/__name__/values", window)
        return ResourceCall(call.kind, call.path, call.params, pattern=match.group(1))
    if match := _QUERY_RESULT.match(query):
        return ResourceCall("query_result", "/api/v1/query", {"query": match.group(1)})
    if query in ("label_values()", "metrics()", "query_result()") or not query.strip():
        return None
    return ResourceCall("series", "/api/v1/series", {"match[]": query, **window})


def found_values(call: ResourceCall, data: Any) -> list[str]:
    """The texts ``PrometheusMetricFindQuery`` makes of the answer's ``data``."""
    if call.kind in ("label_values", "label_names"):
        return [str(v) for v in data or []]
    if call.kind == "metrics":
        pattern = js_regex(call.pattern, anchored=False)
        return [str(v) for v in data or [] if pattern.search(str(v))]
    if call.kind == "series":
        return [_series_name(dict(labels)) for labels in data or []]
    result_type, result = data.get("resultType"), data.get("result")
    if result_type in ("scalar", "string"):
        return [str(result[1] or "")]
    if result_type != "vector":
        raise VariableError(f"query_result: Unknown/Unhandled result type: [{result_type}]")
    texts = []
    for sample in result:
        labels = dict(sample["metric"])
        name = labels.pop("__name__", "")
        pairs = ",".join(f'{k}="{v}"' for k, v in labels.items())
        texts.append(f"{name}{{{pairs}}} {sample['value'][1]} {_js_number(sample['value'][0])}")
    return texts


def _series_name(labels: dict[str, str]) -> str:
    """result_transformer.ts ``getOriginalMetricName``."""
    name = labels.pop("__name__", "")
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def _js_number(seconds: Any) -> str:
    value = float(seconds) * 1000
    return str(int(value)) if value.is_integer() else repr(value)


def custom_values(query: str) -> list[Option]:
    """CustomVariable.tsx: comma-separated, ``\\,`` escapes a comma, ``text : value`` pairs."""
    options = []
    for raw in re.findall(r"(?:\\,|[^,])+", query):
        text = raw.replace("\\,", ",")
        pair = re.match(r"^\s*(.+)\s:\s(.+)$", text)
        if pair:
            options.append(Option(pair.group(1).strip(), pair.group(2).strip()))
        else:
            options.append(Option(text.strip(), text.strip()))
    return options


# --- options and the selected value -------------------------------------------------


def js_regex(text: str, anchored: bool = True) -> re.Pattern[str]:
    """@grafana/data ``stringToJsRegex`` (``/pattern/flags``, else ``^text$``), as Python's
    ``re``: JavaScript's ``(?<name>…)`` groups become ``(?P<name>…)``."""
    flags = 0
    if text.startswith("/"):
        match = re.match(r"^/(.*?)/(g?i?m?y?s?)$", text, re.DOTALL)
        if not match:
            raise VariableError(f"'{text}' is not a valid regular expression.")
        text, letters = match.group(1), match.group(2)
        flags |= re.IGNORECASE if "i" in letters else 0
        flags |= re.MULTILINE if "m" in letters else 0
        flags |= re.DOTALL if "s" in letters else 0
    elif anchored:
        text = f"^{text}$"
    try:
        return re.compile(re.sub(r"\(\?<(?![=!])", "(?P<", text), flags)
    except re.error as exc:
        raise VariableError(f"'{text}' is not a valid regular expression: {exc}") from exc


def make_options(found: Sequence[str], regex: str, sort: int) -> list[Option]:
    """scenes ``metricNamesToVariableValues``: regex filter/extract, unique by value, sort."""
    pattern = js_regex(regex) if regex else None
    is_global = regex.startswith("/") and "g" in regex.rsplit("/", 1)[-1]
    options: list[Option] = []
    for text in found:
        value = text
        if pattern is not None:
            matches = list(pattern.finditer(value)) if is_global else [pattern.search(value)]
            matches = [m for m in matches if m is not None]
            if not matches:
                continue
            named = [m.groupdict() for m in matches if m.groupdict()]
            value_group = next((g["value"] for g in named if g.get("value")), None)
            text_group = next((g["text"] for g in named if g.get("text")), None)
            first = next((m for m in matches if m.re.groups >= 1), None)
            if value_group or text_group:
                value, text = (value_group or text_group or ""), (text_group or value_group or "")
            elif len(matches) > 1 and first is not None:
                options += [Option(m.group(1) or "", m.group(1) or "") for m in matches]
                continue
            elif first is not None:
                text = value = first.group(1) or ""
        options.append(Option(text, value))
    unique = list({o.value: o for o in reversed(options)}.values())[::-1]  # first one wins
    return sort_options(unique, sort)


def sort_options(options: list[Option], sort: int) -> list[Option]:
    """scenes ``sortVariableValues`` (VariableSort 0…8; lodash ``sortBy`` is stable)."""
    if sort in (1, 2):
        ordered = sorted(options, key=lambda o: o.text)
    elif sort in (3, 4):
        ordered = sorted(options, key=_numeric_key)
    elif sort in (5, 6):
        ordered = sorted(options, key=lambda o: o.text.lower())
    elif sort in (7, 8):  # Intl.Collator numeric: digit runs compare as numbers
        ordered = sorted(options, key=_natural_key)
    else:
        return options
    return ordered[::-1] if sort % 2 == 0 else ordered


def _numeric_key(option: Option) -> int:
    match = re.match(r".*?(\d+).*", option.text)
    return int(match.group(1)) if match else -1


def _natural_key(option: Option) -> list[tuple[int, int | str]]:
    return [(0, int(p)) if p.isdigit() else (1, p.lower()) for p in re.split(r"(\d+)", option.text)]


def select(variable: Variable, options: Sequence[Option]) -> str | tuple[str, ...]:
    """scenes ``getStateUpdateGivenNewOptions`` for a dashboard opened without URL values."""
    current = variable.current_value
    values = list(current) if isinstance(current, list) else [current]
    if not options:
        if variable.include_all:
            return ALL_VALUE
        return () if variable.multi else ""
    if ALL_VALUE in values[:1]:
        if variable.include_all:
            return ALL_VALUE
        return (options[0].value,) if variable.multi else options[0].value
    if variable.multi:
        valid = tuple(str(v) for v in values if any(o.value == v for o in options))
        return valid or (options[0].value,)
    by_value = next((o for o in options if o.value == current), None)
    by_text = next((o for o in options if o.text == variable.current_text), None)
    return (by_value or by_text or options[0]).value


def resolve_static(variable: Variable) -> Resolved:
    """Variables that need no datasource: custom, constant, interval, textbox."""
    if variable.type == "constant":
        return Resolved(variable, (Option(variable.query, variable.query),), variable.query)
    if variable.type == "textbox":
        value = variable.current_value if isinstance(variable.current_value, str) else None
        text = variable.query if value is None else value
        return Resolved(variable, (Option(text, text),), text)
    if variable.type == "interval":
        options = [Option(o.strip(), o.strip()) for o in variable.query.split(",") if o.strip()]
        return Resolved(variable, tuple(options), select(variable, options))
    options = custom_values(variable.query)
    return Resolved(variable, tuple(options), select(variable, options))


# --- interpolation ------------------------------------------------------------------

Formatter = Callable[[str | list[str], Variable | None], str]


def prometheus_regular_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\\\'")


def prometheus_special_regex_escape(value: str) -> str:
    value = value.replace("\\", "\\\\\\\\")
    return re.sub(r"[$^*{}\[\]+?.()|]", lambda m: "\\\\" + m.group(0), value)


def prometheus_format(value: str | list[str], variable: Variable | None) -> str:
    """escaping.ts ``interpolateQueryExpr``: single-value variables are escaped as a string;
    multi-value and include-All ones as a regex, several values as ``(a|b)``."""
    if variable is None or (not variable.multi and not variable.include_all):
        return prometheus_regular_escape(value) if isinstance(value, str) else ",".join(value)
    if isinstance(value, str):
        return prometheus_special_regex_escape(value)
    escaped = [prometheus_special_regex_escape(v) for v in value]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def _escape_regex(value: str) -> str:
    return re.sub(r"[\\^$*+?.()|\[\]{}/]", lambda m: "\\" + m.group(0), value)


def _quote(value: str | list[str], quote: str) -> str:
    values = value if isinstance(value, list) else [value]
    return ",".join(f"{quote}{v.replace(quote, chr(92) + quote)}{quote}" for v in values)


def _percent(value: str) -> str:
    return urllib.parse.quote(value, safe="-_.~")


def named_format(name: str, value: str | list[str], variable: Variable | None) -> str:
    """formatRegistry.ts, the formats a Prometheus query can use; unknown ones are glob."""
    many = value if isinstance(value, list) else None
    if name == "regex":
        escaped = [_escape_regex(v) for v in (many if many is not None else [str(value)])]
        return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"
    if name in ("pipe", "csv", "join"):
        return str(value) if many is None else ("|" if name == "pipe" else ",").join(many)
    if name == "raw":
        return str(value) if many is None else ",".join(many)
    if name == "json":
        return str(value) if many is None else json.dumps(many, separators=(",", ":"))
    if name == "distributed":
        if many is None:
            return str(value)
        who = variable.name if variable else ""
        return ",".join(v if i == 0 else f"{who}={v}" for i, v in enumerate(many))
    if name == "singlequote":
        return _quote(value, "'")
    if name == "doublequote":
        return _quote(value, '"')
    if name == "percentencode":
        return _percent("{" + ",".join(many) + "}" if many is not None else str(value))
    if name == "queryparam":
        who = variable.name if variable else ""
        return "&".join(f"var-{who}={_percent(v)}" for v in (many or [str(value)]))
    if name == "lucene":
        if many is None:
            return _lucene(str(value))
        return "__empty__" if not many else "(" + " OR ".join(f'"{_lucene(v)}"' for v in many) + ")"
    if many is not None and len(many) > 1:  # glob, the default
        return "{" + ",".join(many) + "}"
    return str(value) if many is None else "".join(many)


def _lucene(value: str) -> str:
    if re.fullmatch(r"\s*-?\d+(\.\d+)?\s*", value):
        return value
    return re.sub(r'([!*+\-=<>\s&|()\[\]{}^~?:\\/"])', r"\\\1", value)


@dataclass
class Interpolation:
    text: str
    undefined: list[str] = field(default_factory=list)  # names the dashboard does not define
    used: list[str] = field(default_factory=list)  # the dashboard variables filled in


def interpolate(
    text: str,
    variables: Mapping[str, Resolved],
    scoped: Mapping[str, str] | None = None,
    formatter: Formatter = prometheus_format,
) -> Interpolation:
    """sceneInterpolator with the Prometheus datasource's formatter. Names neither the
    dashboard nor ``scoped`` define stay as written (Grafana sends them to Prometheus as
    they are); those that look like dashboard variables are reported as ``undefined``:
    ``$1``-style regex back-references and ``$__…`` built-ins left for the backend are not."""
    scoped = scoped or {}
    result = Interpolation(text)

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(4)
        fmt = match.group(3) or match.group(6)
        if name in scoped:
            value = scoped[name]
            return named_format(fmt, value, None) if fmt else formatter(value, None)
        resolved = variables.get(name)
        if resolved is None:
            if not name[0].isdigit() and not name.startswith("__"):
                result.undefined.append(name)
            return match.group(0)
        result.used.append(name)
        variable = resolved.variable
        if resolved.is_all and variable.all_value is not None:  # CustomAllValue
            if fmt == "text":
                return ALL_TEXT
            if fmt == "queryparam":
                return f"var-{variable.name}={ALL_TEXT}"
            raw = _percent(variable.all_value) if fmt == "percentencode" else variable.all_value
            inner = interpolate(raw, variables, scoped, formatter)
            result.undefined += inner.undefined
            return inner.text
        if fmt == "text":
            return resolved.shown()
        filled = resolved.interpolation_value()
        return named_format(fmt, filled, variable) if fmt else formatter(filled, variable)

    result.text = VARIABLE_REGEX.sub(replace, text)
    return result


def references(text: str) -> list[str]:
    """Every variable name a text refers to, in order."""
    return [m.group(1) or m.group(2) or m.group(4) for m in VARIABLE_REGEX.finditer(text)]


def without_matchers(expr: str, names: set[str]) -> str:
    """The same PromQL with every label matcher whose value names one of ``names`` removed:
    what the panel would show if those variables did not filter it."""

    def drop(match: re.Match[str]) -> str:
        return "" if set(references(match.group(3))) & names else match.group(0)

    text = _MATCHER.sub(drop, expr)
    text = re.sub(r"\{\s*(,\s*)+", "{", text)
    text = re.sub(r"(\s*,)+\s*\}", "}", text)
    return re.sub(r",(\s*,)+", ",", text)
