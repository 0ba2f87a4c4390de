"""The verify run's settings: command-line option, else environment variable, else default.

The pytest plugin (``shadow_mvs.plugin``) registers the options from ``OPTIONS``; the
``shadow-mvs`` CLI passes the same flags through to pytest, so every switch has one name
everywhere.
"""

from __future__ import annotations

import math
import os
import platform
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest

from shadow_mvs.config.access import ENDPOINTS, TLS, Access, AccessError, resolve_endpoint
from shadow_mvs.config.env_file import env_file_path, grafana_credentials
from shadow_mvs.config.environments import Environment, EnvironmentError_, load_environment
from shadow_mvs.core.contract import load_contract

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class Option:
    flag: str
    env: str
    help: str
    choices: tuple[str, ...] = ()
    is_switch: bool = False

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")


OPTIONS: tuple[Option, ...] = (
    Option(
        "--stack",
        "SHADOW_MVS_STACK",
        "compose: start/stop the stack; external: never touch it",
        choices=("compose", "external"),
    ),
    Option(
        "--offline", "SHADOW_MVS_OFFLINE", "local Debian images + Grafana stand-in", is_switch=True
    ),
    Option(
        "--keep-stack",
        "SHADOW_MVS_KEEP_STACK",
        "leave a compose stack up after the run",
        is_switch=True,
    ),
    Option(
        "--host-network",
        "SHADOW_MVS_HOST_NETWORK",
        "auto (Linux: on), on or off: host networking override",
        choices=("auto", "on", "off"),
    ),
    Option(
        "--mode",
        "SHADOW_MVS_VERIFY_MODE",
        "pipeline mode the checks expect",
        choices=tuple(load_contract().stack["modes"]),
    ),
    Option(
        "--slo-gate",
        "SHADOW_MVS_SLO_GATE",
        "pre-live gate: an SLO breach fails the slo check (default: a WARN line)",
        is_switch=True,
    ),
    Option("--exporter-url", "SHADOW_MVS_EXPORTER_URL", "exporter base URL"),
    Option("--prometheus-url", "SHADOW_MVS_PROMETHEUS_URL", "Prometheus base URL"),
    Option("--grafana-url", "SHADOW_MVS_GRAFANA_URL", "Grafana base URL"),
    Option("--alertmanager-url", "SHADOW_MVS_ALERTMANAGER_URL", "Alertmanager base URL"),
    Option(
        "--budget-scale",
        "SHADOW_MVS_BUDGET_SCALE",
        "multiply every check's retry budget (slow machines), e.g. 2",
    ),
)
URL_DESTS = ("exporter_url", "prometheus_url", "grafana_url", "alertmanager_url")
# TLS per endpoint (file paths, never secrets: credentials come from variables only, see
# shadow_mvs/config/access.py). --X-insecure turns verification off and is reported as a WARN line.
TLS_OPTIONS = tuple(
    option
    for endpoint in ENDPOINTS
    for option in (
        Option(f"--{endpoint}-ca-file", f"SHADOW_MVS_{endpoint.upper()}_CA_FILE", "CA bundle"),
        Option(
            f"--{endpoint}-cert-file",
            f"SHADOW_MVS_{endpoint.upper()}_CERT_FILE",
            "client certificate (PEM)",
        ),
        Option(
            f"--{endpoint}-key-file", f"SHADOW_MVS_{endpoint.upper()}_KEY_FILE", "client key (PEM)"
        ),
        Option(
            f"--{endpoint}-insecure",
            f"SHADOW_MVS_{endpoint.upper()}_INSECURE",
            "skip certificate verification (prints WARN)",
            is_switch=True,
        ),
    )
)
OPTIONS += TLS_OPTIONS
# Where the suite really runs (environments.toml, remote-write backends).
ENVIRONMENT_OPTIONS = (
    Option(
        "--env",
        "SHADOW_MVS_ENV",
        "named environment from the file SHADOW_MVS_ENVIRONMENTS_FILE names, "
        "else ./environments.toml",
    ),
    Option(
        "--topology",
        "SHADOW_MVS_TOPOLOGY",
        "scrape: the queried Prometheus scrapes the exporter; remote-write: an agent "
        "remote-writes to it (no targets API); auto: decide from /api/v1/targets",
        choices=("scrape", "remote-write", "auto"),
    ),
    Option(
        "--scrape-target",
        "SHADOW_MVS_SCRAPE_TARGET",
        "instance label the job scrapes (default: the contract's)",
    ),
    Option(
        "--datasource-url",
        "SHADOW_MVS_DATASOURCE_URL",
        "URL Grafana's default datasource must point at (default: the contract's)",
    ),
    Option(
        "--alertmanager-target",
        "SHADOW_MVS_ALERTMANAGER_TARGET",
        "host:port Prometheus must send its alerts to (default: the contract's)",
    ),
)
OPTIONS += ENVIRONMENT_OPTIONS


