"""``POST /api/ds/query`` for Prometheus: time range, step, macros, and data frames."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shadow_mvs.evidence.grafana_rules.datasources import Datasource
from shadow_mvs.evidence.grafana_rules.macros import backend_interpolate

from .prometheus import PrometheusClient, PrometheusError

_RELATIVE = re.compile(r"^now(?:([+-])(\d+)(ms|s|m|h|d|w|M|y))*$")
_RELATIVE_PART = re.compile(r"([+-])(\d+)(ms|s|m|h|d|w|M|y)")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)$")
_UNIT_MS = {
    "ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000,
    "M": 2_592_000_000, "y": 31_536_000_000,
}  # fmt: skip
_LEGEND = re.compile(r"\{\{\s*(.+?)\s*\}\}")
DEFAULT_MIN_INTERVAL_MS = 15_000
SAFE_RESOLUTION = 11_000
# promlib's roundInterval: (upper bound in ms, rounded step in ms)
_ROUNDING = [
    (10, 1), (15, 10), (35, 20), (75, 50), (150, 100), (350, 200), (750, 500),
    (1_500, 1_000), (3_500, 2_000), (7_500, 5_000), (12_500, 10_000), (17_500, 15_000),
    (25_000, 20_000), (45_000, 30_000), (90_000, 60_000), (210_000, 120_000),
    (450_000, 300_000), (750_000, 600_000), (1_050_000, 900_000), (1_500_000, 1_200_000),
    (2_700_000, 1_800_000), (5_400_000, 3_600_000), (9_000_000, 7_200_000),
    (16_200_000, 10_800_000), (24_300_000, 21_600_000), (32_400_000, 28_800_000),
    (86_400_000, 43_200_000), (604_800_000, 86_400_000), (1_814_400_000, 604_800_000),
    (3_628_800_000, 2_592_000_000),
]  # fmt: skip


class BadRequest(Exception):
    """The whole request is refused with 400 and ``{"message": str(exc)}``."""


def parse_time_ms(value: Any, now_ms: int) -> int:
    """Grafana time strings: epoch milliseconds or ``now``/``now-15m`` style."""
    if not isinstance(value, str):
        raise BadRequest("bad request data")
    if value.isdigit():
        return int(value)
    if _RELATIVE.match(value):
        offset = sum(
            (1 if sign == "+" else -1) * int(amount) * _UNIT_MS[unit]
            for sign, amount, unit in _RELATIVE_PART.findall(value)
        )
        return now_ms + offset
    raise BadRequest(f"failed to parse time {value!r}")


def duration_ms(text: str) -> int | None:
    match = _DURATION.match(text.strip())
    return round(float(match.group(1)) * _UNIT_MS[match.group(2)]) if match else None


def format_duration(ms: int) -> str:
    for unit in ("y", "w", "d", "h", "m", "s"):
        if ms >= _UNIT_MS[unit] and ms % _UNIT_MS[unit] == 0:
            return f"{ms // _UNIT_MS[unit]}{unit}"
    return f"{ms}ms"


def _round_interval(ms: float) -> int:
    for bound, rounded in _ROUNDING:
        if ms <= bound:
            return rounded
    return _UNIT_MS["y"]


def step_ms(query: dict[str, Any], datasource: Datasource, span_ms: int) -> int:
    """Approximately promlib's ``calculatePrometheusInterval``."""
    interval = str(query.get("interval") or "")
    if interval.startswith("$"):
        interval = ""
    scrape = duration_ms(str(datasource.json_data.get("timeInterval") or ""))
    if interval:
        minimum = duration_ms(interval) or DEFAULT_MIN_INTERVAL_MS
    elif query.get("intervalMs"):
        minimum = int(query["intervalMs"])
    else:
        minimum = scrape or DEFAULT_MIN_INTERVAL_MS
    max_points = int(query.get("maxDataPoints") or 100)
    calculated = span_ms / max_points
    calculated_ms = minimum if calculated < minimum else _round_interval(calculated)
    safe_ms = _round_interval(span_ms / SAFE_RESOLUTION)
    return max(calculated_ms, safe_ms, 1)


def display_name(labels: dict[str, str], legend_format: str, expr: str) -> str:
    """promlib ``getName``: legendFormat rendered, else ``name{a="b", …}``."""
    if legend_format == "__auto":
        legend = "" if labels else _metric_name(labels)
    elif legend_format:
        legend = _LEGEND.sub(lambda m: labels.get(m.group(1), ""), legend_format)
    else:
        legend = _metric_name(labels)
    return expr if legend == "{}" else legend


def _metric_name(labels: dict[str, str]) -> str:
    name = labels.get("__name__", "")
    pairs = sorted(f'{k}="{v}"' for k, v in labels.items() if k != "__name__")
    if not pairs:
        return name or "{}"
    return f"{name}{{{', '.join(pairs)}}}"


def _number(text: str) -> tuple[float | None, str | None]:
    value = float(text)
    if math.isnan(value):
        return None, "NaN"
    if math.isinf(value):
        return None, "Inf" if value > 0 else "NegInf"
    return value, None


