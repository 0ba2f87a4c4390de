"""Time ranges, step and display names for /api/ds/query (fact sheet §5)."""

from __future__ import annotations

import pytest

from grafana_standin.dsquery import BadRequest, display_name, parse_time_ms, step_ms
from shadow_mvs.evidence.grafana_rules.datasources import Datasource

NOW = 1_700_000_000_000
HOUR = 3_600_000


def datasource(**json_data: object) -> Datasource:
    return Datasource(
        id=1, uid="p", org_id=1, name="p", type="prometheus", access="proxy", url="",
        user="", database="", basic_auth=False, basic_auth_user="", with_credentials=False,
        is_default=False, json_data=dict(json_data), secure_json_data={}, editable=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("now-15m", NOW - 900_000),
        ("now-1h", NOW - HOUR),
        ("now-2d", NOW - 48 * HOUR),
        ("now-1h+30m", NOW - HOUR // 2),
        ("1690000000000", 1_690_000_000_000),
    ],
)
def test_parse_time(text: str, expected: int) -> None:
    assert parse_time_ms(text, NOW) == expected


@pytest.mark.parametrize("value", [1_700_000_000_000, "yesterday", None])
def test_parse_time_rejects(value: object) -> None:
    with pytest.raises(BadRequest):
        parse_time_ms(value, NOW)


@pytest.mark.parametrize(
    ("query", "json_data", "span", "expected"),
    [
        ({"intervalMs": 15000, "maxDataPoints": 100}, {}, HOUR, 30_000),  # 36 s rounds to 30 s
        ({"intervalMs": 60000, "maxDataPoints": 1000}, {}, HOUR, 60_000),  # min interval wins
        ({"maxDataPoints": 10_000}, {"timeInterval": "5s"}, HOUR, 5_000),  # datasource minimum
        ({"maxDataPoints": 10_000}, {}, HOUR, 15_000),  # default 15 s minimum
        ({"interval": "2m", "intervalMs": 1000}, {}, HOUR, 120_000),  # query interval first
        ({"intervalMs": 1000, "maxDataPoints": 100_000}, {}, 30 * 24 * HOUR, 300_000),  # safe res
    ],
)
def test_step(
    query: dict[str, object], json_data: dict[str, object], span: int, expected: int
) -> None:
    assert step_ms(query, datasource(**json_data), span) == expected


@pytest.mark.parametrize(
    ("labels", "legend", "expected"),
    [
        ({"__name__": "up", "job": "j", "instance": "i"}, "", 'up{instance="i", job="j"}'),
        ({"__name__": "up"}, "", "up"),
        ({}, "", "EXPR"),
        ({"job": "j"}, "{{job}}/{{ missing }}", "j/"),
        ({"job": "j"}, "__auto", ""),
        ({}, "{}", "EXPR"),
    ],
)
def test_display_name(labels: dict[str, str], legend: str, expected: str) -> None:
    assert display_name(labels, legend, "EXPR") == expected
