"""Grafana's provisioning value interpolation (fact sheet §6.4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shadow_mvs.evidence.grafana_rules.interpolation import (
    InterpolationError,
    interpolate,
    interpolate_values,
)

ENV = {"HOST": "prom", "PORT": "9090", "SECRET": "p$$w", "EMPTY": ""}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("http://$HOST:$PORT", "http://prom:9090"),
        ("http://${HOST}:${PORT}", "http://prom:9090"),
        ("http://$__env{HOST}:9090", "http://prom:9090"),
        ("[$UNSET]", "[]"),
        ("[${UNSET}]", "[]"),
        ("[${HOST:-fallback}]", "[]"),  # no shell defaults: the whole "HOST:-fallback" is a name
        ("Pa$$word", "Pa$word"),
        ("$$HOST", "$HOST"),
        ("costs 5$", "costs 5$"),  # "$" at the end stays
        ("a $ b", "a $ b"),  # "$" before a non-name character stays
        ("x${}y", "xy"),  # "${}" is swallowed
        ("plain", "plain"),
    ],
)
def test_interpolate_follows_grafana(raw: str, expected: str) -> None:
    assert interpolate(raw, ENV) == expected


def test_braced_form_reexpands_dollars_in_the_value_but_bare_form_does_not() -> None:
    # ExpandVar substitutes ${SECRET} first, then os.ExpandEnv sees "p$$w" and eats "$$";
    # the documented reason to prefer $SECRET for values that contain "$".
    assert interpolate("${SECRET}", ENV) == "pw"
    assert interpolate("$SECRET", ENV) == "p$$w"


def test_file_expander_reads_and_trims(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("  from-file\n")
    assert interpolate(f"$__file{{{secret}}}", ENV) == "from-file"


def test_file_expander_with_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InterpolationError):
        interpolate(f"$__file{{{tmp_path / 'absent'}}}", ENV)


def test_values_are_interpolated_but_keys_are_not() -> None:
    tree = {"$HOST": ["$PORT", {"url": "${HOST}"}], "n": 5, "b": True}
    assert interpolate_values(tree, ENV) == {"$HOST": ["9090", {"url": "prom"}], "n": 5, "b": True}


def test_process_environment_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STANDIN_TEST_VAR", "from-env")
    monkeypatch.delenv("STANDIN_TEST_UNSET", raising=False)
    assert interpolate("$STANDIN_TEST_VAR/$STANDIN_TEST_UNSET") == "from-env/"
