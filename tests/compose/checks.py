"""Checks of the compose assets against the contract, as pure functions.

Each function takes an already-parsed document (merged ``docker compose config`` JSON,
a provisioning YAML, the dashboard JSON) and returns a list of problems, empty when
all is well. Tests run them on the real files (expect none) and on deliberately broken
copies (expect the matching problem), which proves every check can turn red.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from shadow_mvs.core.contract import Contract

LOOPBACK = "127.0.0.1"
GRAFANA_CONFIG_ROOT = "/etc/grafana"
DATASOURCE_MOUNT = "/etc/grafana/provisioning/datasources"
PROVIDER_MOUNT = "/etc/grafana/provisioning/dashboards"
PROMETHEUS_CONFIG_MOUNT = "/etc/prometheus"

# Runbook Phase 5's six MVS queries as the dashboard must carry them: the runbook text
# plus the dashboard's variable filters, and clamp_min on the error-rate denominator
# (runbook hardening note). Compared with all whitespace removed.
_EVENTS = 'peak_trade_pipeline_events_total{mode="$mode", exchange=~"$exchange"'
_LATENCY = 'peak_trade_pipeline_latency_seconds_bucket{mode="$mode", exchange=~"$exchange"'
PHASE5_QUERIES = {
    "event throughput": f"sum by (mode, stage) (rate({_EVENTS}}}[5m]))",
    "error rate": (
        f'sum(rate({_EVENTS}, stage="error"}}[5m])) / clamp_min(sum(rate({_EVENTS}}}[5m])), 1e-9)'
    ),
    "risk blocks": 'sum by (mode, reason) (rate(peak_trade_risk_blocks_total{mode="$mode"}[5m]))',
    "latency p95": (
        "histogram_quantile(0.95, sum by (le, mode) "
        f'(rate({_LATENCY}, edge="intent_to_ack"}}[5m])))'
    ),
    "feed gaps": 'sum by (mode, feed) (rate(peak_trade_feed_gaps_total{mode="$mode"}[15m]))',
    "run state": 'sum by (mode, state) (peak_trade_run_state{mode="$mode"})',
}
# Families whose long window is part of the design (runbook: feed gaps over 15m).
LONG_WINDOW_FAMILIES = {"peak_trade_feed_gaps_total": "15m"}
DEFAULT_WINDOW = "5m"
# Panel types that show text, not queries.
QUERYLESS_PANEL_TYPES = {"row", "text"}

VARIABLE_REF = re.compile(r"\$\{(\w+)\}|\$(\w+)")
RANGE_WINDOW = re.compile(r"\[(\w+)\]")
FAMILY_NAME = re.compile(r"\b(shadow_mvs_\w+|peak_trade_\w+)")


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


# --- docker compose config ---------------------------------------------------------


def parse_extra_host(entry: str) -> tuple[str, str]:
    """Compose prints ``host=ip``; files may say ``host:ip``."""
    sep = "=" if "=" in entry else ":"
    host, _, address = entry.partition(sep)
    return host, address


def compose_problems(config: dict[str, Any], project: str) -> list[str]:
    """Project name, init everywhere, every published port on loopback."""
    problems = []
    if config.get("name") != project:
        problems.append(f"project name is {config.get('name')!r}, expected {project!r}")
    for name, service in config["services"].items():
        if service.get("init") is not True:
            problems.append(f"{name}: init is not true (PID 1 would ignore SIGTERM)")
        for port in service.get("ports") or []:
            if port.get("host_ip") != LOOPBACK:
                problems.append(
                    f"{name}: port {port.get('published')} published on "
                    f"{port.get('host_ip') or 'all interfaces'}, expected {LOOPBACK}"
                )
    return problems


def host_network_problems(config: dict[str, Any]) -> list[str]:
    """Every service on the host network, loopback listeners, host bridge to 127.0.0.1."""
    problems = []
    for name, service in config["services"].items():
        if service.get("network_mode") != "host":
            problems.append(f"{name}: network_mode is {service.get('network_mode')!r}, not host")
        if service.get("ports"):
            problems.append(f"{name}: still publishes ports on the host network")
        hosts = [parse_extra_host(e) for e in service.get("extra_hosts") or []]
        if hosts != [("host.docker.internal", LOOPBACK)]:
            problems.append(
                f"{name}: extra_hosts {hosts}, expected host.docker.internal->{LOOPBACK}"
            )
    listen = {
        "prometheus-local": " ".join(
            config["services"].get("prometheus-local", {}).get("command") or []
        ),
        "grafana": str(
            config["services"].get("grafana", {}).get("environment", {}).get("GF_SERVER_HTTP_ADDR")
        ),
        "exporter": str(
            config["services"].get("exporter", {}).get("environment", {}).get("SHADOW_MVS_LISTEN")
        ),
    }
    expected = {
        "prometheus-local": f"--web.listen-address={LOOPBACK}:9092",
        "grafana": LOOPBACK,
        "exporter": f"{LOOPBACK}:9109",
    }
    for name, want in expected.items():
        if want not in listen[name]:
            problems.append(f"{name}: listens on {listen[name]!r}, expected {want!r}")
    return problems


def offline_problems(config: dict[str, Any], image: str) -> list[str]:
    """Nothing built, nothing pulled, every service from the local image."""
    problems = []
    for name, service in config["services"].items():
        if "build" in service:
            problems.append(f"{name}: still has a build section")
        if service.get("pull_policy") != "never":
            problems.append(f"{name}: pull_policy is {service.get('pull_policy')!r}, not never")
        if service.get("image") != image:
            problems.append(f"{name}: image {service.get('image')!r}, expected {image!r}")
    return problems


def grafana_mounts(service: dict[str, Any]) -> dict[str, tuple[str, bool]]:
    """Grafana container paths -> (host source, read-only)."""
    return {
        v["target"]: (v.get("source", ""), bool(v.get("read_only")))
        for v in service.get("volumes") or []
        if v["target"].startswith(GRAFANA_CONFIG_ROOT)
    }


def contract_mount_problems(
    config: dict[str, Any], contract: Contract, repo_root: Path
) -> list[str]:
    """The contract's provisioning files and Prometheus config are what the containers see."""
    problems = []
    grafana = grafana_mounts(config["services"]["grafana"])
    dashboard = contract.dashboard
    wanted = {
        DATASOURCE_MOUNT: (repo_root / contract.datasource["file"]).parent,
        PROVIDER_MOUNT: (repo_root / dashboard["provider_file"]).parent,
    }
    for target, host_dir in wanted.items():
        source = grafana.get(target, ("", False))[0]
        if Path(source) != host_dir:
            problems.append(f"grafana: {target} mounts {source or 'nothing'}, expected {host_dir}")
    provider_path = dashboard["provider_path"]
    source = grafana.get(provider_path, ("", False))[0]
    dashboard_file = (repo_root / dashboard["file"]).resolve()
    if not source or not dashboard_file.is_relative_to(Path(source).resolve()):
        problems.append(
            f"grafana: {provider_path} mounts {source or 'nothing'}, not {dashboard_file}"
        )
    for target, (_source, read_only) in grafana.items():
        if not read_only:
            problems.append(f"grafana: {target} is mounted read-write")
    prometheus_volumes = config["services"]["prometheus-local"].get("volumes") or []
    sources = [
        v.get("source") for v in prometheus_volumes if v["target"] == PROMETHEUS_CONFIG_MOUNT
    ]
    config_dir = (repo_root / contract.prometheus["config_file"]).parent
    if [Path(s) for s in sources if s] != [config_dir]:
        problems.append(
            f"prometheus-local: {PROMETHEUS_CONFIG_MOUNT} mounts {sources}, expected {config_dir}"
        )
    return problems


