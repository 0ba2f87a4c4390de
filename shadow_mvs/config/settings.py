"""The verify run's settings: command-line option, else environment variable, else default.

The pytest plugin (``shadow_mvs.plugin``) registers the options from ``OPTIONS``; the
``shadow-mvs`` CLI passes the same flags through to pytest, so every switch has one name
everywhere.
"""

from __future__ import annotations

import math
import os
import platform
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit, urlunsplit

from shadow_mvs.config.access import ENDPOINTS, TLS, Access, AccessError, resolve_endpoint
from shadow_mvs.config.env_file import env_file_path, grafana_credentials
from shadow_mvs.config.environments import Environment, EnvironmentError_, load_environment
from shadow_mvs.config.redaction import Credential, Redactor
from shadow_mvs.config.tls_files import check_tls_files
from shadow_mvs.core.contract import load_contract

if TYPE_CHECKING:  # annotations only: the CLI validates settings without importing pytest
    import pytest

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
# How the verdict leaves the run (shadow_mvs/report/formats.py): text is the operator's
# lines; every other format is for machines and is the only thing on stdout (pytest's own
# terminal output goes to stderr). Modelled on goss's --format.
FORMATS = ("text", "json", "junit", "tap", "nagios", "prometheus")
OUTPUT_OPTIONS = (
    Option(
        "--format",
        "SHADOW_MVS_FORMAT",
        "the verdict on stdout: text (default), json (verify.json), junit, tap (TAP 13), "
        "nagios (one status line + perfdata, exit 0/1/2/3), prometheus (exposition)",
        choices=FORMATS,
    ),
    Option(
        "--metrics-file",
        "SHADOW_MVS_METRICS_FILE",
        "also write the verdict as Prometheus gauges to this file, atomically "
        "(node_exporter textfile collector)",
    ),
)
OPTIONS += OUTPUT_OPTIONS


class SettingsError(Exception):
    """A bad option or environment value (exit code 2): always one printable line, whatever
    the input held (a line break in a name shows as ``\\n``)."""

    def __init__(self, message: str):
        super().__init__("".join(c if c.isprintable() else repr(c)[1:-1] for c in message))


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
        if opt.choices:
            help_text = f"{{{','.join(opt.choices)}}}: {help_text}"
        if opt.is_switch:
            add(opt.flag, action="store_true", default=None, help=help_text)
        else:
            # No argparse `choices`: Settings checks every value, from a flag, a variable or
            # environments.toml alike, as one line and exit 2 (pytest's own parser would
            # print its usage and exit 4).
            add(opt.flag, default=None, help=help_text)


def add_options(parser: pytest.Parser) -> None:
    register_options(parser.getgroup("shadow-mvs", "Shadow-MVS verify").addoption)


# A value and where it came from: "--stack", "SHADOW_MVS_STACK", "environments.toml [x] stack".
Sourced = tuple[Any, str]
USERINFO = re.compile(r"(?<=://)[^/?#@]*@")
# Whitespace or a control character anywhere in a value that becomes part of a request.
NOT_IN_URL = re.compile(r"[\s\x00-\x1f\x7f]")


def shown(value: Any) -> str:
    """A value for a message: quoted, one line, credentials in a URL as ``***@``."""
    return repr(USERINFO.sub("***@", value) if isinstance(value, str) else value)


def _resolve(opt: Option, value: Any, environment: Environment | None = None) -> Sourced:
    if value is not None:
        return _checked_choice(opt, value, opt.flag)
    raw = os.environ.get(opt.env)
    if raw is None:
        return _from_environment(opt, environment)
    if opt.is_switch:
        word = raw.strip().lower()
        if word not in TRUE_WORDS | FALSE_WORDS:
            raise SettingsError(f"{opt.env}={shown(raw)}: expected true or false")
        return word in TRUE_WORDS, opt.env
    if raw == "":  # set but empty: a mistake, never a silent fallback to the default
        raise SettingsError(f"{opt.env} is set but empty: give a value or unset it")
    return _checked_choice(opt, raw, opt.env)


def requested_format(value: str | None) -> str:
    """The output format asked for by option or variable, before the settings are checked
    (a usage error is told in the format's own way, e.g. nagios's UNKNOWN); "text" if bad."""
    chosen = value or os.environ.get("SHADOW_MVS_FORMAT") or "text"
    return chosen if chosen in FORMATS else "text"


