"""The compose file sets, as ``docker compose config --format json`` merges them: the project
the contract names, safe to run on a laptop (init, loopback only), the host-network and
offline overrides doing what they promise, and the contract's files mounted read-only where
the containers read them. No running check reads these: every finding is a design finding.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shadow_mvs.core.causes import Finding
from shadow_mvs.core.contract import Contract

LOOPBACK = "127.0.0.1"
HOST_BRIDGE = "host.docker.internal"
GRAFANA_CONFIG_ROOT = "/etc/grafana"
DATASOURCE_MOUNT = "/etc/grafana/provisioning/datasources"
PROVIDER_MOUNT = "/etc/grafana/provisioning/dashboards"
PROMETHEUS_CONFIG_MOUNT = "/etc/prometheus"
# Where each service is told to listen on the host network: loopback, never all interfaces.
HOST_NETWORK_LISTENERS = {
    "prometheus-local": f"--web.listen-address={LOOPBACK}:9092",
    "grafana": LOOPBACK,
    "exporter": f"{LOOPBACK}:9109",
}


def parse_extra_host(entry: str) -> tuple[str, str]:
    """Compose prints ``host=ip``; files may say ``host:ip``."""
    sep = "=" if "=" in entry else ":"
    host, _, address = entry.partition(sep)
    return host, address


def project_findings(config: dict[str, Any], project: str) -> list[Finding]:
    """Project name, init everywhere (PID 1 forwards SIGTERM), every published port on
    loopback."""
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
    return [Finding(None, problem) for problem in problems]


def _listener(name: str, service: dict[str, Any]) -> str:
    if name == "prometheus-local":
        return " ".join(service.get("command") or [])
    variable = {"grafana": "GF_SERVER_HTTP_ADDR", "exporter": "SHADOW_MVS_LISTEN"}[name]
    return str((service.get("environment") or {}).get(variable))


def host_network_findings(config: dict[str, Any]) -> list[Finding]:
    """Every service on the host network, listening on loopback, the host bridge name
    pointing at 127.0.0.1 (so the contract URLs hold unchanged)."""
    problems = []
    services = config["services"]
    for name, service in services.items():
        if service.get("network_mode") != "host":
            problems.append(f"{name}: network_mode is {service.get('network_mode')!r}, not host")
        if service.get("ports"):
            problems.append(f"{name}: still publishes ports on the host network")
        hosts = [parse_extra_host(e) for e in service.get("extra_hosts") or []]
        if hosts != [(HOST_BRIDGE, LOOPBACK)]:
            problems.append(f"{name}: extra_hosts {hosts}, expected {HOST_BRIDGE}->{LOOPBACK}")
    for name, want in HOST_NETWORK_LISTENERS.items():
        listen = _listener(name, services.get(name, {}))
        if want not in listen:
            problems.append(f"{name}: listens on {listen!r}, expected {want!r}")
    return [Finding(None, problem) for problem in problems]


def offline_findings(config: dict[str, Any], image: str) -> list[Finding]:
    """Nothing built, nothing pulled, every service from the local image."""
    problems = []
    for name, service in config["services"].items():
        if "build" in service:
            problems.append(f"{name}: still has a build section")
        if service.get("pull_policy") != "never":
            problems.append(f"{name}: pull_policy is {service.get('pull_policy')!r}, not never")
        if service.get("image") != image:
            problems.append(f"{name}: image {service.get('image')!r}, expected {image!r}")
    return [Finding(None, problem) for problem in problems]


def grafana_mounts(service: dict[str, Any]) -> dict[str, tuple[str, bool]]:
    """Grafana container paths -> (host source, read-only)."""
    return {
        v["target"]: (v.get("source", ""), bool(v.get("read_only")))
        for v in service.get("volumes") or []
        if v["target"].startswith(GRAFANA_CONFIG_ROOT)
    }


def mount_findings(config: dict[str, Any], contract: Contract, repo_root: Path) -> list[Finding]:
    """The contract's provisioning files and Prometheus config are what the containers see,
    and Grafana cannot write to any of them."""
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
    return [Finding(None, problem) for problem in problems]