class SettingsError(Exception):
    """A bad option or environment value (exit code 2)."""


def host_network_default() -> bool:
    """Linux has no built-in host.docker.internal: use host networking there."""
    return platform.system() == "Linux"


def register_options(add: Callable[..., Any], only: Sequence[str] = ()) -> None:
    """Declare the options through ``add`` — pytest's ``addoption`` or argparse's
    ``add_argument`` take the same arguments, so pytest and the CLI share one definition."""
    for opt in OPTIONS:
        if only and opt.flag not in only:
            continue
        help_text = f"{opt.help} (env {opt.env})"
        if opt.is_switch:
            add(opt.flag, action="store_true", default=None, help=help_text)
        else:
            add(opt.flag, default=None, help=help_text, choices=list(opt.choices) or None)


def add_options(parser: pytest.Parser) -> None:
    register_options(parser.getgroup("shadow-mvs", "Shadow-MVS verify").addoption)


def _resolve(opt: Option, value: Any, environment: Environment | None = None) -> Any:
    if value is not None:
        return value
    raw = os.environ.get(opt.env)
    if raw is None:
        return _from_environment(opt, environment)
    if opt.is_switch:
        word = raw.strip().lower()
        if word not in TRUE_WORDS | FALSE_WORDS:
            raise SettingsError(f"{opt.env}={raw!r}: expected true or false")
        return word in TRUE_WORDS
    if opt.choices and raw not in opt.choices:
        raise SettingsError(f"{opt.env}={raw!r}: expected one of {', '.join(opt.choices)}")
    return raw