# --- Prometheus config --------------------------------------------------------------


def prometheus_config_problems(doc: dict[str, Any], contract: Contract) -> list[str]:
    problems = []
    interval = f"{contract.prometheus['scrape_interval_s']}s"
    for key in ("scrape_interval", "evaluation_interval"):
        if doc.get("global", {}).get(key) != interval:
            problems.append(
                f"global.{key} is {doc.get('global', {}).get(key)!r}, expected {interval}"
            )
    jobs = {job["job_name"]: job for job in doc.get("scrape_configs") or []}
    job = jobs.get(contract.prometheus["job"])
    if job is None:
        return [*problems, f"no scrape job {contract.prometheus['job']!r} (jobs: {sorted(jobs)})"]
    targets = [t for sc in job.get("static_configs") or [] for t in sc.get("targets") or []]
    if targets != [contract.prometheus["target"]]:
        problems.append(f"job targets {targets}, expected [{contract.prometheus['target']!r}]")
    if job.get("scrape_interval", interval) != interval:
        problems.append(f"job scrape_interval {job.get('scrape_interval')!r}, expected {interval}")
    for rule_file in doc.get("rule_files") or []:
        if Path(rule_file).is_absolute():
            problems.append(
                f"rule file {rule_file!r} is absolute; it must be relative to the config"
            )
    return problems