@dataclass(frozen=True)
class _Series:
    labels: dict[str, str]
    points: list[tuple[int, str]]  # (epoch ms, Prometheus sample text)


def _frame(
    series: _Series, ref_id: str, meta: dict[str, Any], legend: str, expr: str, step: int | None
) -> dict[str, Any]:
    values: list[float | None] = []
    entities: dict[str, list[int]] = {}
    for index, (_, text) in enumerate(series.points):
        value, special = _number(text)
        values.append(value)
        if special:
            entities.setdefault(special, []).append(index)
    value_field: dict[str, Any] = {
        "name": series.labels.get("__name__", "Value"),
        "type": "number",
        "typeInfo": {"frame": "float64", "nullable": True} if entities else {"frame": "float64"},
    }
    if series.labels:
        value_field["labels"] = series.labels
    name = display_name(series.labels, legend, expr)
    if name:
        value_field["config"] = {"displayNameFromDS": name}
    time_field: dict[str, Any] = {
        "name": "Time",
        "type": "time",
        "typeInfo": {"frame": "time.Time"},
    }
    time_field["config"] = {"interval": step} if step else {}
    data: dict[str, Any] = {"values": [[t for t, _ in series.points], values]}
    if entities:
        data["entities"] = [None, entities]
    return {
        "schema": {"refId": ref_id, "meta": meta, "fields": [time_field, value_field]},
        "data": data,
    }


def _series(result_type: str, result: Any) -> list[_Series]:
    if result_type == "matrix":
        return [
            _Series(r["metric"], [(round(float(t) * 1000), v) for t, v in r["values"]])
            for r in result
        ]
    if result_type == "vector":
        return [
            _Series(r["metric"], [(round(float(r["value"][0]) * 1000), r["value"][1])])
            for r in result
        ]
    if result_type == "scalar":
        return [_Series({}, [(round(float(result[0]) * 1000), result[1])])]
    return []


def _frames(
    client: PrometheusClient,
    query: dict[str, Any],
    ref_id: str,
    expr: str,
    window: tuple[int, int, int],
    instant: bool,
) -> list[dict[str, Any]]:
    start, end, step = window
    step_text = format_duration(step)
    if instant:
        data = client.call("/api/v1/query", {"query": expr, "time": f"{end / 1000:.3f}"})
        kind = "numeric-multi"
    else:
        params = {
            "query": expr,
            "start": f"{start / 1000:.3f}",
            "end": f"{end / 1000:.3f}",
            "step": f"{step / 1000:.3f}",
        }
        data = client.call("/api/v1/query_range", params)
        kind = "timeseries-multi"
    result_type = str(data.get("resultType", ""))
    meta: dict[str, Any] = {
        "type": kind,
        "typeVersion": [0, 1],
        "custom": {"resultType": result_type},
        "executedQueryString": f"Expr: {expr}\nStep: {step_text}",
    }
    # executedQueryString rides on the first frame only.
    plain_meta = {k: v for k, v in meta.items() if k != "executedQueryString"}
    legend = str(query.get("legendFormat") or "")
    frames = [
        _frame(s, ref_id, plain_meta if i else meta, legend, expr, None if instant else step)
        for i, s in enumerate(_series(result_type, data.get("result")))
    ]
    if not frames:
        frames = [{"schema": {"refId": ref_id, "meta": meta, "fields": []}, "data": {"values": []}}]
    return frames


def run_query(
    query: dict[str, Any],
    datasource: Datasource,
    from_ms: int,
    to_ms: int,
    client: PrometheusClient,
) -> dict[str, Any]:
    """One query's ``DataResponse``: frames, or a downstream error."""
    ref_id = str(query.get("refId") or "A")
    span = max(to_ms - from_ms, 0)
    step = step_ms(query, datasource, span)
    # promlib: the rate interval adds the request's intervalMs (backend default 1000) to the
    # query's min step, else the datasource's timeInterval (macros.py cites the source).
    min_step = str(query.get("interval") or "")
    if min_step.startswith("$") or not min_step:
        min_step = str(datasource.json_data.get("timeInterval") or "")
    request_interval = int(query.get("intervalMs") or 1000)
    expr = backend_interpolate(str(query.get("expr") or ""), request_interval, step, span, min_step)
    if not expr:
        return {"error": "query expression is empty", "errorSource": "downstream", "status": 400}
    window = (from_ms - from_ms % step, to_ms - to_ms % step, step)
    instant = bool(query.get("instant"))
    wants_range = bool(query.get("range")) or not instant
    frames: list[dict[str, Any]] = []
    try:
        if wants_range:
            frames += _frames(client, query, ref_id, expr, window, instant=False)
        if instant:
            frames += _frames(client, query, ref_id, expr, (from_ms, to_ms, step), instant=True)
    except PrometheusError as exc:
        return {"error": str(exc), "errorSource": "downstream", "status": 400}
    return {"status": 200, "frames": frames}


def now_ms(clock: Callable[[], float] = time.time) -> int:
    return int(clock() * 1000)