def _checked_choice(opt: Option, value: Any, source: str) -> Sourced:
    if opt.choices and value not in opt.choices:
        raise SettingsError(f"{source}={shown(value)}: expected one of {', '.join(opt.choices)}")
    return value, source


def checked_url(
    source: str, value: str, default: str = "http://127.0.0.1:9092"
) -> tuple[str, Credential | None]:
    """A base URL (scheme, host, optional port and path), else a usage error naming its
    source and, as the example, that endpoint's own ``default`` (the exporter's port for
    --exporter-url). ``user:password@`` in it is returned apart: the endpoint's basic auth,
    never sent or shown as part of the URL."""
    example = f"expected http(s)://host[:port][/path], e.g. {default}"
    if not isinstance(value, str) or not value:
        raise SettingsError(f"{source} is empty: {example}")
    if NOT_IN_URL.search(value):
        raise SettingsError(
            f"{source}={shown(value)}: holds whitespace or a control character: {example}"
        )
    try:
        parts = urlsplit(value)
        port = parts.port
        host = parts.hostname
    except ValueError as error:  # "Invalid IPv6 URL", "Port out of range 0-65535", …
        raise SettingsError(f"{source}={shown(value)}: not a URL ({error}): {example}") from None
    if parts.scheme not in ("http", "https") or not host:
        raise SettingsError(f"{source}={shown(value)}: not a URL: {example}")
    if port == 0:
        raise SettingsError(f"{source}={shown(value)}: port 0 is not a port: {example}")
    if parts.query or parts.fragment or value.rstrip("/").endswith(("?", "#")):
        raise SettingsError(
            f"{source}={shown(value)}: a base URL takes no query or fragment: {example}"
        )
    credential = None
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, netloc = netloc.rpartition("@")
        user, sep, password = userinfo.partition(":")
        if not sep or not user or not password:
            raise SettingsError(
                f"{source}={shown(value)}: credentials in a URL must be user:password@"
            )
        credential = Credential(unquote(user), unquote(password))
    clean = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    return clean.rstrip("/"), credential


def checked_scale(value: Any, source: str = "--budget-scale") -> float:
    try:
        scale = float(value)
    except (TypeError, ValueError):
        scale = math.nan
    if not math.isfinite(scale) or scale <= 0:
        raise SettingsError(f"{source}={shown(value)}: expected a number above 0, e.g. 2")
    return scale


def checked_metrics_file(value: str | None) -> str | None:
    """The file is replaced at the end of the run: its directory must exist by then, so
    say so now rather than after the checks."""
    if not value:
        return None
    if not os.path.isdir(os.path.dirname(os.path.abspath(value))):
        raise SettingsError(f"--metrics-file={value!r}: directory does not exist")
    return value