# --- Grafana provisioning -----------------------------------------------------------


def datasource_problems(
    doc: dict[str, Any], contract: Contract, url: str | None = None
) -> list[str]:
    """One default prometheus datasource with the contract's name, uid and URL."""
    want = contract.datasource
    want_url = url or want["url"]
    if doc.get("apiVersion") != 1:
        return [f"apiVersion is {doc.get('apiVersion')!r}: Grafana would ignore uid and isDefault"]
    sources = doc.get("datasources") or []
    if len(sources) != 1:
        return [f"{len(sources)} datasources, expected exactly one"]
    ds = sources[0]
    expected = {
        "name": want["name"],
        "uid": want["uid"],
        "type": want["type"],
        "url": want_url,
        "isDefault": want["is_default"],
        "access": "proxy",
        "editable": False,
    }
    problems = [
        f"datasource {key} is {ds.get(key)!r}, expected {value!r}"
        for key, value in expected.items()
        if ds.get(key) != value
    ]
    json_data = ds.get("jsonData") or {}
    interval = f"{contract.prometheus['scrape_interval_s']}s"
    if json_data.get("timeInterval") != interval:
        problems.append(
            f"jsonData.timeInterval is {json_data.get('timeInterval')!r}, expected {interval}"
        )
    if json_data.get("httpMethod") != "POST":
        problems.append(f"jsonData.httpMethod is {json_data.get('httpMethod')!r}, expected POST")
    return problems


def provider_problems(doc: dict[str, Any], contract: Contract) -> list[str]:
    want = contract.dashboard
    if doc.get("apiVersion") != 1:
        return [f"apiVersion is {doc.get('apiVersion')!r}, expected 1"]
    providers = doc.get("providers") or []
    if len(providers) != 1:
        return [f"{len(providers)} providers, expected exactly one"]
    provider = providers[0]
    expected = {
        "folder": want["folder"],
        "type": "file",
        "allowUiUpdates": False,
        "disableDeletion": True,
        "updateIntervalSeconds": 10,
    }
    problems = [
        f"provider {key} is {provider.get(key)!r}, expected {value!r}"
        for key, value in expected.items()
        if provider.get(key) != value
    ]
    path = (provider.get("options") or {}).get("path")
    if path != want["provider_path"]:
        problems.append(f"provider options.path is {path!r}, expected {want['provider_path']!r}")
    return problems


# --- Dashboard ----------------------------------------------------------------------


def walk_panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those tucked into collapsed rows."""
    for panel in dashboard.get("panels") or []:
        yield panel
        yield from panel.get("panels") or []


def panel_exprs(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, expr) for every query target."""
    return [
        (str(panel.get("title")), str(target["expr"]))
        for panel in walk_panels(dashboard)
        for target in panel.get("targets") or []
        if "expr" in target
    ]