def checked_url(dest: str, value: str) -> str:
    """A base URL with scheme and host, else a usage error naming the option."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        flag = "--" + dest.replace("_", "-")
        raise SettingsError(
            f"{flag}={value!r} is not a URL: expected http(s)://host[:port], "
            "e.g. http://127.0.0.1:9092"
        )
    try:
        parts.port  # noqa: B018 — raises ValueError on a port that is not a number
    except ValueError:
        raise SettingsError(f"--{dest.replace('_', '-')}={value!r}: bad port") from None
    return value.rstrip("/")


def checked_scale(value: Any) -> float:
    try:
        scale = float(value)
    except (TypeError, ValueError):
        scale = math.nan
    if not math.isfinite(scale) or scale <= 0:
        raise SettingsError(f"--budget-scale={value!r}: expected a number above 0, e.g. 2")
    return scale


@dataclass(frozen=True)
class Settings:
    """Plain values only; the stack room builds the compose project from them
    (``shadow_mvs.stack.compose.compose_project``)."""

    stack: str
    offline: bool
    keep_stack: bool
    host_network: bool
    mode: str
    slo_gate: bool
    exporter_url: str
    prometheus_url: str
    grafana_url: str
    access: Access
    alertmanager_url: str = ""
    alertmanager_target: str = ""
    topology: str = "scrape"
    scrape_target: str = ""
    datasource_url: str = ""
    env_name: str | None = None
    bring_up: str | None = None  # the environment's own compose file set (prod-shaped)
    budget_scale: float = 1.0

    @property
    def urls(self) -> dict[str, str]:
        return {dest: getattr(self, dest) for dest in URL_DESTS}

    @property
    def stack_label(self) -> str:
        if self.stack == "external":
            return "external"
        return f"compose-{'offline' if self.offline else 'online'}"

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> Settings:
        env_option = next(opt for opt in OPTIONS if opt.dest == "env")
        environment = _environment(_resolve(env_option, values.get("env")))
        resolved = {opt.dest: _resolve(opt, values.get(opt.dest), environment) for opt in OPTIONS}
        secret_env = environment.secret_source() if environment else None
        contract = load_contract()
        endpoints = contract.endpoints
        host_network = resolved["host_network"] or "auto"
        urls = {
            name: checked_url(f"{name}_url", resolved[f"{name}_url"] or endpoints[f"{name}_url"])
            for name in ENDPOINTS
        }
        try:
            access = Access(
                tuple(
                    resolve_endpoint(
                        name,
                        urls[name],
                        _tls(resolved, name),
                        names=environment.names_for(name) if environment else None,
                        env=secret_env,
                        fallback_basic=(
                            (lambda: grafana_credentials(env_file_path()))
                            if name == "grafana"
                            else None
                        ),
                    )
                    for name in ENDPOINTS
                )
            )
        except AccessError as error:
            raise SettingsError(str(error)) from None
        return cls(
            stack=resolved["stack"] or "compose",
            offline=bool(resolved["offline"]),
            keep_stack=bool(resolved["keep_stack"]),
            host_network=host_network_default() if host_network == "auto" else host_network == "on",
            mode=resolved["mode"] or contract.stack["default_mode"],
            slo_gate=bool(resolved["slo_gate"]),
            exporter_url=urls["exporter"],
            prometheus_url=urls["prometheus"],
            grafana_url=urls["grafana"],
            alertmanager_url=urls["alertmanager"],
            alertmanager_target=(
                resolved["alertmanager_target"] or contract.alerting["prometheus_target"]
            ),
            access=access,
            topology=resolved["topology"] or "scrape",
            scrape_target=resolved["scrape_target"] or contract.prometheus["target"],
            datasource_url=(resolved["datasource_url"] or contract.datasource["url"]).rstrip("/"),
            env_name=environment.name if environment else None,
            bring_up=environment.bring_up if environment else None,
            budget_scale=checked_scale(resolved["budget_scale"] or 1.0),
        )

    @classmethod
    def from_pytest(cls, config: pytest.Config) -> Settings:
        return cls.from_values({opt.dest: config.getoption(opt.dest) for opt in OPTIONS})


def _tls(resolved: dict[str, Any], endpoint: str) -> TLS:
    return TLS(
        ca_file=resolved[f"{endpoint}_ca_file"],
        cert_file=resolved[f"{endpoint}_cert_file"],
        key_file=resolved[f"{endpoint}_key_file"],
        insecure=bool(resolved[f"{endpoint}_insecure"]),
    )


def _environment(name: str | None) -> Environment | None:
    if not name:
        return None
    try:
        return load_environment(name, {opt.dest for opt in OPTIONS})
    except EnvironmentError_ as error:
        raise SettingsError(str(error)) from None


def _from_environment(opt: Option, environment: Environment | None) -> Any:
    """An environment's value for an option, checked like the option's own values."""
    if environment is None or opt.dest not in environment.values:
        return None
    value = environment.values[opt.dest]
    where = f"environment {environment.name!r}: {opt.dest}"
    if opt.is_switch and not isinstance(value, bool):
        raise SettingsError(f"{where}={value!r}: expected true or false")
    if not opt.is_switch and not isinstance(value, str):
        raise SettingsError(f"{where}={value!r}: expected a string")
    if opt.choices and value not in opt.choices:
        raise SettingsError(f"{where}={value!r}: expected one of {', '.join(opt.choices)}")
    return value