def checked_target(value: str, source: str) -> str:
    """The instance label the job scrapes: host:port, nothing that cannot be a label."""
    if not isinstance(value, str) or not value or NOT_IN_URL.search(value) or "/" in value:
        raise SettingsError(f"{source}={shown(value)}: expected host:port, e.g. host:9109")
    return value


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
    output_format: str = "text"
    metrics_file: str | None = None

    @property
    def urls(self) -> dict[str, str]:
        return {dest: getattr(self, dest) for dest in URL_DESTS}

    @property
    def stack_label(self) -> str:
        if self.stack == "external":
            return "external"
        return f"compose-{'offline' if self.offline else 'online'}"

    @classmethod
    def from_values(cls, values: dict[str, Any], verifying: bool = False) -> Settings:
        """``verifying``: the files a verify run reads must be at hand and sound — TLS files
        (read and parsed now) and an environment's secrets (its ``secrets_file`` or the
        variables themselves). ``up`` writes an environment's PKI and secrets, so building
        settings for it (or ``down``, ``explain``) passes False."""
        env_option = next(opt for opt in OPTIONS if opt.dest == "env")
        environment = _environment(_resolve(env_option, values.get("env"))[0])
        sourced = {opt.dest: _resolve(opt, values.get(opt.dest), environment) for opt in OPTIONS}
        resolved = {dest: value for dest, (value, _) in sourced.items()}
        where = {dest: source for dest, (_, source) in sourced.items()}
        try:
            secret_env = environment.secret_source(need_file=verifying) if environment else None
        except EnvironmentError_ as error:
            raise SettingsError(str(error)) from None
        contract = load_contract()
        endpoints = contract.endpoints
        host_network = resolved["host_network"] or "auto"
        urls: dict[str, str] = {}
        in_url: dict[str, tuple[tuple[str, str], str] | None] = {}
        for name in ENDPOINTS:
            dest = f"{name}_url"
            url, credential = checked_url(
                where[dest], resolved[dest] or endpoints[dest], endpoints[dest]
            )
            urls[name] = url
            pair = (credential.user, credential.password) if credential else None
            in_url[name] = (pair, where[dest]) if pair else None
        try:
            access = Access(
                tuple(
                    resolve_endpoint(
                        name,
                        urls[name],
                        _tls(resolved, where, name, verifying),
                        names=environment.names_for(name) if environment else None,
                        env=secret_env,
                        fallback_basic=(
                            (lambda: grafana_credentials(env_file_path()))
                            if name == "grafana"
                            else None
                        ),
                        url_basic=in_url[name],
                    )
                    for name in ENDPOINTS
                )
            )
        except AccessError as error:
            raise SettingsError(str(error)) from None
        datasource_url = contract.datasource["url"]
        if resolved["datasource_url"]:
            datasource_url, _ = checked_url(where["datasource_url"], resolved["datasource_url"])
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
            scrape_target=checked_target(
                resolved["scrape_target"] or contract.prometheus["target"], where["scrape_target"]
            ),
            datasource_url=datasource_url.rstrip("/"),
            env_name=environment.name if environment else None,
            bring_up=environment.bring_up if environment else None,
            budget_scale=(
                checked_scale(resolved["budget_scale"], where["budget_scale"])
                if resolved["budget_scale"] is not None
                else 1.0
            ),
            output_format=resolved["format"] or "text",
            metrics_file=checked_metrics_file(resolved["metrics_file"]),
        )

    def redactor(self) -> Redactor:
        """The one redactor of a run: every secret these settings reach the stack with,
        plus the Grafana admin of .env and GRAFANA_AUTH even when a token is used."""
        extra: list[str | Credential] = []
        credentials = grafana_credentials(env_file_path())
        if credentials and credentials[1]:
            extra.append(Credential(*credentials))
        return self.access.redactor(extra)

    @classmethod
    def from_pytest(cls, config: pytest.Config) -> Settings:
        values = {opt.dest: config.getoption(opt.dest) for opt in OPTIONS}
        return cls.from_values(values, verifying=True)


def _tls(resolved: dict[str, Any], where: dict[str, str], endpoint: str, check: bool) -> TLS:
    """An endpoint's TLS files, read and parsed now when ``check``: a bad one is a usage
    error before the first request."""
    tls = TLS(
        ca_file=resolved[f"{endpoint}_ca_file"],
        cert_file=resolved[f"{endpoint}_cert_file"],
        key_file=resolved[f"{endpoint}_key_file"],
        insecure=bool(resolved[f"{endpoint}_insecure"]),
    )
    sources = {kind: where[f"{endpoint}_{kind}"] for kind in ("ca_file", "cert_file", "key_file")}
    if check:
        check_tls_files(tls, sources)
    return tls


def option_schema() -> dict[str, dict[str, Any]]:
    """Each option's entry in the environments schema (shadow_mvs/data/environments_schema.toml)."""
    schema: dict[str, dict[str, Any]] = {}
    for opt in OPTIONS:
        if opt.dest == "env":
            continue
        if opt.is_switch:
            schema[opt.dest] = {"type": "boolean"}
        elif opt.choices:
            schema[opt.dest] = {"type": "string", "enum": list(opt.choices)}
        else:
            schema[opt.dest] = {"type": "string", "minLength": 1}
    return schema


def _environment(name: str | None) -> Environment | None:
    if not name:
        return None
    try:
        return load_environment(name, option_schema())
    except EnvironmentError_ as error:
        raise SettingsError(str(error)) from None


def _from_environment(opt: Option, environment: Environment | None) -> Sourced:
    """An environment's value for an option (its type checked by the schema already)."""
    if environment is None or opt.dest not in environment.values:
        return None, opt.flag
    source = f"{environment.source or 'environments.toml'} [{environment.name}] {opt.dest}"
    return environment.values[opt.dest], source