def substitute_variables(expr: str, values: dict[str, str]) -> str:
    """Fill ``$name`` / ``${name}`` as Grafana would; unknown names stay visible."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return values.get(name, match.group(0))

    return VARIABLE_REF.sub(fill, expr)


def _datasource_ref_problem(where: str, ref: Any, uid: str) -> str | None:
    want = {"type": "prometheus", "uid": uid}
    if ref != want:
        return f"{where}: datasource {ref!r}, expected {want!r}"
    return None


def dashboard_problems(dashboard: dict[str, Any], contract: Contract, raw_text: str) -> list[str]:
    want = contract.dashboard
    uid = contract.datasource["uid"]
    problems = []
    for key, value in (("uid", want["uid"]), ("title", want["title"]), ("schemaVersion", 39)):
        if dashboard.get(key) != value:
            problems.append(f"dashboard {key} is {dashboard.get(key)!r}, expected {value!r}")
    if dashboard.get("id") not in (None, 0):
        problems.append(f"dashboard id is {dashboard.get('id')!r}; provisioned files carry none")
    if "${DS_" in raw_text:
        problems.append("a ${DS_...} import placeholder is left in the file")
    refresh = str(dashboard.get("refresh", ""))
    if not re.fullmatch(r"\d+[smhd]", refresh) or _seconds(refresh) < 5:
        problems.append(f"refresh {refresh!r} is not a duration of at least 5s")
    if dashboard.get("time", {}).get("from") != "now-1h":
        problems.append(f"time.from is {dashboard.get('time', {}).get('from')!r}, expected now-1h")

    problems += _variable_problems(dashboard, contract)

    rows = [p.get("title") for p in dashboard.get("panels") or [] if p.get("type") == "row"]
    if rows != list(want["row_groups"]):
        problems.append(f"row panels {rows}, expected {list(want['row_groups'])}")
    ids = [p.get("id") for p in walk_panels(dashboard)]
    if len(ids) != len(set(ids)):
        problems.append(f"panel ids are not unique: {ids}")

    for panel in walk_panels(dashboard):
        title = panel.get("title")
        if panel.get("type") in QUERYLESS_PANEL_TYPES:
            continue
        if not panel.get("targets"):
            problems.append(f"panel {title!r} has no query")
        problem = _datasource_ref_problem(f"panel {title!r}", panel.get("datasource"), uid)
        if problem:
            problems.append(problem)
        for target in panel.get("targets") or []:
            where = f"panel {title!r} target {target.get('refId')}"
            problem = _datasource_ref_problem(where, target.get("datasource"), uid)
            if problem:
                problems.append(problem)

    problems += _query_problems(panel_exprs(dashboard), contract)
    return problems


def _seconds(duration: str) -> int:
    unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}[duration[-1]]
    return int(duration[:-1]) * unit


def _variable_problems(dashboard: dict[str, Any], contract: Contract) -> list[str]:
    problems = []
    uid = contract.datasource["uid"]
    variables = {v.get("name"): v for v in (dashboard.get("templating") or {}).get("list") or []}
    if list(variables) != list(contract.dashboard["variables"]):
        problems.append(f"variables {list(variables)}, expected {contract.dashboard['variables']}")
    for name in contract.dashboard["variables"]:
        var = variables.get(name)
        if var is None:
            continue
        if var.get("type") != "query":
            problems.append(f"variable {name}: type {var.get('type')!r}, expected query")
        query = var.get("query")
        text = query.get("query") if isinstance(query, dict) else query
        if not str(text).startswith("label_values(peak_trade_pipeline_events_total") or not str(
            text
        ).endswith(f", {name})"):
            problems.append(
                f"variable {name}: query {text!r} is not label_values(<events>, {name})"
            )
        problem = _datasource_ref_problem(f"variable {name}", var.get("datasource"), uid)
        if problem:
            problems.append(problem)
        default = contract.variables[name]
        current = (var.get("current") or {}).get("value")
        if current != default:
            problems.append(f"variable {name}: default {current!r}, expected {default!r}")
    return problems


def _query_problems(exprs: list[tuple[str, str]], contract: Contract) -> list[str]:
    problems = []
    squashed = {_squash(expr) for _, expr in exprs}
    for meaning, query in PHASE5_QUERIES.items():
        if _squash(query) not in squashed:
            problems.append(f"Phase 5 query '{meaning}' missing: {query}")
    families = {f.name: f for f in contract.families}
    for title, expr in exprs:
        where = f"panel {title!r}"
        for window in RANGE_WINDOW.findall(expr):
            names = set(FAMILY_NAME.findall(expr))
            allowed = {LONG_WINDOW_FAMILIES.get(n, DEFAULT_WINDOW) for n in names} or {
                DEFAULT_WINDOW
            }
            if window not in allowed:
                problems.append(f"{where}: window [{window}], expected {sorted(allowed)}")
        for name in set(FAMILY_NAME.findall(expr)):
            family = families.get(re.sub(r"_(bucket|sum|count)$", "", name))
            if family is None:
                problems.append(f"{where}: {name} is not a contract family")
                continue
            if 'mode="$mode"' not in expr:
                problems.append(f'{where}: {name} not filtered by mode="$mode"')
            if "exchange" in family.labels and 'exchange=~"$exchange"' not in expr:
                problems.append(f'{where}: {name} not filtered by exchange=~"$exchange"')
        if 'stage="error"' in expr and "/" in expr and "clamp_min(" not in expr:
            problems.append(f"{where}: error-rate denominator without clamp_min(..., 1e-9)")
    return problems
