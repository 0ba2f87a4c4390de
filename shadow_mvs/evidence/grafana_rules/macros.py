"""The built-in interval and range variables Grafana's Prometheus backend fills in.

Shared by the stand-in's ``/api/ds/query`` and the panels check (which prints the
expression as Prometheus receives it). Source: ``pkg/promlib/models/query.go``
(``interpolateVariables``, ``calculateRateInterval``), ``gtime.FormatInterval`` of the
plugin SDK, and Go's ``time.Duration.String`` for ``$__rate_interval``.
"""

from __future__ import annotations

_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_YEAR_MS = 31_536_000_000
DEFAULT_SCRAPE = "15s"  # calculateRateInterval: scrape = "15s" when none is configured


def interval_ms(text: str) -> int | None:
    """``gtime.ParseIntervalStringToTimeDuration`` for the forms dashboards use: 5s, 1m,
    250ms, 1.5h (a bare number is seconds). None when it is not an interval."""
    text = text.strip()
    for unit in ("ms", "s", "m", "h", "d", "w", "y"):
        number = text.removesuffix(unit)
        if number != text:
            try:
                return round(float(number) * (_YEAR_MS if unit == "y" else _MS[unit]))
            except ValueError:
                return None
    try:
        return round(float(text) * 1000)
    except ValueError:
        return None


def format_interval(ms: int) -> str:
    """``gtime.FormatInterval``: the largest whole unit, truncated (90s → ``1m``)."""
    for size, unit in ((_YEAR_MS, "y"), (86_400_000, "d"), (3_600_000, "h"), (60_000, "m")):
        if ms >= size:
            return f"{ms // size}{unit}"
    if ms >= 1000:
        return f"{ms // 1000}s"
    return f"{ms}ms" if ms >= 1 else "1ms"


def go_duration(ms: int) -> str:
    """Go's ``time.Duration.String`` for whole milliseconds: 20s, 1m0s, 1h30m0s, 500ms."""
    if ms == 0:
        return "0s"
    if ms < 1000:
        return f"{ms}ms"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds = f"{rest // 1000}" if rest % 1000 == 0 else f"{rest / 1000:g}"
    if hours:
        return f"{hours}h{minutes}m{seconds}s"
    if minutes:
        return f"{minutes}m{seconds}s"
    return f"{seconds}s"


def rate_interval_ms(query_interval_ms: int, min_step: str) -> int:
    """``calculateRateInterval``: max($__interval + scrape interval, 4 * scrape interval),
    where $__interval is the request's ``intervalMs`` and the scrape interval the query's
    min step, else the datasource's ``timeInterval``, else 15s."""
    scrape = interval_ms(min_step or DEFAULT_SCRAPE) or 0
    return max(query_interval_ms + scrape, 4 * scrape)


def backend_interpolate(
    expr: str, query_interval_ms: int, step_ms: int, range_ms: int, min_step: str
) -> str:
    """``interpolateVariables``: $__interval(_ms) is the final step, $__range(_s/_ms) the
    request's span (seconds rounded), $__rate_interval(_ms) as ``rate_interval_ms``;
    ``${…}`` forms alike. ``min_step`` is the query's ``interval``, else the datasource's
    ``timeInterval``."""
    rate = rate_interval_ms(query_interval_ms, min_step)
    range_s = round(range_ms / 1000)
    values = [
        ("__interval_ms", str(step_ms)),
        ("__interval", format_interval(step_ms)),
        ("__range_ms", str(range_ms)),
        ("__range_s", str(range_s)),
        ("__range", f"{range_s}s"),
        ("__rate_interval_ms", str(rate)),
        ("__rate_interval", go_duration(rate)),
    ]
    # Same order as Go: the longer names first, so $__interval does not eat $__interval_ms.
    for name, value in values:
        expr = expr.replace(f"${name}", value)
    for name, value in values:
        expr = expr.replace(f"${{{name}}}", value)
    return expr
