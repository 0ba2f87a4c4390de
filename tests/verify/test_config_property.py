"""A property over the whole configuration surface: whatever the flags, the SHADOW_MVS_*
variables, the secret variables and their ``_FILE`` files, and the environments file hold,
building the settings gives valid settings or the one-line usage error — never another
exception. The same for the ``shadow-mvs`` CLI's own argument parsing (exit 2).

Inputs are drawn near the valid ones (URLs from parts, known keys and choices) as well as
at random, so both the happy path and every refusal are exercised. No request is sent."""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from shadow_mvs import cli
from shadow_mvs.config.settings import OPTIONS, Settings, SettingsError

SECRET_VARS = [
    f"{endpoint}_{kind}{suffix}"
    for endpoint in ("GRAFANA", "PROMETHEUS")
    for kind in ("TOKEN", "AUTH", "HEADERS")
    for suffix in ("", "_FILE")
]
META_KEYS = ["description", "secrets", "secrets_file", "bring_up", "env"]
ENV_NAMES = ["a", "prod", "x y", ""]

# Environment variables hold no NUL and no lone surrogates.
env_text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"))
url_parts = st.tuples(
    st.sampled_from(["http", "https", "ftp", "", "HTTP"]),
    st.sampled_from(["", "u:p@", "user@", ":p@", "u%3A:p%40w@", "u:p w@"]),
    st.sampled_from(["127.0.0.1", "[::1]", "[::1", "host.example", "", "h st", "ünï.example"]),
    st.sampled_from(["", ":9092", ":0", ":65536", ":port", ":-1", ":"]),
    st.sampled_from(["", "/", "/grafana", "/?q=1", "#f", "/a b", "/\n"]),
)
urls = url_parts.map(lambda p: f"{p[0]}://{p[1]}{p[2]}{p[3]}{p[4]}" if p[0] else "".join(p[1:]))
values = st.one_of(env_text, urls, st.sampled_from(["compose", "external", "true", "2", "0"]))


def option_value(option: Any) -> st.SearchStrategy[Any]:
    if option.is_switch:
        return st.sampled_from([None, True])
    choices = st.sampled_from(list(option.choices)) if option.choices else urls
    return st.one_of(st.none(), choices, env_text)


flags = st.fixed_dictionaries({opt.dest: option_value(opt) for opt in OPTIONS})
variables = st.dictionaries(
    st.sampled_from([opt.env for opt in OPTIONS] + SECRET_VARS), values, max_size=3
)
toml_scalar = st.one_of(
    env_text, urls, st.booleans(), st.integers(-5, 70000), st.sampled_from(["X_TOKEN", "k8s"])
)
toml_value = st.recursive(
    toml_scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(["grafana", "prometheus", "exporter", "token", "basic", "headers"])
            | env_text,
            inner,
            max_size=3,
        ),
    ),
    max_leaves=8,
)
entry = st.dictionaries(
    st.sampled_from([opt.dest for opt in OPTIONS] + META_KEYS) | env_text, toml_value, max_size=5
)
environments = st.one_of(
    st.none(),
    st.binary(max_size=64),
    st.dictionaries(st.sampled_from(ENV_NAMES), st.one_of(entry, toml_scalar), max_size=3),
)
secret_files = st.dictionaries(
    st.sampled_from(SECRET_VARS[1::2]), st.binary(max_size=48), max_size=2
)


def toml(value: Any) -> str:
    """A TOML spelling of generated data (JSON strings are TOML basic strings, nearly:
    where not, tomllib refuses the file, which is one more bad input)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml(v)}" for k, v in value.items()) + "}"


def write_inputs(
    root: Path, env: dict[str, str], document: Any, files: dict[str, bytes]
) -> dict[str, str]:
    env = {**env, "SHADOW_MVS_ENV_FILE": str(root / "absent.env")}
    if document is not None:
        path = root / "environments.toml"
        if isinstance(document, bytes):
            path.write_bytes(document)
        else:
            path.write_text("\n".join(f"{json.dumps(k)} = {toml(v)}" for k, v in document.items()))
        env["SHADOW_MVS_ENVIRONMENTS_FILE"] = str(path)
    for index, (variable, content) in enumerate(files.items()):
        secret = root / f"secret-{index}"
        secret.write_bytes(content)
        env[variable] = str(secret)
    return env


def assert_valid(built: Settings) -> None:
    for url in (*built.urls.values(), built.datasource_url):
        parts = urlsplit(url)
        assert parts.scheme in ("http", "https"), url
        assert parts.hostname, url
        assert "@" not in parts.netloc, url  # credentials never stay in a URL
        assert not any(c.isspace() for c in url), url
    for endpoint in built.access.endpoints:
        for name, value in endpoint.request_headers().items():
            assert not {"\n", "\r"} & set(value), name


def outcome(values: dict[str, Any], env: dict[str, str], verifying: bool) -> str:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SHADOW_MVS_", "GRAFANA_", "PROMETHEUS_", "GF_"))
    }
    with mock.patch.dict(os.environ, {**clean, **env}, clear=True):
        try:
            built = Settings.from_values(values, verifying=verifying)
        except SettingsError as error:
            message = str(error)
            assert message, "an empty usage error"
            assert message.isprintable(), repr(message)  # one line, no control characters
            return "refused"
    assert_valid(built)
    return "valid"


# database=None: no .hypothesis/ directory in the checkout.
PROPERTY = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@PROPERTY
@given(flags, variables, environments, secret_files, st.sampled_from(ENV_NAMES), st.booleans())
def test_any_configuration_is_valid_settings_or_one_usage_line(
    values, env, document, files, env_name, verifying
):
    with tempfile.TemporaryDirectory() as tmp:
        if document is not None and env_name:
            values = {**values, "env": env_name}
        event(outcome(values, write_inputs(Path(tmp), env, document, files), verifying))


@PROPERTY
@given(st.lists(st.one_of(env_text, urls.map(lambda u: f"--prometheus-url={u}")), max_size=4))
def test_any_cli_arguments_are_parsed_or_refused_with_exit_2(argv):
    parser = cli.build_parser()
    code = None
    with contextlib.redirect_stderr(io.StringIO()) as err:
        try:
            args = parser.parse_args(["verify", *argv])
        except SystemExit as ended:
            code = ended.code
    if code is not None:
        assert code == cli.EXIT_USAGE
        assert err.getvalue().count("\n") == 1, err.getvalue()
        event("parser refused")
        return
    with tempfile.TemporaryDirectory() as tmp:
        env = {"SHADOW_MVS_ENV_FILE": str(Path(tmp) / "absent.env")}
        event(outcome({**vars(args), "env": None}, env, verifying=True))
